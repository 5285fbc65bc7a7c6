"""Watching the account: AuditTrail, Detection, Posture, Operators, SecurityAlerts, the
source-bound SMTP policy, their config, and the shipped stacks' plans under the audit rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mailinfra.components.alerts import SecurityAlerts, SecurityAlertsArgs, SecurityAlertsError, security_topic_policy
from mailinfra.components.audit import KMS_FILTERS, AuditArgsError, AuditTrail, AuditTrailArgs, trail_bucket_statements
from mailinfra.components.config import ConfigError, parse_config
from mailinfra.components.detection import Detection, DetectionArgs, DetectionArgsError, finding_pattern
from mailinfra.components.keystore import KeyStoreArgs, key_policy
from mailinfra.components.operators import Operators, OperatorsArgs, OperatorsArgsError, mfa_policy
from mailinfra.components.posture import Posture, PostureArgs, PostureArgsError, noncompliant_pattern
from mailinfra.components.smtp import send_policy_document
from mailinfra.engine import run_plan
from mailinfra.policyrun import run_policies
from mailinfra.policies.mailinfra_policy import ALL
from mailinfra.policies.mailinfra_policy import audit as audit_rules
from mailinfra.policies.mailinfra_policy.standards import aws
from tests.helpers import build
from tests.policy_cases_audit import ORG_TRAIL, SENDER, TRAIL, res
from tests.test_policies_helpers import run_resource, run_stack

KMS = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:security"
ACCOUNT = "123456789012"
TAGS = {"owner": "mail", "environment": "prod", "data-classification": "internal"}
BY_NAME = {p.name: p for p in ALL}
RULES = {p.name for p in audit_rules.POLICIES}
ROOT = Path(__file__).resolve().parent.parent


def _one(mocks: Any, type_: str) -> Any:
    found = mocks.of_type(type_)
    assert len(found) == 1, f"{type_}: {len(found)}"
    return found[0]


def _trail_args(**over: Any) -> AuditTrailArgs:
    base: dict[str, Any] = dict(
        stack="prod", region="eu-west-1", account_id=ACCOUNT, kms_key_arn=KMS, alarm_topic_arn=TOPIC, retention_days=365
    )
    base.update(over)
    return AuditTrailArgs(**base)


# ---------------------------------------------------------------------- trail


def test_trail_is_multi_region_validated_encrypted_and_delivered_to_logs(pulumi_mocks: Any) -> None:
    build(lambda: AuditTrail("audit", _trail_args(protect=True)), arn=lambda c: c.trail_arn)
    trail = _one(pulumi_mocks, "aws:cloudtrail/trail:Trail").inputs
    assert trail["name"] == "mailinfra-prod"
    assert trail["isMultiRegionTrail"] and trail["enableLogFileValidation"] and trail["includeGlobalServiceEvents"]
    assert trail["kmsKeyId"] == KMS and trail["s3KeyPrefix"] == "cloudtrail"
    assert trail["eventSelectors"] == [{"includeManagementEvents": True, "readWriteType": "All"}]
    assert trail["cloudWatchLogsGroupArn"].endswith(":*")
    group = _one(pulumi_mocks, "aws:cloudwatch/logGroup:LogGroup").inputs
    assert group["retentionInDays"] == 365 and group["kmsKeyId"] == KMS and group["name"] == "/mailinfra/prod/cloudtrail"
    bucket = _one(pulumi_mocks, "aws:s3/bucket:Bucket")
    assert bucket.inputs["objectLockEnabled"] is True and bucket.protect
    lock = _one(pulumi_mocks, "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration").inputs
    assert lock["rule"]["defaultRetention"] == {"mode": "COMPLIANCE", "days": 365}
    versioning = _one(pulumi_mocks, "aws:s3/bucketVersioning:BucketVersioning")
    assert versioning.inputs["versioningConfiguration"] == {"status": "Enabled"}
    lifecycle = _one(pulumi_mocks, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    # S3 takes the lock and lifecycle configurations of a versioned bucket only once versioning is on
    assert versioning.urn in lifecycle.dependencies
    assert versioning.urn in _one(pulumi_mocks, "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration").dependencies
    rule = lifecycle.inputs["rules"][0]
    assert rule["expiration"]["days"] == 365 and rule["noncurrentVersionExpiration"]["noncurrentDays"] == 1
    block = _one(pulumi_mocks, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(block[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    policy = json.loads(_one(pulumi_mocks, "aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])
    sids = [s["Sid"] for s in policy["Statement"]]
    assert sids == ["DenyWithoutTls", "CloudTrailAclCheck", "CloudTrailWrite", "ConfigAclCheck", "ConfigWrite"]
    write = policy["Statement"][2]
    assert write["Condition"]["StringEquals"]["aws:SourceArn"] == "arn:aws:cloudtrail:eu-west-1:123456789012:trail/mailinfra-prod"
    alarms = pulumi_mocks.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    filters = pulumi_mocks.of_type("aws:cloudwatch/logMetricFilter:LogMetricFilter")
    assert len(alarms) == len(filters) == len(KMS_FILTERS)
    assert all(a.inputs["alarmActions"] == [TOPIC] for a in alarms)
    destructive = next(f for f in filters if f.name == "audit-kms-destructive").inputs["pattern"]
    assert all(e in destructive for e in ("DisableKey", "ScheduleKeyDeletion", "DisableKeyRotation"))


def test_trail_data_events_and_bad_args(pulumi_mocks: Any) -> None:
    build(lambda: AuditTrail("audit", _trail_args(data_event_buckets=("arn:aws:s3:::archive",), config_writes=False)))
    selectors = _one(pulumi_mocks, "aws:cloudtrail/trail:Trail").inputs["eventSelectors"]
    assert selectors[1]["dataResources"] == [{"type": "AWS::S3::Object", "values": ["arn:aws:s3:::archive/"]}]
    assert selectors[1]["includeManagementEvents"] is False
    policy = json.loads(_one(pulumi_mocks, "aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])
    assert "ConfigWrite" not in [s["Sid"] for s in policy["Statement"]]
    with pytest.raises(AuditArgsError, match="retention_days: must be a retention CloudWatch Logs accepts"):
        _trail_args(retention_days=100)
    with pytest.raises(AuditArgsError, match="alarm_topic_arn: must be an ARN"):
        _trail_args(alarm_topic_arn="topic")


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda **o: _trail_args(**o), AuditArgsError),
        (
            lambda **o: DetectionArgs(
                **{"stack": "prod", "region": "eu-west-1", "account_id": ACCOUNT, "retention_days": 90, **o}
            ),
            DetectionArgsError,
        ),
        (
            lambda **o: PostureArgs(
                **{"stack": "prod", "region": "eu-west-1", "account_id": ACCOUNT, "bucket_name": "audit", "kms_key_arn": KMS, **o}
            ),
            PostureArgsError,
        ),
        (
            lambda **o: SecurityAlertsArgs(
                **{"region": "eu-west-1", "account_id": ACCOUNT, "kms_key_arn": KMS, "alert_email": "sec@example.com", **o}
            ),
            SecurityAlertsError,
        ),
    ],
)
def test_account_wide_components_refuse_a_bad_region_or_account(make: Any, error: type[Exception]) -> None:
    make()  # the base arguments are valid
    with pytest.raises(error, match=r"^region: must be an AWS region such as eu-west-1 \(got 'nowhere'\)$"):
        make(region="nowhere")
    with pytest.raises(error, match=r"^account_id: must be a 12-digit AWS account id \(got '1234'\)$"):
        make(account_id="1234")


def test_trail_bucket_statements_are_scoped_to_this_trail_and_account() -> None:
    arn = "arn:aws:cloudtrail:eu-west-1:123456789012:trail/t"
    out = trail_bucket_statements("arn:aws:s3:::b", arn, ACCOUNT, config=True)
    assert out[1]["Resource"] == "arn:aws:s3:::b/cloudtrail/AWSLogs/123456789012/*"
    assert out[3]["Resource"] == "arn:aws:s3:::b/config/AWSLogs/123456789012/Config/*"
    assert all(s["Condition"]["StringEquals"].get("aws:SourceArn", ACCOUNT) in (arn, ACCOUNT) for s in out)


def test_key_policy_lets_cloudtrail_config_and_logs_encrypt_only_with_audit_services() -> None:
    base: dict[str, Any] = dict(
        environment="prod",
        alias_name="mail",
        account_id=ACCOUNT,
        region="eu-west-1",
        admin_principals=("arn:aws:iam::123456789012:role/a",),
    )
    plain = {s["Sid"] for s in key_policy(KeyStoreArgs(**base))["Statement"]}
    audited = {s["Sid"]: s for s in key_policy(KeyStoreArgs(**base, audit_services=True))["Statement"]}
    assert "CloudTrailEncryptsLogFiles" not in plain
    trail = audited["CloudTrailEncryptsLogFiles"]
    assert trail["Condition"]["StringLike"] == {
        "kms:EncryptionContext:aws:cloudtrail:arn": "arn:aws:cloudtrail:*:123456789012:trail/*"
    }
    assert audited["CloudWatchLogsEncryptsAuditLogs"]["Principal"] == {"Service": "logs.eu-west-1.amazonaws.com"}
    assert audited["ConfigWritesEncryptedSnapshots"]["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    # the pack still accepts the key policy (no wildcard principal, MFA on destructive actions)
    props = {"policy": json.dumps(key_policy(KeyStoreArgs(**base, audit_services=True)))}
    for rule in ("kms-no-wildcard-principal", "kms-destructive-actions-require-mfa"):
        assert run_resource(BY_NAME[rule], "aws:kms/key:Key", props) == []


# ----------------------------------------------------------------- detection


def _alerts() -> SecurityAlerts:
    return SecurityAlerts(
        "security-alerts",
        SecurityAlertsArgs(region="eu-west-1", account_id=ACCOUNT, kms_key_arn=KMS, alert_email="sec@example.com"),
    )


def test_detection_guardduty_findings_query_logs_and_flow_logs(pulumi_mocks: Any) -> None:
    def make() -> Any:
        alerts = _alerts()
        d = Detection(
            "detection",
            DetectionArgs(
                stack="prod",
                region="eu-west-1",
                account_id=ACCOUNT,
                retention_days=365,
                query_log_zones=(("example.com", "Z0PRD1234567890ABCDE"),),
                flow_log_vpc_id="vpc-0c1b2c3d4e5f60718",
            ),
            alerts,
        )
        alerts.seal()
        return d

    build(make)
    detector = _one(pulumi_mocks, "aws:guardduty/detector:Detector").inputs
    assert detector["enable"] is True and detector["findingPublishingFrequency"] == "FIFTEEN_MINUTES"
    features = pulumi_mocks.of_type("aws:guardduty/detectorFeature:DetectorFeature")
    assert [f.inputs["name"] for f in features] == list(aws.GUARDDUTY_FEATURES)
    rule = _one(pulumi_mocks, "aws:cloudwatch/eventRule:EventRule")
    assert json.loads(rule.inputs["eventPattern"])["detail"] == {"severity": [{"numeric": [">=", 4]}]}
    target = _one(pulumi_mocks, "aws:cloudwatch/eventTarget:EventTarget")
    assert target.inputs["arn"].startswith("arn:aws:mock") and target.name == "security-alerts-guardduty-findings"
    topic = _one(pulumi_mocks, "aws:sns/topic:Topic").inputs
    assert topic["kmsMasterKeyId"] == KMS
    policy = json.loads(_one(pulumi_mocks, "aws:sns/topicPolicy:TopicPolicy").inputs["policy"])
    events = policy["Statement"][1]
    assert events["Condition"]["ArnEquals"]["aws:SourceArn"] == [
        rule.inputs.get("arn") or f"arn:aws:mock:us-east-1:123456789012:eventrule/{rule.name}"
    ]
    query = _one(pulumi_mocks, "aws:route53/queryLog:QueryLog").inputs
    assert query["zoneId"] == "Z0PRD1234567890ABCDE"
    groups = {g.name: g.inputs for g in pulumi_mocks.of_type("aws:cloudwatch/logGroup:LogGroup")}
    assert groups["detection-dns-example-com"]["region"] == "us-east-1"
    assert groups["detection-dns-example-com"]["name"] == "/aws/route53/example.com"
    assert all(g["retentionInDays"] == 365 for g in groups.values())
    flow = _one(pulumi_mocks, "aws:ec2/flowLog:FlowLog").inputs
    assert flow["vpcId"] == "vpc-0c1b2c3d4e5f60718" and flow["trafficType"] == "ALL"


def test_guardduty_opt_out_declares_no_detector(pulumi_mocks: Any) -> None:
    def make() -> Any:
        alerts = _alerts()
        d = Detection(
            "detection",
            DetectionArgs(stack="dev", region="eu-west-1", account_id=ACCOUNT, retention_days=90, guard_duty=False),
            alerts,
        )
        alerts.seal()
        return d

    build(make)
    assert pulumi_mocks.of_type("aws:guardduty/detector:Detector") == []
    statements = json.loads(_one(pulumi_mocks, "aws:sns/topicPolicy:TopicPolicy").inputs["policy"])["Statement"]
    assert [s["Sid"] for s in statements] == ["CloudWatchAlarms"]  # no rule may publish
    with pytest.raises(DetectionArgsError, match="query_log_zones: zone example.com: must be a Route53 zone id"):
        DetectionArgs(
            stack="dev", region="eu-west-1", account_id=ACCOUNT, retention_days=90, query_log_zones=(("example.com", "zone"),)
        )


def test_patterns_and_topic_policy() -> None:
    assert finding_pattern()["detail-type"] == ["GuardDuty Finding"]
    assert noncompliant_pattern()["detail"] == {"newEvaluationResult": {"complianceType": ["NON_COMPLIANT"]}}
    policy = security_topic_policy("arn:t", ["arn:r2", "arn:r1"], ACCOUNT)
    assert policy["Statement"][1]["Condition"]["ArnEquals"]["aws:SourceArn"] == ["arn:r1", "arn:r2"]


def test_posture_records_the_stack_types_and_routes_failed_rules(pulumi_mocks: Any) -> None:
    def make() -> Any:
        alerts = _alerts()
        p = Posture(
            "posture",
            PostureArgs(stack="prod", region="eu-west-1", account_id=ACCOUNT, bucket_name="audit", kms_key_arn=KMS),
            alerts,
        )
        alerts.seal()
        return p

    build(make)
    recorder = _one(pulumi_mocks, "aws:cfg/recorder:Recorder").inputs
    assert recorder["recordingGroup"]["resourceTypes"] == list(aws.CONFIG_RECORDED_TYPES)
    assert recorder["recordingGroup"]["allSupported"] is False
    channel = _one(pulumi_mocks, "aws:cfg/deliveryChannel:DeliveryChannel").inputs
    assert channel["s3BucketName"] == "audit" and channel["s3KmsKeyArn"] == KMS and channel["s3KeyPrefix"] == "config"
    assert _one(pulumi_mocks, "aws:cfg/recorderStatus:RecorderStatus").inputs["isEnabled"] is True
    rules = {r.inputs["source"]["sourceIdentifier"]: r.inputs for r in pulumi_mocks.of_type("aws:cfg/rule:Rule")}
    assert set(rules) == set(aws.CONFIG_MANAGED_RULES)
    assert json.loads(rules["IAM_PASSWORD_POLICY"]["inputParameters"])["MinimumPasswordLength"] == "14"
    assert json.loads(rules["ACCESS_KEYS_ROTATED"]["inputParameters"]) == {"maxAccessKeyAge": "90"}
    assert _one(pulumi_mocks, "aws:cloudwatch/eventTarget:EventTarget").name == "security-alerts-config-noncompliant"


# ----------------------------------------------------------------- operators


def test_operators_mfa_group_password_policy_and_session_manager(pulumi_mocks: Any) -> None:
    admin = "arn:aws:iam::123456789012:role/platform-admin"
    build(
        lambda: Operators(
            "operators",
            OperatorsArgs(stack="prod", region="eu-west-1", kms_key_arn=KMS, retention_days=365, admin_roles=(admin,)),
        )
    )
    policy = json.loads(_one(pulumi_mocks, "aws:iam/groupPolicy:GroupPolicy").inputs["policy"])
    assert policy == mfa_policy((admin,))
    assume = policy["Statement"][-1]
    assert assume["Resource"] == [admin] and assume["Condition"] == {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    passwords = _one(pulumi_mocks, "aws:iam/accountPasswordPolicy:AccountPasswordPolicy").inputs
    assert passwords["minimumPasswordLength"] == 14 and passwords["passwordReusePrevention"] == 24
    document = _one(pulumi_mocks, "aws:ssm/document:Document").inputs
    assert document["name"] == "SSM-SessionManagerRunShell" and document["documentType"] == "Session"
    inputs = json.loads(document["content"])["inputs"]
    assert inputs["kmsKeyId"] == KMS and inputs["cloudWatchLogGroupName"] == "/mailinfra/prod/ssm-sessions"
    # the component's policy is what the pack's rule accepts, and losing the deny is flagged
    group = res("aws:iam/groupPolicy:GroupPolicy", "g", {"group": "ops", "policy": json.dumps(mfa_policy((admin,)))})
    assert run_stack(BY_NAME["iam-operators-mfa"], [SENDER, group]) == []
    weakened = mfa_policy(())
    weakened["Statement"][-1]["NotAction"].append("s3:GetObject")
    group["props"]["policy"] = json.dumps(weakened)
    assert run_stack(BY_NAME["iam-operators-mfa"], [SENDER, group])


def test_key_administrators_must_be_roles() -> None:
    with pytest.raises(OperatorsArgsError, match=r"admin_principals\[0\]: key administrators must be IAM roles"):
        OperatorsArgs(
            stack="prod",
            region="eu-west-1",
            kms_key_arn=KMS,
            retention_days=365,
            admin_roles=("arn:aws:iam::123456789012:user/bob",),
        )


# ------------------------------------------------------ source-bound sending


IDENTITY = "arn:aws:ses:eu-west-1:123456789012:identity/example.com"


def test_send_policy_is_bound_to_endpoint_and_networks_and_passes_both_send_rules() -> None:
    bound = json.loads(
        send_policy_document("example.com", [IDENTITY], source_vpce="vpce-0abc", source_cidrs=("198.51.100.0/24",))
    )
    vpce, cidr = bound["Statement"]
    assert vpce["Condition"] == {
        "StringLike": {"ses:FromAddress": "*@example.com"},
        "StringEquals": {"aws:SourceVpce": "vpce-0abc"},
    }
    assert cidr["Condition"]["IpAddress"] == {"aws:SourceIp": ["198.51.100.0/24"]}
    props = {"user": "smtp", "policy": json.dumps(bound)}
    for rule in ("iam-ses-send-source-bound", "iam-ses-send-least-privilege"):
        assert run_resource(BY_NAME[rule], "aws:iam/userPolicy:UserPolicy", props) == []
    unbound = {"user": "smtp", "policy": send_policy_document("example.com", [IDENTITY])}
    assert run_resource(BY_NAME["iam-ses-send-source-bound"], "aws:iam/userPolicy:UserPolicy", unbound) == [
        "statement 'SendFromDomainOnly' allows sending with no aws:SourceVpce or aws:SourceIp condition: a leaked SMTP "
        "password would send from anywhere"
    ]


# ----------------------------------------------------------------- the rules


def test_organisation_trail_from_stack_or_policy_config() -> None:
    policy = BY_NAME["cloudtrail-trail"]
    assert run_stack(policy, [SENDER])
    assert run_stack(policy, []) == []  # a program that sends nothing is not asked for the account's trail
    assert run_stack(policy, [SENDER], stack_config={"mailinfra:audit": {"organizationTrailArn": ORG_TRAIL}}) == []
    assert run_stack(policy, [SENDER], config={"organizationTrailArn": ORG_TRAIL}) == []
    assert run_stack(policy, [SENDER], config={"organizationTrailArn": "trail"})  # not an ARN: still no trail
    aws_key = res(TRAIL, "t", {"isMultiRegionTrail": True, "enableLogFileValidation": True, "kmsKeyId": "alias/aws/cloudtrail"})
    assert [m for m, _ in run_stack(policy, [aws_key])] == [
        "trail 't' log files are not encrypted under a customer-managed KMS key (the AWS managed key 'alias/aws/cloudtrail')"
    ]


def test_password_length_follows_policy_config() -> None:
    policy = BY_NAME["iam-account-password-policy"]
    props = {
        "minimumPasswordLength": 12,
        "passwordReusePrevention": 24,
        "requireLowercaseCharacters": True,
        "requireUppercaseCharacters": True,
        "requireNumbers": True,
        "requireSymbols": True,
    }
    spec = [res("aws:iam/accountPasswordPolicy:AccountPasswordPolicy", "p", props)]
    assert run_stack(policy, spec)
    assert run_stack(policy, spec, config={"minLength": 12}) == []


# -------------------------------------------------------------------- config


BASE: dict[str, Any] = {
    "environment": "dev",
    "owner": "mail",
    "zones": {"example.com": {"provider": "route53", "zoneId": "Z0DEV1234567890ABCDE"}},
    "domains": [
        {
            "name": "mail.example.com",
            "tlsRpt": {"rua": ["mailto:tls@example.com"]},
            "mtaSts": {"mx": ["inbound-smtp.eu-west-1.amazonaws.com"]},
        }
    ],
    "keys": {"admins": ["arn:aws:iam::123456789012:role/admin"]},
    "compliance": {"postalAddress": "Example Corp, 1 Main Street, Dublin", "unsubscribeUrl": "https://example.com/u"},
}


def test_audit_config_defaults_opt_outs_and_errors() -> None:
    cfg = parse_config(BASE, stack="dev", region="eu-west-1")
    assert cfg.audit.guard_duty and cfg.audit.config_recorder and cfg.audit.organization_trail_arn is None
    assert cfg.keys.max_age_days == aws.KEY_MAX_AGE_DAYS
    opted = parse_config(
        {
            **BASE,
            "audit": {"guardDuty": False, "configRecorder": False, "organizationTrailArn": ORG_TRAIL},
            "keys": {**BASE["keys"], "maxAgeDays": 60},
        },
        stack="dev",
        region="eu-west-1",
    )
    assert not opted.audit.guard_duty and not opted.audit.config_recorder and opted.audit.organization_trail_arn == ORG_TRAIL
    assert opted.keys.max_age_days == 60
    with pytest.raises(ConfigError, match=r"mailinfra.audit.guardDuty: must be true or false \(got 'no'\)"):
        parse_config({**BASE, "audit": {"guardDuty": "no"}}, stack="dev", region="eu-west-1")
    with pytest.raises(ConfigError, match=r"mailinfra.audit.organizationTrailArn: must be a CloudTrail trail ARN"):
        parse_config({**BASE, "audit": {"organizationTrailArn": "arn:aws:s3:::x"}}, stack="dev", region="eu-west-1")
    with pytest.raises(ConfigError, match=r"mailinfra.audit.guardduty: unknown key 'guardduty'; did you mean 'guardDuty'"):
        parse_config({**BASE, "audit": {"guardduty": False}}, stack="dev", region="eu-west-1")


# --------------------------------------------------------------- the plans


@pytest.fixture(scope="module")
def prod_plan() -> Any:
    return run_plan(".", "prod")


def test_prod_declares_the_account_controls_and_passes_them(prod_plan: Any) -> None:
    types = [r.type for r in prod_plan.resources]
    for t in (
        "aws:cloudtrail/trail:Trail",
        "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
        "aws:guardduty/detector:Detector",
        "aws:cfg/recorder:Recorder",
        "aws:cfg/recorderStatus:RecorderStatus",
        "aws:ec2/flowLog:FlowLog",
        "aws:iam/groupPolicy:GroupPolicy",
        "aws:iam/accountPasswordPolicy:AccountPasswordPolicy",
        "aws:ssm/document:Document",
    ):
        assert t in types, t
    assert types.count("aws:route53/queryLog:QueryLog") == 1  # example.com; example.org is on Cloudflare
    assert types.count("aws:cfg/rule:Rule") == len(aws.CONFIG_MANAGED_RULES)
    found = [
        v for v in run_policies(prod_plan, environment="prod") if v.policy in RULES or v.policy == "compliance-region-residency"
    ]
    assert found == []
    assert prod_plan.outputs["keyMaxAgeDays"] == 90


def test_dev_opting_out_of_paid_services_is_advisory(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    for name in ("Pulumi.yaml", "__main__.py"):
        (project / name).write_text((ROOT / name).read_text())
    stacks = project / "stacks"
    stacks.mkdir()
    text = (ROOT / "stacks" / "Pulumi.dev.yaml").read_text()
    text = text.replace(
        "  mailinfra:compliance:", "  mailinfra:audit: {guardDuty: false, configRecorder: false}\n  mailinfra:compliance:"
    )
    (stacks / "Pulumi.dev.yaml").write_text(text)
    plan = run_plan(str(project), "dev")
    found = {v.policy: v.enforcement for v in run_policies(plan, environment="dev") if v.policy in RULES}
    assert found == {"guardduty-enabled": "advisory", "config-recorder-enabled": "advisory"}
    prod = {v.policy: v.enforcement for v in run_policies(plan, environment="prod") if v.policy in RULES}
    assert prod == {"guardduty-enabled": "mandatory", "config-recorder-enabled": "mandatory"}
