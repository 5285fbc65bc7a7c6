"""Account audit rules: the trail and its bucket, intrusion detection, the continuous audit,
MFA for people, credentials bound to their place, and every bucket private and encrypted.

Stack config is read the way the CLI hands it to the pack (``<project>:audit`` =
{organizationTrailArn, ...}); ``organizationTrailArn`` can be given in policy config too.
The limits (password length, MFA self-service actions, source condition keys) are the
standards' (``standards/aws.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pulumi_policy import ResourceValidationArgs, Severity, StackValidationArgs

from .common import (
    ALWAYS,
    PROD_STAGING,
    StackView,
    as_bool,
    as_int,
    as_json,
    dependencies_of,
    get,
    grants,
    is_unknown,
    project_config,
    resource_policy,
    stack_policy,
    statements,
    strings,
)
from .events import _customer_key
from .standards import aws

TRAIL = "aws:cloudtrail/trail:Trail"
BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
VERSIONING_TYPES = ("aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2")
LOCK_TYPES = (
    "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
    "aws:s3/bucketObjectLockConfigurationV2:BucketObjectLockConfigurationV2",
)
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
SSE_TYPES = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
DETECTOR = "aws:guardduty/detector:Detector"
RECORDER = "aws:cfg/recorder:Recorder"
RECORDER_STATUS = "aws:cfg/recorderStatus:RecorderStatus"
CONFIG_RULE = "aws:cfg/rule:Rule"
RECORD = "aws:route53/record:Record"
QUERY_LOG = "aws:route53/queryLog:QueryLog"
VPC_ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
PASSWORD_POLICY = "aws:iam/accountPasswordPolicy:AccountPasswordPolicy"
IAM_POLICY_TYPES = (
    "aws:iam/policy:Policy",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/userPolicy:UserPolicy",
    "aws:iam/groupPolicy:GroupPolicy",
)
PEOPLE_POLICY_TYPES = ("aws:iam/policy:Policy", "aws:iam/userPolicy:UserPolicy", "aws:iam/groupPolicy:GroupPolicy")
PUBLIC_ACCESS_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def _audit_config() -> dict[str, Any]:
    value = as_json(project_config().get("audit"))
    return value if isinstance(value, dict) else {}


def _organization_trail(cfg: dict[str, Any]) -> bool:
    arn = cfg.get("organizationTrailArn") or _audit_config().get("organizationTrailArn")
    return aws.is_cloudtrail_arn(arn)


SENDING_TYPES = ("aws:sesv2/emailIdentity:EmailIdentity", "aws:ses/domainIdentity:DomainIdentity")


def _sends(view: StackView) -> bool:
    """Account-level controls are asked of a program that sends mail (an SES identity)."""
    return bool(view.of_type(*SENDING_TYPES))


def _depends(resource: Any, urns: set[str]) -> set[str]:
    return {d.urn for d in dependencies_of(resource) if d.urn in urns}


def _joined(view: StackView, types: tuple[str, ...], buckets: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """bucket URN -> props of the resources of ``types`` configuring it (by dependency or bucket name)."""
    names = {name: urn for urn, name in buckets.items() if isinstance(name, str)}
    out: dict[str, list[dict[str, Any]]] = {}
    for resource in view.of_type(*types):
        props = view.props[resource.urn]
        targets = _depends(resource, set(buckets))
        named = get(props, "bucket")
        if isinstance(named, str) and named in names:
            targets.add(names[named])
        for urn in targets:
            out.setdefault(urn, []).append(props)
    return out


def _buckets(view: StackView) -> dict[str, Any]:
    """bucket URN -> its name (``bucket``), None when not known."""
    out = {}
    for r in view.of_type(*BUCKET_TYPES):
        name = get(view.props[r.urn], "bucket")
        out[r.urn] = name if isinstance(name, str) else None
    return out


# ---------------------------------------------------------------------- trail


def _trail(args: StackValidationArgs, cfg: dict[str, Any]) -> Iterator[tuple[str, str | None]]:
    view = StackView.of(args)
    trails = view.of_type(TRAIL)
    if _sends(view) and not trails and not _organization_trail(cfg):
        yield (
            "no CloudTrail trail records this account (declare AuditTrail, or name an organisation trail in "
            "mailinfra:audit.organizationTrailArn)",
            None,
        )
    for trail in trails:
        props = view.props[trail.urn]
        for key, what in (
            ("isMultiRegionTrail", "record every region (isMultiRegionTrail)"),
            ("enableLogFileValidation", "validate its log files (enableLogFileValidation)"),
        ):
            value = get(props, key)
            if not is_unknown(value) and as_bool(value) is not True:
                yield (f"trail {trail.name!r} does not {what}", trail.urn)
        problem = _customer_key(get(props, "kmsKeyId"))
        if problem:
            yield (f"trail {trail.name!r} log files are not encrypted under a customer-managed KMS key ({problem})", trail.urn)


# --------------------------------------------------------------- audit bucket


def _tls_only(policies: list[dict[str, Any]]) -> bool | None:
    """Whether a bucket policy denies every request without TLS (None: unknown)."""
    for props in policies:
        document = get(props, "policy")
        if is_unknown(document):
            return None
        for s in statements(document):
            secure = as_json(get(s, "Condition", "Bool", "aws:SecureTransport"))
            if s.get("Effect") == "Deny" and grants(s, "s3:GetObject") and str(secure).lower() == "false":
                return True
    return False


def _blocked(blocks: list[dict[str, Any]]) -> bool | None:
    for props in blocks:
        values = [get(props, flag) for flag in PUBLIC_ACCESS_FLAGS]
        if any(is_unknown(v) for v in values):
            return None
        if all(as_bool(v) is True for v in values):
            return True
    return False


def _audit_bucket(args: StackValidationArgs, cfg: dict[str, Any]) -> Iterator[tuple[str, str | None]]:
    view = StackView.of(args)
    buckets = _buckets(view)
    names = {name: urn for urn, name in buckets.items() if name}
    audit: set[str] = set()
    for trail in view.of_type(TRAIL):
        name = get(view.props[trail.urn], "s3BucketName")
        if isinstance(name, str) and name in names:
            audit.add(names[name])
        else:
            audit |= _depends(trail, set(buckets))
    if not audit:
        return
    locks = _joined(view, LOCK_TYPES, buckets)
    versioning = _joined(view, VERSIONING_TYPES, buckets)
    blocks = _joined(view, (PUBLIC_ACCESS_BLOCK,), buckets)
    policies = _joined(view, (BUCKET_POLICY,), buckets)
    for urn in sorted(audit):
        shown = view.by_urn[urn].name
        props = view.props[urn]
        enabled = get(props, "objectLockEnabled")
        modes = [get(p, "rule", "defaultRetention", "mode") for p in locks.get(urn, [])]
        if not is_unknown(enabled) and as_bool(enabled) is not True:
            yield (f"audit bucket {shown!r} is created without Object Lock (objectLockEnabled)", urn)
        elif not any(m == "COMPLIANCE" or is_unknown(m) for m in modes):
            yield (f"audit bucket {shown!r} has no Object Lock default retention in COMPLIANCE mode", urn)
        statuses = [get(p, "versioningConfiguration", "status") for p in versioning.get(urn, [])]
        if not any(s == "Enabled" or is_unknown(s) for s in statuses):
            yield (f"audit bucket {shown!r} does not enable versioning", urn)
        if _blocked(blocks.get(urn, [])) is False:
            yield (f"audit bucket {shown!r} does not block public access (all four public access block settings)", urn)
        if _tls_only(policies.get(urn, [])) is False:
            yield (f"audit bucket {shown!r} has no bucket policy denying requests without TLS (aws:SecureTransport)", urn)


# ------------------------------------------------------------ every bucket


def _every_bucket(args: StackValidationArgs, cfg: dict[str, Any]) -> Iterator[tuple[str, str | None]]:
    view = StackView.of(args)
    buckets = _buckets(view)
    blocks = _joined(view, (PUBLIC_ACCESS_BLOCK,), buckets)
    encryption: dict[str, list[Any]] = {}
    for sse in view.of_type(*SSE_TYPES):
        for urn in _joined_one(view, sse, buckets):
            encryption.setdefault(urn, []).append(sse)
    for urn in buckets:
        shown = view.by_urn[urn].name
        if _blocked(blocks.get(urn, [])) is False:
            yield (f"bucket {shown!r} does not block public access (all four public access block settings)", urn)
        configs = encryption.get(urn, [])
        if not configs:
            yield (f"bucket {shown!r} has no server-side encryption configuration", urn)
        elif all(_sse_problem(view, c) for c in configs):
            yield (f"bucket {shown!r} default encryption is not SSE-S3 or SSE-KMS", urn)


def _joined_one(view: StackView, resource: Any, buckets: dict[str, Any]) -> set[str]:
    names = {name: urn for urn, name in buckets.items() if isinstance(name, str)}
    targets = _depends(resource, set(buckets))
    named = get(view.props[resource.urn], "bucket")
    if isinstance(named, str) and named in names:
        targets.add(names[named])
    return targets


def _sse_problem(view: StackView, sse: Any) -> bool:
    """True when the configuration names neither SSE-S3 nor SSE-KMS (which key: the
    feedback-data-cmk-encrypted rule judges the buckets that need the CMK)."""
    rules = get(view.props[sse.urn], "rules")
    if is_unknown(rules):
        return False
    for rule in rules if isinstance(rules, list) else []:
        algorithm = get(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm")
        if is_unknown(algorithm) or algorithm in ("AES256", "aws:kms", "aws:kms:dsse"):
            return False
    return True


# -------------------------------------------------------------- GuardDuty, Config


def _guardduty(args: StackValidationArgs, cfg: dict[str, Any]) -> Iterator[tuple[str, str | None]]:
    view = StackView.of(args)
    detectors = view.of_type(DETECTOR)
    if _sends(view) and not detectors:
        yield (
            "no GuardDuty detector: nothing detects intrusion (dev may opt out with mailinfra:audit.guardDuty: false)",
            None,
        )
    for d in detectors:
        enabled = get(view.props[d.urn], "enable")
        if not is_unknown(enabled) and as_bool(enabled if enabled is not None else True) is not True:
            yield (f"GuardDuty detector {d.name!r} is disabled (enable: false)", d.urn)


def _config_recorder(args: StackValidationArgs, cfg: dict[str, Any]) -> Iterator[tuple[str, str | None]]:
    view = StackView.of(args)
    if not view.of_type(RECORDER):
        if _sends(view):
            yield ("no AWS Config recorder: nothing audits the account between deploys", None)
        return
    statuses = view.of_type(RECORDER_STATUS)
    if not any(as_bool(get(view.props[s.urn], "isEnabled")) is not False for s in statuses):
        yield ("the AWS Config recorder is never started (an aws.cfg.RecorderStatus with isEnabled: true)", None)
    if not view.of_type(CONFIG_RULE):
        yield ("AWS Config records but judges nothing: declare its managed rules", None)


# ------------------------------------------------------------ DNS, flow logs


def _sending_zones(view: StackView) -> dict[str, str]:
    """Route53 zone id -> a record that shows the zone sends: a DKIM record (under
    ``_domainkey``) or the MAIL FROM MX to SES's feedback host."""
    out: dict[str, str] = {}
    for r in view.of_type(RECORD):
        props = view.props[r.urn]
        name, zone, kind = get(props, "name"), get(props, "zoneId"), get(props, "type")
        if not isinstance(zone, str) or is_unknown(zone):
            continue
        dkim = isinstance(name, str) and "._domainkey." in f".{name.rstrip('.')}."
        mail_from = kind == "MX" and any(".amazonses.com" in v and "feedback-smtp." in v for v in strings(get(props, "records")))
        if dkim or mail_from:
            out.setdefault(zone, r.urn)
    return out


