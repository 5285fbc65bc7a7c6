# ruff: noqa: C408 - the case table reads better as dict(...) rows
"""The catalogue's cases (compliant, noncompliant, missing property) for the feedback-loop
rules of policies/mailinfra_policy/events.py; tests/test_policies_catalogue.py runs them
with every other rule's, including the environment and policy-config overrides."""

from __future__ import annotations

from typing import Any

CS = "aws:sesv2/configurationSet:ConfigurationSet"
ED = "aws:sesv2/configurationSetEventDestination:ConfigurationSetEventDestination"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
QUEUE = "aws:sqs/queue:Queue"
FIREHOSE = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
BUCKET = "aws:s3/bucket:Bucket"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
RULE = "aws:ses/receiptRule:ReceiptRule"
RULE_SET = "aws:ses/receiptRuleSet:ReceiptRuleSet"
KMS = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:alerts"
BUS = "arn:aws:events:eu-west-1:123456789012:event-bus/default"
CONSENT = {"mailinfra:events": {"tracking": {"open": True, "consentRecorded": True}}}


def res(type_: str, name: str, props: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": type_, "name": name, "props": props, **extra}


def destination(name: str, set_name: str, types: list[str], enabled: bool = True) -> dict[str, Any]:
    ed = {"enabled": enabled, "matchingEventTypes": types, "eventBridgeDestination": {"eventBusArn": BUS}}
    return res(ED, name, {"configurationSetName": set_name, "eventDestination": ed})


def alarm(name: str, metric: str, threshold: float, set_name: str | None = None, **props: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "namespace": "AWS/SES",
        "metricName": metric,
        "threshold": threshold,
        "comparisonOperator": "GreaterThanOrEqualToThreshold",
        "alarmActions": [TOPIC],
        **props,
    }
    if set_name is not None:
        body["dimensions"] = {"ses:configuration-set": set_name}
    return res(ALARM, name, body)


ACCOUNT_ALARMS = [
    alarm("acct-bounce", "Reputation.BounceRate", 0.04),
    alarm("acct-complaint", "Reputation.ComplaintRate", 0.0008),
]
SET_ALARMS = [
    alarm("set-bounce", "Reputation.BounceRate", 0.04, "mail"),
    alarm("set-complaint", "Reputation.ComplaintRate", 0.0008, "mail"),
]
ARCHIVE = [
    res(BUCKET, "archive", {"bucket": "archive"}),
    res(
        SSE,
        "archive-sse",
        {
            "bucket": "archive",
            "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": KMS}}],
        },
        prop_deps={"bucket": ["archive"]},
    ),
    res(
        FIREHOSE,
        "stream",
        {
            "destination": "extended_s3",
            "serverSideEncryption": {"enabled": True, "keyType": "CUSTOMER_MANAGED_CMK", "keyArn": KMS},
            "extendedS3Configuration": {"bucketArn": "arn:aws:s3:::archive", "kmsKeyArn": KMS},
        },
        prop_deps={"extendedS3Configuration": ["archive"]},
    ),
]
INTAKE_SSE_AES = res(
    SSE,
    "intake-sse",
    {"bucket": "intake", "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]},
    prop_deps={"bucket": ["intake"]},
)

CASES: dict[str, dict[str, Any]] = {
    "ses-event-destination-bounce-complaint": dict(
        kind="stack",
        compliant=[res(CS, "cs", {"configurationSetName": "mail"}), destination("ed", "mail", ["SEND", "BOUNCE", "COMPLAINT"])],
        noncompliant=[
            res(CS, "cs", {"configurationSetName": "mail"}),
            destination("ed", "mail", ["BOUNCE", "COMPLAINT"], enabled=False),
            destination("ed2", "mail", ["DELIVERY", "BOUNCE"]),
        ],
        missing=[res(CS, "cs", {"configurationSetName": "mail"}), res(ED, "ed", {"configurationSetName": "mail"})],
        missing_count=1,
    ),
    "ses-reputation-alarms": dict(
        kind="stack",
        compliant=[res(CS, "cs", {"configurationSetName": "mail"}), *ACCOUNT_ALARMS, *SET_ALARMS],
        noncompliant=[
            res(CS, "cs", {"configurationSetName": "mail"}),
            *ACCOUNT_ALARMS,
            alarm("set-bounce", "Reputation.BounceRate", 0.05, "mail"),  # at SES's review rate: too late
            alarm("set-complaint", "Reputation.ComplaintRate", 0.0008, "mail", alarmActions=[]),
        ],
        missing=[res(CS, "cs", {"configurationSetName": "mail"})],
        missing_count=4,
    ),
    "feedback-data-cmk-encrypted": dict(
        kind="stack",
        compliant=[res(QUEUE, "queue", {"kmsMasterKeyId": KMS}), *ARCHIVE],
        noncompliant=[
            res(QUEUE, "queue", {"kmsMasterKeyId": "alias/aws/sqs"}),
            res(BUCKET, "intake", {"bucket": "intake"}),
            INTAKE_SSE_AES,
            res(RULE, "rule", {"ruleSetName": "r", "s3Actions": [{"bucketName": "intake", "position": 1}]}),
        ],
        missing=[res(QUEUE, "queue", {}), res(FIREHOSE, "stream", {"destination": "extended_s3"})],
        missing_count=2,
    ),
    "ses-open-click-tracking-consent": dict(
        kind="resource",
        type=ED,
        compliant={"eventDestination": {"matchingEventTypes": ["BOUNCE", "OPEN", "CLICK"]}},
        compliant_stack_config=CONSENT,
        noncompliant={"eventDestination": {"matchingEventTypes": ["BOUNCE", "OPEN"]}},
        missing={},
        missing_count=0,
    ),
    "ses-receiving-region": dict(
        kind="resource",
        type=RULE_SET,
        compliant={"ruleSetName": "r", "region": "eu-west-1"},
        noncompliant={"ruleSetName": "r", "region": "eu-south-1"},
        missing={"ruleSetName": "r"},
        missing_count=0,
    ),
}
