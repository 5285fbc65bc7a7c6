"""The feedback loop's components: SesEvents, ReputationAlarms, ReportIntake, and their config."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mailinfra.components.buckets import bucket_policy
from mailinfra.components.config import ConfigError, parse_config
from mailinfra.components.events import EventsArgsError, SesEvents, SesEventsArgs, event_types, queue_policy
from mailinfra.components.intake import IntakeArgsError, ReportIntake, ReportIntakeArgs, intake_records, ses_put_statement
from mailinfra.components.reputation import ReputationAlarms, ReputationAlarmsArgs, ReputationArgsError, alarm_specs
from mailinfra.policies.mailinfra_policy.standards import aws
from tests.helpers import build

KMS = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:alerts"
TAGS = {"owner": "mail", "environment": "prod", "data-classification": "internal"}
SETS = (("mail-example-com", "mail-example-com-relay"), ("news-example-org", "news-example-org-relay"))


def _events(**over: Any) -> SesEventsArgs:
    base: dict[str, Any] = dict(
        region="eu-west-1", account_id="123456789012", kms_key_arn=KMS, configuration_sets=SETS, tags=TAGS
    )
    base.update(over)
    return SesEventsArgs(**base)


def _one(mocks: Any, type_: str) -> Any:
    found = mocks.of_type(type_)
    assert len(found) == 1, f"{type_}: {len(found)}"
    return found[0]


# ------------------------------------------------------------------- standards


def test_receiving_regions_and_inbound_host() -> None:
    assert aws.ses_inbound_smtp_host("eu-west-1") == "inbound-smtp.eu-west-1.amazonaws.com"
    assert aws.is_ses_receiving_region("eu-central-1") and not aws.is_ses_receiving_region("eu-south-1")
    with pytest.raises(aws.AwsError, match="does not receive email in AWS region 'eu-south-1'"):
        aws.ses_inbound_smtp_host("eu-south-1")
    assert set(aws.SES_RECEIVING_REGIONS) <= set(aws.SES_REGIONS)
    assert aws.ses_event_bus_arn("eu-west-1", "123456789012") == "arn:aws:events:eu-west-1:123456789012:event-bus/default"


def test_event_types_open_click_need_consent() -> None:
    assert event_types() == aws.SES_EVENT_TYPES
    assert "OPEN" not in event_types() and {"BOUNCE", "COMPLAINT", "DELIVERY_DELAY", "RENDERING_FAILURE"} <= set(event_types())
    assert event_types(track_open=True, consent_recorded=True)[-1] == "OPEN"
    assert event_types(True, True, True)[-2:] == ("OPEN", "CLICK")
    with pytest.raises(EventsArgsError, match="track_click: open/click tracking processes personal data"):
        event_types(track_click=True)


# ---------------------------------------------------------------------- events


def test_events_pipeline_is_encrypted_queued_and_archived(pulumi_mocks: Any) -> None:
    _, out = build(
        lambda: SesEvents("events", _events(archive_retention_days=90, alarm_topic_arn=TOPIC)), q=lambda c: c.queue_arn
    )
    queues = {q.name: q for q in pulumi_mocks.of_type("aws:sqs/queue:Queue")}
    assert set(queues) == {"events-queue", "events-dlq"}
    assert all(q.inputs["kmsMasterKeyId"] == KMS for q in queues.values())
    redrive = json.loads(queues["events-queue"].inputs["redrivePolicy"])
    assert redrive["deadLetterTargetArn"].endswith("events-dlq") and redrive["maxReceiveCount"] == 5
    allow = json.loads(_one(pulumi_mocks, "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy").inputs["redriveAllowPolicy"])
    assert allow == {"redrivePermission": "byQueue", "sourceQueueArns": [out["q"]]}
    rule = _one(pulumi_mocks, "aws:cloudwatch/eventRule:EventRule")
    assert json.loads(rule.inputs["eventPattern"]) == {"source": ["aws.ses"]}
    targets = {t.name: t for t in pulumi_mocks.of_type("aws:cloudwatch/eventTarget:EventTarget")}
    assert set(targets) == {"events-to-queue", "events-to-archive"}
    for t in targets.values():
        assert (
            t.inputs["deadLetterConfig"]["arn"].endswith("events-dlq")
            and t.inputs["retryPolicy"]["maximumEventAgeInSeconds"] == 86400
        )
    policy = json.loads(
        next(p for p in pulumi_mocks.of_type("aws:sqs/queuePolicy:QueuePolicy") if p.name == "events-queue-policy").inputs[
            "policy"
        ]
    )
    (stmt,) = policy["Statement"]
    assert stmt["Principal"] == {"Service": "events.amazonaws.com"} and stmt["Action"] == "sqs:SendMessage"
    assert stmt["Condition"]["ArnEquals"]["aws:SourceArn"].endswith("events-rule")
    stream = _one(pulumi_mocks, "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream")
    assert stream.inputs["serverSideEncryption"] == {"enabled": True, "keyType": "CUSTOMER_MANAGED_CMK", "keyArn": KMS}
    s3 = stream.inputs["extendedS3Configuration"]
    assert s3["kmsKeyArn"] == KMS and s3["compressionFormat"] == "GZIP"
    lifecycle = _one(pulumi_mocks, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    assert lifecycle.inputs["rules"][0]["expiration"]["days"] == 90
    # the archive is private_bucket without object_lock: unversioned, so nothing outlives the expiration
    assert "noncurrentVersionExpiration" not in lifecycle.inputs["rules"][0]
    assert "objectLockEnabled" not in _one(pulumi_mocks, "aws:s3/bucket:Bucket").inputs
    assert not pulumi_mocks.of_type("aws:s3/bucketVersioning:BucketVersioning")
    assert not pulumi_mocks.of_type("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")
    sse = _one(pulumi_mocks, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    default = sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]
    assert default == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": KMS}
    block = _one(pulumi_mocks, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    grant = _one(pulumi_mocks, "aws:kms/grant:Grant")
    assert grant.inputs["operations"] == ["GenerateDataKey", "Decrypt"] and grant.inputs["granteePrincipal"].endswith(
        "events-firehose"
    )
    alarm = _one(pulumi_mocks, "aws:cloudwatch/metricAlarm:MetricAlarm")
    assert alarm.inputs["alarmActions"] == [TOPIC] and alarm.inputs["namespace"] == "AWS/SQS"


def test_every_configuration_set_gets_an_eventbridge_destination(pulumi_mocks: Any) -> None:
    build(lambda: SesEvents("events", _events()))
    dests = {
        d.inputs["configurationSetName"]: d
        for d in pulumi_mocks.of_type("aws:sesv2/configurationSetEventDestination:ConfigurationSetEventDestination")
    }
    assert set(dests) == {name for _, name in SETS}
    ed = dests["mail-example-com-relay"].inputs["eventDestination"]
    assert ed["enabled"] is True and ed["matchingEventTypes"] == list(aws.SES_EVENT_TYPES)
    assert ed["eventBridgeDestination"]["eventBusArn"] == "arn:aws:events:eu-west-1:123456789012:event-bus/default"
    assert not pulumi_mocks.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")  # no topic, no DLQ alarm


def test_tracking_with_consent_adds_open_and_click(pulumi_mocks: Any) -> None:
    build(lambda: SesEvents("events", _events(track_open=True, track_click=True, consent_recorded=True)))
    for d in pulumi_mocks.of_type("aws:sesv2/configurationSetEventDestination:ConfigurationSetEventDestination"):
        assert d.inputs["eventDestination"]["matchingEventTypes"][-2:] == ["OPEN", "CLICK"]


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"track_open": True}, "track_open: open/click tracking"),
        ({"configuration_sets": ()}, "configuration_sets: must name each configuration set once"),
        ({"archive_retention_days": 0}, "archive_retention_days: must be an integer from 1 to 3653"),
        ({"kms_key_arn": "alias/x"}, "kms_key_arn: must be the CMK's ARN"),
        ({"region": "xx-nowhere-1"}, "region: must be an AWS region where SES sends"),
    ],
)
def test_events_args_refused(over: dict[str, Any], message: str) -> None:
    with pytest.raises(EventsArgsError, match=message):
        _events(**over)


def test_queue_and_bucket_policies_pure() -> None:
    doc = queue_policy("arn:q", "arn:rule", "123456789012")
    assert doc["Statement"][0]["Condition"] == {
        "ArnEquals": {"aws:SourceArn": "arn:rule"},
        "StringEquals": {"aws:SourceAccount": "123456789012"},
    }
    deny = bucket_policy("arn:aws:s3:::b")["Statement"][0]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


# ------------------------------------------------------------------ reputation


def test_alarm_specs_are_fractions_below_review() -> None:
    specs = alarm_specs({"bounce_warning": 2.5, "bounce_critical": 4, "complaint_warning": 0.05, "complaint_critical": 0.08})
    assert [(s.metric, s.level, s.threshold) for s in specs] == [
        ("Reputation.BounceRate", "warning", 0.025),
        ("Reputation.BounceRate", "critical", 0.04),
        ("Reputation.ComplaintRate", "warning", 0.0005),
        ("Reputation.ComplaintRate", "critical", 0.0008),
    ]
    with pytest.raises(
        ReputationArgsError, match="bounce_critical: must be a percentage above 0 and below SES's review threshold 5.0"
    ):
        alarm_specs({"bounce_warning": 2.5, "bounce_critical": 5, "complaint_warning": 0.05, "complaint_critical": 0.08})
    with pytest.raises(ReputationArgsError, match="complaint_warning: must be below complaint_critical"):
        alarm_specs({"bounce_warning": 2.5, "bounce_critical": 4, "complaint_warning": 0.09, "complaint_critical": 0.08})


def test_reputation_alarms_for_account_and_every_set(pulumi_mocks: Any) -> None:
    args = ReputationAlarmsArgs(region="eu-west-1", configuration_sets=SETS, alarm_topic_arn=TOPIC, tags=TAGS)
    build(lambda: ReputationAlarms("reputation", args))
    alarms = pulumi_mocks.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    assert len(alarms) == 4 * (1 + len(SETS))
    account = [a for a in alarms if "dimensions" not in a.inputs]
    assert sorted((a.inputs["metricName"], a.inputs["threshold"]) for a in account) == [
        ("Reputation.BounceRate", 0.025),
        ("Reputation.BounceRate", 0.04),
        ("Reputation.ComplaintRate", 0.0005),
        ("Reputation.ComplaintRate", 0.0008),
    ]
    per_set = [a for a in alarms if "dimensions" in a.inputs]
    assert {a.inputs["dimensions"]["ses:configuration-set"] for a in per_set} == {n for _, n in SETS}
    for a in alarms:
        assert a.inputs["namespace"] == "AWS/SES" and a.inputs["alarmActions"] == [TOPIC] == a.inputs["okActions"]
        assert a.inputs["comparisonOperator"] == "GreaterThanOrEqualToThreshold" and "Runbook" in a.inputs["alarmDescription"]


# ---------------------------------------------------------------------- intake


def _intake(**over: Any) -> ReportIntakeArgs:
    base: dict[str, Any] = dict(
        domain="reports.example.com", zone_name="example.com", provider="route53", zone_id="Z0PRD1234567890ABCDE",
        region="eu-west-1", account_id="123456789012", kms_key_arn=KMS, configuration_set_name="mail-relay", tags=TAGS,
    )  # fmt: skip
    base.update(over)
    return ReportIntakeArgs(**base)


def test_intake_records_and_receipt_rules(pulumi_mocks: Any) -> None:
    build(lambda: ReportIntake("reports", _intake(retention_days=400)))
    records = {
        (r.inputs["name"], r.inputs["type"]): r.inputs["records"] for r in pulumi_mocks.of_type("aws:route53/record:Record")
    }
    assert records[("reports.example.com", "MX")] == ["10 inbound-smtp.eu-west-1.amazonaws.com"]
    assert records[("reports.example.com", "TXT")] == ["v=spf1 -all"]
    assert records[("_dmarc.reports.example.com", "TXT")] == ["v=DMARC1; p=reject;"]
    assert sum(1 for name, t in records if t == "CNAME" and "._domainkey.reports.example.com" in name) == 3
    rules = {r.inputs["recipients"][0]: r for r in pulumi_mocks.of_type("aws:ses/receiptRule:ReceiptRule")}
    assert set(rules) == {"dmarc@reports.example.com", "tls-rpt@reports.example.com"}
    assert rules["tls-rpt@reports.example.com"].inputs["after"] == rules["dmarc@reports.example.com"].inputs["name"]
    for r in rules.values():
        assert r.inputs["tlsPolicy"] == "Require" and r.inputs["scanEnabled"] is True and r.inputs["enabled"] is True
    assert rules["dmarc@reports.example.com"].inputs["s3Actions"][0]["objectKeyPrefix"] == "dmarc/"
    active = _one(pulumi_mocks, "aws:ses/activeReceiptRuleSet:ActiveReceiptRuleSet")
    assert active.inputs["ruleSetName"] == _one(pulumi_mocks, "aws:ses/receiptRuleSet:ReceiptRuleSet").inputs["ruleSetName"]
    policy = json.loads(_one(pulumi_mocks, "aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])
    ses = next(s for s in policy["Statement"] if s.get("Sid") == "SesStoresReports")
    assert ses["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}
    assert (
        ses["Condition"]["ArnLike"]["aws:SourceArn"]
        == "arn:aws:ses:eu-west-1:123456789012:receipt-rule-set/reports-rules:receipt-rule/*"
    )
    lifecycle = _one(pulumi_mocks, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    assert lifecycle.inputs["rules"][0]["expiration"]["days"] == 400
    identity = _one(pulumi_mocks, "aws:sesv2/emailIdentity:EmailIdentity")
    assert identity.inputs["emailIdentity"] == "reports.example.com" and identity.inputs["configurationSetName"] == "mail-relay"


def test_intake_refuses_a_region_without_receiving() -> None:
    with pytest.raises(IntakeArgsError, match="region: Amazon SES receives email only in"):
        _intake(region="eu-south-1")
    with pytest.raises(IntakeArgsError, match="domain: must be a name under the zone example.com"):
        _intake(domain="reports.example.org")
    statement = ses_put_statement("arn:aws:s3:::b", "123456789012", "eu-west-1", "rules")
    assert statement["Resource"] == ["arn:aws:s3:::b/dmarc/*", "arn:aws:s3:::b/tls-rpt/*"]
    assert [r.purpose for r in intake_records("reports.example.com", "eu-west-1")] == ["mx", "null-spf", "null-dmarc"]


# ---------------------------------------------------------------------- config


def _raw(**over: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "owner": "team",
        "zones": {"example.com": {"provider": "route53", "zoneId": "Z0PRD1234567890ABCDE"}, "example.org": {"provider": "route53", "zoneId": "Z0PRD1234567890ABCDF"}},
        "domains": [{"name": "mail.example.com"}, {"name": "news.example.org", "dmarc": {"rua": ["mailto:d@example.org"]}, "tlsRpt": {"rua": ["mailto:t@example.org"]}}],
        "keys": {"admins": ["arn:aws:iam::123456789012:role/admin"]},
        "domainDefaults": {"mtaSts": {"mx": ["inbound-smtp.eu-west-1.amazonaws.com"]}},
        "compliance": {"postalAddress": "1 Main Street, Dublin, Ireland", "unsubscribeUrl": "https://example.com/u"},
    }  # fmt: skip
    raw.update(over)
    return raw


def test_report_intake_defaults_rua_of_domains_without_one() -> None:
    cfg = parse_config(_raw(reports={"enabled": True}), stack="prod", region="eu-west-1")
    assert cfg.reports is not None and cfg.reports.domain == "reports.example.com" and cfg.reports.zone == "example.com"
    mail, news = cfg.domains
    assert mail.dmarc.rua == ("mailto:dmarc@reports.example.com",) and mail.tls_rpt.rua == ("mailto:tls-rpt@reports.example.com",)
    assert news.dmarc.rua == ("mailto:d@example.org",) and news.tls_rpt.rua == ("mailto:t@example.org",)
    other = parse_config(
        _raw(reports={"enabled": True, "domain": "rpt.example.org", "retentionDays": 30}), stack="prod", region="eu-west-1"
    )
    assert other.reports is not None and other.reports.zone == "example.org" and other.reports.retention_days == 30


def test_report_intake_off_by_default_and_tls_rpt_then_required() -> None:
    raw = _raw()
    raw["domains"] = [{"name": "mail.example.com"}]
    with pytest.raises(ConfigError, match=r"mailinfra.domains\[0\]\(mail.example.com\).tlsRpt: is required"):
        parse_config(raw, stack="prod", region="eu-west-1")


@pytest.mark.parametrize(
    ("over", "region", "message"),
    [
        (
            {"reports": {"enabled": True}},
            "eu-south-1",
            "mailinfra.reports.enabled: Amazon SES does not receive email in aws:region eu-south-1",
        ),
        (
            {"reports": {"enabled": True, "domain": "reports.example.net"}},
            "eu-west-1",
            "mailinfra.reports.domain: must be in a zone",
        ),
        (
            {"reports": {"enabled": True, "retentionDays": 0}},
            "eu-west-1",
            "mailinfra.reports.retentionDays: must be an integer from 1 to 3653",
        ),
        (
            {"events": {"tracking": {"open": True}}},
            "eu-west-1",
            "mailinfra.events.tracking.open: open/click tracking processes personal data",
        ),
        ({"events": {"archiveRetentionDays": 5000}}, "eu-west-1", "mailinfra.events.archiveRetentionDays: must be an integer"),
        (
            {"reputation": {"bounceCritical": 5}},
            "eu-west-1",
            "mailinfra.reputation.bounceCritical: must be below SES's bounce review threshold of 5.0 %",
        ),
        (
            {"reputation": {"complaintWarning": 0.09}},
            "eu-west-1",
            "mailinfra.reputation.complaintWarning: must be below complaintCritical",
        ),
        ({"reputation": {"bounceWarning": "lots"}}, "eu-west-1", "mailinfra.reputation.bounceWarning: must be a percentage"),
        ({"reputation": {"bounceWarnin": 1}}, "eu-west-1", "did you mean 'bounceWarning'"),
    ],
)
def test_feedback_config_errors_name_the_key(over: dict[str, Any], region: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_config(_raw(**{"reports": {"enabled": True}, **over}), stack="prod", region=region)


def test_tracking_with_consent_and_custom_levels() -> None:
    cfg = parse_config(
        _raw(
            reports={"enabled": True},
            events={"tracking": {"click": True, "consentRecorded": True}},
            reputation={"bounceWarning": 1, "bounceCritical": 2},
        ),
        stack="prod",
        region="eu-west-1",
    )
    assert cfg.events.track_click and not cfg.events.track_open and cfg.events.consent_recorded
    assert (cfg.reputation.bounce_warning, cfg.reputation.bounce_critical, cfg.reputation.complaint_critical) == (1.0, 2.0, 0.08)
