# ruff: noqa: C408 - the case table reads better as dict(...) rows
"""The catalogue's cases (compliant, noncompliant, missing property) for the rule that
catches a domain in two stacks of a sharded fleet (policies/mailinfra_policy/relay.py
ses-identity-once); tests/test_policies_catalogue.py runs them with every other rule's."""

from __future__ import annotations

from typing import Any

ID = "aws:sesv2/emailIdentity:EmailIdentity"


def identity(name: str, domain: str, region: str = "eu-west-1") -> dict[str, Any]:
    return {"type": ID, "name": name, "props": {"emailIdentity": domain, "region": region}}


CASES: dict[str, dict[str, Any]] = {
    "ses-identity-once": dict(
        kind="stack",
        # two domains, and one domain in two regions (separate SES identities)
        compliant=[
            identity("a", "news.example.com"),
            identity("b", "offers.example.com"),
            identity("c", "news.example.com", "eu-central-1"),
        ],
        # the same domain twice in one region, spelled differently (a domain in two shards)
        noncompliant=[identity("a", "news.example.com"), identity("b", "News.Example.com.")],
        # no name: the plan cannot tell which domain it is
        missing=[
            {"type": ID, "name": "a", "props": {"region": "eu-west-1"}},
            {"type": ID, "name": "b", "props": {"region": "eu-west-1"}},
        ],
        missing_count=0,
    ),
}
