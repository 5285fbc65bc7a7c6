# ruff: noqa: C408 - the case table reads better as dict(...) rows
"""The catalogue's cases (compliant, noncompliant, missing property) for the quota budget
(policies/mailinfra_policy/quotas.py); tests/test_policies_catalogue.py runs them with
every other rule's, including the environment and policy-config overrides."""

from __future__ import annotations

from typing import Any

KEY = "aws:iam/accessKey:AccessKey"
DIST = "aws:cloudfront/distribution:Distribution"
RECORD = "aws:route53/record:Record"


def res(type_: str, name: str, props: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": type_, "name": name, "props": props, **extra}


def keys(user: str, n: int) -> list[dict[str, Any]]:
    return [res(KEY, f"{user}-key-{i}", {"user": user}) for i in range(n)]


def distributions(n: int) -> list[dict[str, Any]]:
    return [res(DIST, f"dist-{i}", {"enabled": True}) for i in range(n)]


CASES: dict[str, dict[str, Any]] = {
    "aws-quota-budget": dict(
        kind="stack",
        # two keys per user (IAM's fixed quota) and distributions within the stated quota
        compliant=[*keys("sender-a", 2), *keys("sender-b", 2), *distributions(2)],
        stack_config={"mailinfra:quotas": {"cloudfrontDistributions": 2}},
        # a third key for one user (fixed quota), three distributions over the stated two
        noncompliant=[*keys("sender-a", 3), *distributions(3)],
        # no user, no zone id and nothing they depend on: the plan cannot tell where they count
        missing=[*[res(KEY, f"k{i}", {}) for i in range(3)], *[res(RECORD, f"r{i}", {"type": "TXT"}) for i in range(3)]],
        missing_count=0,
    ),
}
