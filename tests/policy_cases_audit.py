# ruff: noqa: C408 - the case table reads better as dict(...) rows
"""The catalogue's cases (compliant, noncompliant, missing property) for the account audit
rules of policies/mailinfra_policy/audit.py; tests/test_policies_catalogue.py runs them
with every other rule's, including the environment and policy-config overrides."""

from __future__ import annotations

import json
from typing import Any

TRAIL = "aws:cloudtrail/trail:Trail"
BUCKET = "aws:s3/bucket:Bucket"
LOCK = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
POLICY = "aws:s3/bucketPolicy:BucketPolicy"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
DETECTOR = "aws:guardduty/detector:Detector"
RECORDER = "aws:cfg/recorder:Recorder"
STATUS = "aws:cfg/recorderStatus:RecorderStatus"
RULE = "aws:cfg/rule:Rule"
RECORD = "aws:route53/record:Record"
QUERY_LOG = "aws:route53/queryLog:QueryLog"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
GROUP_POLICY = "aws:iam/groupPolicy:GroupPolicy"
USER_POLICY = "aws:iam/userPolicy:UserPolicy"
PASSWORD = "aws:iam/accountPasswordPolicy:AccountPasswordPolicy"
IDENTITY = "aws:sesv2/emailIdentity:EmailIdentity"
KMS = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
ORG_TRAIL = "arn:aws:cloudtrail:eu-west-1:999999999999:trail/organization"


