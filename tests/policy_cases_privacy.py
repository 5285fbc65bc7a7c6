# ruff: noqa: C408 - the case table reads better as dict(...) rows
"""The catalogue's cases (compliant, noncompliant, missing property) for the privacy rules
of policies/mailinfra_policy/privacy.py; tests/test_policies_catalogue.py runs them with
every other rule's, including the environment and policy-config overrides."""

from __future__ import annotations

from typing import Any

ID = "aws:sesv2/emailIdentity:EmailIdentity"
BUCKET = "aws:s3/bucket:Bucket"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
BASE = {"postalAddress": "Example Corp, 1 Main Street, Dublin", "unsubscribeUrl": "https://example.com/unsubscribe"}


def res(type_: str, name: str, props: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": type_, "name": name, "props": props, **extra}


def compliance(**facts: Any) -> dict[str, Any]:
    return {"mailinfra:compliance": {**BASE, **facts}}


def lifecycle(name: str, bucket: str, *rules: dict[str, Any]) -> dict[str, Any]:
    return res(LIFECYCLE, name, {"bucket": bucket, "rules": list(rules)}, prop_deps={"bucket": [bucket]})


def expire(days: int, **extra: Any) -> dict[str, Any]:
    return {"id": "r", "status": "Enabled", "filter": {"prefix": ""}, "expiration": {"days": days}, **extra}


IDENTITY = [res(ID, "id", {"emailIdentity": "example.com"})]
CASES: dict[str, dict[str, Any]] = {
    "compliance-lawful-basis": dict(
        kind="stack",
        stack_config=compliance(lawfulBasis="consent"),
        compliant=IDENTITY,
        noncompliant=IDENTITY,
        noncompliant_stack_config=compliance(lawfulBasis="contract"),
        missing=IDENTITY,
        missing_stack_config=compliance(),
        missing_count=1,
    ),
    "compliance-ccpa-opt-out": dict(
        kind="stack",
        stack_config=compliance(audiences=["EU", "US-CA"], ccpaOptOutUrl="https://example.com/do-not-sell"),
        compliant=IDENTITY,
        noncompliant=IDENTITY,
        noncompliant_stack_config=compliance(audiences=["US"], ccpaOptOutUrl="http://example.com/do-not-sell"),
        missing=IDENTITY,
        missing_stack_config=compliance(audiences=["US-CA"]),
        missing_count=1,
    ),
    "compliance-personal-data-retention": dict(
        kind="stack",
        compliant=[
            res(BUCKET, "archive", {}),
            lifecycle("archive-lc", "archive", expire(400)),
            res(BUCKET, "logs", {"objectLockEnabled": True}),
            lifecycle("logs-lc", "logs", expire(365, noncurrentVersionExpiration={"noncurrentDays": 1})),
            # public content CloudFront serves (the MTA-STS policy file): not personal data
            res(BUCKET, "site", {}),
            res(DISTRIBUTION, "cdn", {}, prop_deps={"origins": ["site"]}),
        ],
        noncompliant=[
            res(BUCKET, "archive", {}),
            lifecycle("archive-lc", "archive", expire(5000)),
            res(BUCKET, "intake", {}),
            lifecycle("intake-lc", "intake", expire(30, filter={"prefix": "dmarc/"})),
            res(BUCKET, "logs", {}),
            res(
                VERSIONING,
                "logs-v",
                {"bucket": "logs", "versioningConfiguration": {"status": "Enabled"}},
                prop_deps={"bucket": ["logs"]},
            ),
            lifecycle("logs-lc", "logs", expire(365)),
        ],
        missing=[res(BUCKET, "archive", {})],
        missing_count=1,
    ),
}