def _query_logging(args: StackValidationArgs, cfg: dict[str, Any]) -> Iterator[tuple[str, str | None]]:
    view = StackView.of(args)
    zones = _sending_zones(view)
    if not zones:
        return
    logged: set[str] = set()
    for q in view.of_type(QUERY_LOG):
        zone = get(view.props[q.urn], "zoneId")
        if is_unknown(zone):
            return  # cannot tell which zone: judged when known
        if isinstance(zone, str):
            logged.add(zone)
    for zone, urn in sorted(zones.items()):
        if zone not in logged:
            yield (f"sending zone {zone} has no Route53 query logging (aws.route53.QueryLog)", urn)


def _flow_logs(args: StackValidationArgs, cfg: dict[str, Any]) -> Iterator[tuple[str, str | None]]:
    view = StackView.of(args)
    vpcs: dict[str, str] = {}
    for e in view.of_type(VPC_ENDPOINT):
        props = view.props[e.urn]
        service, vpc = get(props, "serviceName"), get(props, "vpcId")
        if isinstance(service, str) and service.endswith(".email-smtp") and isinstance(vpc, str):
            vpcs.setdefault(vpc, e.urn)
    logged = set()
    for f in view.of_type(FLOW_LOG):
        vpc = get(view.props[f.urn], "vpcId")
        if is_unknown(vpc):
            return
        logged.add(vpc)
    for vpc, urn in sorted(vpcs.items()):
        if vpc not in logged:
            yield (f"VPC {vpc} of the SES SMTP endpoint has no flow log (aws.ec2.FlowLog)", urn)