def res(type_: str, name: str, props: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": type_, "name": name, "props": props, **extra}


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


TLS_ONLY = doc(
    {
        "Sid": "DenyWithoutTls",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": ["arn:aws:s3:::audit", "arn:aws:s3:::audit/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
)
ALL_BLOCKED = {"blockPublicAcls": True, "blockPublicPolicy": True, "ignorePublicAcls": True, "restrictPublicBuckets": True}
GOOD_TRAIL = {"isMultiRegionTrail": True, "enableLogFileValidation": True, "kmsKeyId": KMS, "s3BucketName": "audit"}


def audit_bucket(mode: str = "COMPLIANCE", status: str = "Enabled") -> list[dict[str, Any]]:
    on = {"bucket": ["audit"]}
    return [
        res(BUCKET, "audit", {"bucket": "audit", "objectLockEnabled": True}),
        res(LOCK, "lock", {"rule": {"defaultRetention": {"mode": mode, "days": 365}}}, prop_deps=on),
        res(VERSIONING, "versioning", {"versioningConfiguration": {"status": status}}, prop_deps=on),
        res(PAB, "block", dict(ALL_BLOCKED), prop_deps=on),
        res(POLICY, "policy", {"policy": TLS_ONLY}, prop_deps=on),
        res(TRAIL, "trail", dict(GOOD_TRAIL)),
    ]


MFA_DENY = {
    "Sid": "DenyAllExceptListedIfNoMFA",
    "Effect": "Deny",
    "NotAction": ["iam:CreateVirtualMFADevice", "iam:EnableMFADevice", "iam:GetUser", "sts:GetSessionToken"],
    "Resource": "*",
    "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
}
GOOD_PASSWORDS = {
    "minimumPasswordLength": 14,
    "passwordReusePrevention": 24,
    "requireLowercaseCharacters": True,
    "requireUppercaseCharacters": True,
    "requireNumbers": True,
    "requireSymbols": True,
}
SEND = {
    "Effect": "Allow",
    "Action": ["ses:SendRawEmail", "ses:SendEmail"],
    "Resource": ["arn:aws:ses:eu-west-1:123456789012:identity/example.com"],
    "Condition": {"StringLike": {"ses:FromAddress": "*@example.com"}},
}
SEND_VPCE = dict(SEND, Condition={**SEND["Condition"], "StringEquals": {"aws:SourceVpce": "vpce-0123456789abcdef0"}})
SMTP_ENDPOINT = {"serviceName": "com.amazonaws.eu-west-1.email-smtp", "vpcId": "vpc-0a1b2c3d"}
# account-level controls are asked of a program that sends (an SES identity)
SENDER = res(IDENTITY, "identity", {"emailIdentity": "example.com"})
DKIM_RECORD = {"zoneId": "Z1", "name": "s1._domainkey.example.com", "type": "TXT", "records": ["v=DKIM1; p="]}

CASES: dict[str, dict[str, Any]] = {
    "cloudtrail-trail": dict(
        kind="stack",
        compliant=[res(TRAIL, "trail", dict(GOOD_TRAIL))],
        noncompliant=[res(TRAIL, "trail", dict(GOOD_TRAIL, isMultiRegionTrail=False))],
        missing=[res(TRAIL, "trail", {})],
        missing_count=3,  # not multi-region, no validation, no CMK
    ),
    "audit-bucket-object-lock": dict(
        kind="stack",
        compliant=audit_bucket(),
        noncompliant=audit_bucket(mode="GOVERNANCE"),
        missing=[res(BUCKET, "audit", {}), res(TRAIL, "trail", {}, deps=["audit"])],
        missing_count=4,  # no Object Lock, no versioning, no public access block, no TLS-only policy
    ),
    "s3-bucket-private-encrypted": dict(
        kind="stack",
        compliant=[
            res(BUCKET, "b", {"bucket": "b"}),
            res(PAB, "b-block", dict(ALL_BLOCKED), prop_deps={"bucket": ["b"]}),
            res(SSE, "b-sse", {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]}, deps=["b"]),
        ],
        noncompliant=[
            res(BUCKET, "b", {"bucket": "b"}),
            res(PAB, "b-block", dict(ALL_BLOCKED, restrictPublicBuckets=False), prop_deps={"bucket": ["b"]}),
            res(SSE, "b-sse", {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}]}, deps=["b"]),
        ],
        missing=[res(BUCKET, "b", {})],
        missing_count=2,  # no public access block, no encryption configuration
    ),
    "guardduty-enabled": dict(
        kind="stack",
        compliant=[res(DETECTOR, "gd", {"enable": True})],
        noncompliant=[res(DETECTOR, "gd", {"enable": False})],
        missing=[res(DETECTOR, "gd", {})],  # GuardDuty enables a detector by default
        missing_count=0,
    ),
    "config-recorder-enabled": dict(
        kind="stack",
        compliant=[
            res(RECORDER, "rec", {"name": "r"}),
            res(STATUS, "status", {"name": "r", "isEnabled": True}),
            res(RULE, "rule", {"source": {"owner": "AWS", "sourceIdentifier": "CLOUD_TRAIL_ENABLED"}}),
        ],
        noncompliant=[
            res(RECORDER, "rec", {"name": "r"}),
            res(STATUS, "status", {"name": "r", "isEnabled": False}),
            res(RULE, "rule", {"source": {"owner": "AWS", "sourceIdentifier": "CLOUD_TRAIL_ENABLED"}}),
        ],
        missing=[res(RECORDER, "rec", {})],
        missing_count=2,  # never started, no rules
    ),
    "route53-query-logging": dict(
        kind="stack",
        compliant=[res(RECORD, "dkim", dict(DKIM_RECORD)), res(QUERY_LOG, "ql", {"zoneId": "Z1"})],
        noncompliant=[res(RECORD, "dkim", dict(DKIM_RECORD)), res(QUERY_LOG, "ql", {"zoneId": "Z2"})],
        missing=[res(RECORD, "r", {"type": "TXT"})],
        missing_count=0,
    ),
    "vpc-flow-logs-smtp-endpoint": dict(
        kind="stack",
        compliant=[res(ENDPOINT, "smtp", dict(SMTP_ENDPOINT)), res(FLOW_LOG, "fl", {"vpcId": "vpc-0a1b2c3d"})],
        noncompliant=[res(ENDPOINT, "smtp", dict(SMTP_ENDPOINT))],
        missing=[res(ENDPOINT, "smtp", {})],
        missing_count=0,
    ),
    "iam-operators-mfa": dict(
        kind="stack",
        compliant=[SENDER, res(GROUP_POLICY, "ops", {"group": "ops", "policy": doc(MFA_DENY)})],
        noncompliant=[SENDER, res(GROUP_POLICY, "ops", {"group": "ops", "policy": doc(dict(MFA_DENY, NotAction=["iam:*"]))})],
        missing=[SENDER, res(GROUP_POLICY, "ops", {"group": "ops"})],
        missing_count=1,
    ),
    "iam-account-password-policy": dict(
        kind="stack",
        compliant=[res(PASSWORD, "pw", dict(GOOD_PASSWORDS))],
        noncompliant=[res(PASSWORD, "pw", dict(GOOD_PASSWORDS, minimumPasswordLength=8))],
        missing=[res(PASSWORD, "pw", {})],
        missing_count=6,  # length, reuse and the four character classes
    ),
    "iam-ses-send-source-bound": dict(
        kind="resource",
        type=USER_POLICY,
        compliant={"user": "smtp", "policy": doc(SEND_VPCE)},
        noncompliant={"user": "smtp", "policy": doc(SEND)},
        missing={"user": "smtp"},
        missing_count=0,
    ),
}