# ------------------------------------------------------------------- people


def _is_mfa_deny(statement: dict[str, Any]) -> bool:
    if statement.get("Effect") != "Deny" or "NotAction" not in statement:
        return False
    values = [str(as_json(v)).lower() for op in ("BoolIfExists", "Bool") for v in _condition(statement, op)]
    if "false" not in values:
        return False
    # the deny spares only MFA self-service: nothing else may be done without MFA
    spared = strings(statement["NotAction"])
    return bool(spared) and all(a in aws.MFA_SELF_SERVICE_ACTIONS for a in spared) and "*" in strings(statement.get("Resource"))


def _condition(statement: dict[str, Any], operator: str) -> list[Any]:
    body = get(statement, "Condition", operator)
    if not isinstance(body, dict):
        return []
    return [v for k, v in body.items() if str(k).lower() == aws.MFA_CONDITION_KEY.lower()]


def _operators_mfa(args: StackValidationArgs, cfg: dict[str, Any]) -> Iterator[tuple[str, str | None]]:
    view = StackView.of(args)
    undecided = False
    # The pattern is for people (IAM users): group, managed and user policies. Role
    # policies are services'; a user's own unknown policy (the SMTP users') is no operators'.
    for p in view.of_type(*PEOPLE_POLICY_TYPES):
        document = get(view.props[p.urn], "policy")
        if is_unknown(document):
            undecided |= p.resource_type != "aws:iam/userPolicy:UserPolicy"
            continue
        if any(_is_mfa_deny(s) for s in statements(document)):
            return
    if undecided or not _sends(view):
        return
    yield (
        "no IAM policy denies everything but MFA self-service without aws:MultiFactorAuthPresent "
        "(the operators group of components/operators.py)",
        None,
    )


def _password_policy(args: StackValidationArgs, cfg: dict[str, Any]) -> Iterator[tuple[str, str | None]]:
    view = StackView.of(args)
    found = view.of_type(PASSWORD_POLICY)
    if _sends(view) and not found:
        yield ("no account password policy (aws.iam.AccountPasswordPolicy)", None)
    minimum = int(cfg["minLength"])
    for p in found:
        props = view.props[p.urn]
        length, reuse = get(props, "minimumPasswordLength"), get(props, "passwordReusePrevention")
        if not is_unknown(length) and (as_int(length) or 0) < minimum:
            yield (f"account password policy allows passwords shorter than {minimum} characters (got {length!r})", p.urn)
        if not is_unknown(reuse) and (as_int(reuse) or 0) < aws.PASSWORD_REUSE_PREVENTION:
            yield (
                f"account password policy remembers fewer than {aws.PASSWORD_REUSE_PREVENTION} passwords (got {reuse!r})",
                p.urn,
            )
        for key in ("requireLowercaseCharacters", "requireUppercaseCharacters", "requireNumbers", "requireSymbols"):
            value = get(props, key)
            if not is_unknown(value) and as_bool(value) is not True:
                yield (f"account password policy does not set {key}", p.urn)


# ----------------------------------------------------------- source-bound send


def _source_bound(type_: str, props: dict[str, Any], args: ResourceValidationArgs, cfg: dict[str, Any]) -> Iterator[str]:
    document = get(props, "policy")
    if is_unknown(document):
        return
    keys = {k.lower() for k in aws.SOURCE_CONDITION_KEYS}
    for index, s in enumerate(statements(document)):
        if s.get("Effect") != "Allow" or not any(grants(s, a) for a in aws.SES_SEND_ACTIONS):
            continue
        condition = s.get("Condition")
        bound = isinstance(condition, dict) and any(
            isinstance(body, dict) and any(str(k).lower() in keys for k in body) for body in condition.values()
        )
        if not bound:
            yield (
                f"statement {s.get('Sid', index)!r} allows sending with no aws:SourceVpce or aws:SourceIp condition: "
                "a leaked SMTP password would send from anywhere"
            )


POLICIES = [
    stack_policy(
        "cloudtrail-trail",
        "A CloudTrail trail records the account (or an organisation trail is named in config): multi-region, "
        "log-file validation on, log files encrypted under a customer-managed KMS key.",
        section="audit",
        check=_trail,
        severity=Severity.HIGH,
        remediation="Declare AuditTrail (components/audit.py: is_multi_region_trail, enable_log_file_validation, "
        "kms_key_id = the CMK), or set mailinfra:audit.organizationTrailArn to the organisation trail.",
        levels=PROD_STAGING,
        account_wide=True,
        config={"organizationTrailArn": {"type": "string"}},
    ),
    stack_policy(
        "audit-bucket-object-lock",
        "The trail's S3 bucket has Object Lock in COMPLIANCE mode, versioning, all four public access blocks and "
        "a bucket policy that denies requests without TLS.",
        section="audit",
        check=_audit_bucket,
        severity=Severity.HIGH,
        remediation="Create the bucket with object_lock_enabled=True, a BucketObjectLockConfiguration "
        "(COMPLIANCE, days = compliance.logRetentionDays), BucketVersioning Enabled, a BucketPublicAccessBlock "
        "and the aws:SecureTransport deny, as components/audit.py does.",
        levels=PROD_STAGING,
    ),
    stack_policy(
        "s3-bucket-private-encrypted",
        "Every S3 bucket blocks public access (all four settings) and has a default server-side encryption configuration.",
        section="audit",
        check=_every_bucket,
        severity=Severity.HIGH,
        remediation="Give every bucket a BucketPublicAccessBlock with the four settings true and a "
        "BucketServerSideEncryptionConfiguration (components/buckets.py private_bucket does both).",
        levels=ALWAYS,
    ),
    stack_policy(
        "guardduty-enabled",
        "A GuardDuty detector is enabled (paid: advisory in dev, where mailinfra:audit.guardDuty may be false).",
        section="audit",
        check=_guardduty,
        severity=Severity.HIGH,
        remediation="Leave mailinfra:audit.guardDuty at true (components/detection.py declares the detector).",
        levels=PROD_STAGING,
        account_wide=True,
    ),
    stack_policy(
        "config-recorder-enabled",
        "AWS Config records the stack's resources, is started and evaluates managed rules (paid: advisory in "
        "dev, where mailinfra:audit.configRecorder may be false).",
        section="audit",
        check=_config_recorder,
        severity=Severity.MEDIUM,
        remediation="Leave mailinfra:audit.configRecorder at true (components/posture.py declares the recorder, "
        "its RecorderStatus and the managed rules).",
        levels=PROD_STAGING,
        account_wide=True,
    ),
    stack_policy(
        "route53-query-logging",
        "Every Route53 zone that sends (has a DKIM record or the MAIL FROM MX to SES) has query logging.",
        section="audit",
        check=_query_logging,
        severity=Severity.MEDIUM,
        remediation="Leave mailinfra:audit.dnsQueryLogging at true (components/detection.py declares an "
        "aws.route53.QueryLog per sending zone).",
        levels=PROD_STAGING,
        account_wide=True,
    ),
    stack_policy(
        "vpc-flow-logs-smtp-endpoint",
        "The VPC of the SES SMTP interface endpoint has a flow log.",
        section="audit",
        check=_flow_logs,
        severity=Severity.MEDIUM,
        remediation="Leave mailinfra:audit.flowLogs at true (components/detection.py declares the aws.ec2.FlowLog).",
        levels=PROD_STAGING,
        account_wide=True,
    ),
    stack_policy(
        "iam-operators-mfa",
        "An IAM policy denies every action except MFA self-service unless aws:MultiFactorAuthPresent (the "
        "pattern the IAM User Guide documents).",
        section="audit",
        check=_operators_mfa,
        severity=Severity.HIGH,
        remediation="Leave mailinfra:audit.operators at true (components/operators.py: the operators group and "
        "its DenyAllExceptListedIfNoMFA statement).",
        levels=PROD_STAGING,
        account_wide=True,
    ),
    stack_policy(
        "iam-account-password-policy",
        "The account password policy requires minLength (14) characters of all four classes and remembers 24 passwords.",
        section="audit",
        check=_password_policy,
        severity=Severity.MEDIUM,
        remediation="Leave mailinfra:audit.operators at true (components/operators.py declares the "
        "aws.iam.AccountPasswordPolicy).",
        levels=PROD_STAGING,
        account_wide=True,
        config={"minLength": {"type": "integer", "default": aws.PASSWORD_MIN_LENGTH, "minimum": 8, "maximum": 128}},
    ),
    resource_policy(
        "iam-ses-send-source-bound",
        "IAM policies that allow SES sending bind it to a source: aws:SourceVpce (the SMTP endpoint) or "
        "aws:SourceIp (the allowed CIDRs).",
        section="network",
        types=list(IAM_POLICY_TYPES),
        check=_source_bound,
        severity=Severity.HIGH,
        remediation="Declare mailinfra:network (the SMTP endpoint and allowedCidrs): SmtpAccess then adds "
        "aws:SourceVpce / aws:SourceIp conditions to the send statement.",
        levels=PROD_STAGING,
    ),
]
