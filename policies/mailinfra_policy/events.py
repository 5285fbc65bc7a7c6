"""Feedback-loop rules: SES event destinations, reputation alarms, encryption of the event
queue, archive and report intake, open/click tracking consent, SES receiving regions.

The consent flag is read the way the CLI hands the stack config to the pack
(``<project>:events`` = {tracking: {consentRecorded}}), or from policy config
(``consentRecorded``) for programs that are not mailinfra's own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pulumi_policy import ResourceValidationArgs, Severity, StackValidationArgs

from .common import (
    ALWAYS,
    PROD_ONLY,
    PROD_STAGING,
    StackView,
    as_bool,
    as_json,
    dependencies_of,
    get,
    is_unknown,
    project_config,
    resource_policy,
    resource_region,
    stack_policy,
    strings,
)
from .standards import aws

CONFIGURATION_SET = "aws:sesv2/configurationSet:ConfigurationSet"
EVENT_DESTINATION = "aws:sesv2/configurationSetEventDestination:ConfigurationSetEventDestination"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
QUEUE = "aws:sqs/queue:Queue"
FIREHOSE = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
SSE_TYPES = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
RECEIPT_RULE = "aws:ses/receiptRule:ReceiptRule"
RECEIPT_TYPES = (
    "aws:ses/receiptRuleSet:ReceiptRuleSet",
    RECEIPT_RULE,
    "aws:ses/activeReceiptRuleSet:ActiveReceiptRuleSet",
)
REQUIRED_EVENTS = ("BOUNCE", "COMPLAINT")


def _depends(resource: Any, urns: set[str]) -> set[str]:
    return {d.urn for d in dependencies_of(resource) if d.urn in urns}


def _sets(view: StackView) -> dict[str, Any]:
    """configuration set URN -> its name (UNKNOWN when not known in the preview)."""
    return {r.urn: get(view.props[r.urn], "configurationSetName") for r in view.of_type(CONFIGURATION_SET)}


def _covered(view: StackView, resource: Any, name: Any, sets: dict[str, Any]) -> set[str]:
    """The configuration sets a destination / alarm refers to: by name, else by dependency."""
    if isinstance(name, str) and not is_unknown(name):
        hits = {urn for urn, n in sets.items() if n == name}
        if hits:
            return hits
    return _depends(resource, set(sets))


# --------------------------------------------------------- event destinations


def _destinations(args: StackValidationArgs, cfg: dict[str, Any]) -> Iterator[tuple[str, str | None]]:
    view = StackView.of(args)
    sets = _sets(view)
    if not sets:
        return
    covered: set[str] = set()
    for dest in view.of_type(EVENT_DESTINATION):
        props = view.props[dest.urn]
        ed = get(props, "eventDestination")
        types, enabled = get(ed, "matchingEventTypes"), get(ed, "enabled")
        targets = _covered(view, dest, get(props, "configurationSetName"), sets)
        if is_unknown(ed) or is_unknown(types) or is_unknown(enabled):
            covered |= targets  # judged when known
            continue
        if as_bool(enabled) is True and all(t in strings(types) for t in REQUIRED_EVENTS):
            covered |= targets
    for urn, name in sets.items():
        if urn not in covered:
            shown = name if isinstance(name, str) and not is_unknown(name) else view.by_urn[urn].name
            yield (f"configuration set {shown!r} has no enabled event destination receiving BOUNCE and COMPLAINT", urn)


# ---------------------------------------------------------- reputation alarms


def _alarm_scope(view: StackView, alarm: Any, props: dict[str, Any], sets: dict[str, Any]) -> set[str] | None:
    """None: the account-level alarm; else the configuration sets the alarm watches."""
    dims = as_json(get(props, "dimensions"))
    if dims is None or dims == {}:
        return None
    if not isinstance(dims, dict):
        return _depends(alarm, set(sets))
    return _covered(view, alarm, dims.get(aws.SES_CONFIGURATION_SET_DIMENSION), sets)


def _reputation(args: StackValidationArgs, cfg: dict[str, Any]) -> Iterator[tuple[str, str | None]]:
    view = StackView.of(args)
    sets = _sets(view)
    if not sets:
        return
    limits = {"bounce": float(cfg["maxBounceRate"]), "complaint": float(cfg["maxComplaintRate"])}
    metric_rate = {m: r for r, m in aws.SES_REPUTATION_METRICS.items()}
    have: dict[str, set[str]] = {rate: set() for rate in limits}  # rate -> scopes ("account" or set URNs)
    for alarm in view.of_type(METRIC_ALARM):
        props = view.props[alarm.urn]
        if get(props, "namespace") != aws.SES_METRICS_NAMESPACE:
            continue
        rate = metric_rate.get(get(props, "metricName"))
        if rate is None:
            continue
        threshold, actions = get(props, "threshold"), get(props, "alarmActions")
        known = not is_unknown(threshold) and not is_unknown(actions)
        if known:
            if not isinstance(threshold, (int, float)) or isinstance(threshold, bool) or threshold >= limits[rate]:
                yield (
                    f"alarm on {aws.SES_REPUTATION_METRICS[rate]} has threshold {threshold!r}; it must be below SES's "
                    f"review rate {limits[rate]} (a fraction: 0.05 = 5 %)",
                    alarm.urn,
                )
                continue
            if not [a for a in (actions if isinstance(actions, list) else []) if isinstance(a, str) or is_unknown(a)]:
                yield (f"alarm on {aws.SES_REPUTATION_METRICS[rate]} notifies nobody (alarmActions is empty)", alarm.urn)
                continue
        scope = _alarm_scope(view, alarm, props, sets)
        have[rate] |= {"account"} if scope is None else scope
    for rate, scopes in have.items():
        metric = aws.SES_REPUTATION_METRICS[rate]
        if "account" not in scopes:
            yield (f"no account-level CloudWatch alarm on {metric} (namespace AWS/SES) below SES's review rate", None)
        for urn, name in sets.items():
            if urn not in scopes:
                shown = name if isinstance(name, str) and not is_unknown(name) else view.by_urn[urn].name
                yield (
                    f"configuration set {shown!r} has no alarm on {metric} (dimension {aws.SES_CONFIGURATION_SET_DIMENSION})",
                    urn,
                )


# ------------------------------------------------------------------ encryption


def _customer_key(value: Any) -> str | None:
    """None when ``value`` names a customer-managed key (or is unknown), else the problem."""
    if is_unknown(value):
        return None
    if not isinstance(value, str) or not value:
        return "no KMS key"
    if "alias/aws/" in value:
        return f"the AWS managed key {value!r}"
    return None


def _sse_key(view: StackView, sse: Any) -> str | None:
    rules = get(view.props[sse.urn], "rules")
    if is_unknown(rules):
        return None
    for rule in rules if isinstance(rules, list) else []:
        default = get(rule, "applyServerSideEncryptionByDefault")
        algorithm = get(default, "sseAlgorithm")
        if is_unknown(algorithm):
            return None
        if algorithm not in ("aws:kms", "aws:kms:dsse"):
            return f"SSE {algorithm!r} (not KMS)"
        return _customer_key(get(default, "kmsMasterKeyId"))
    return "no default encryption rule"


def _feedback_buckets(view: StackView) -> dict[str, str]:
    """bucket URN -> what writes to it: an SES receipt rule or a Firehose stream."""
    buckets = {r.urn for r in view.of_type(*BUCKET_TYPES)}
    names = {get(view.props[r.urn], "bucket"): r.urn for r in view.of_type(*BUCKET_TYPES)}
    out: dict[str, str] = {}
    for rule in view.of_type(RECEIPT_RULE):
        for action in get(view.props[rule.urn], "s3Actions") or []:
            name = get(action, "bucketName")
            if isinstance(name, str) and name in names:
                out[names[name]] = "the SES report intake"
        for urn in _depends(rule, buckets):
            out.setdefault(urn, "the SES report intake")
    for stream in view.of_type(FIREHOSE):
        for urn in _depends(stream, buckets):
            out.setdefault(urn, "the SES event archive")
    return out


def _encryption(args: StackValidationArgs, cfg: dict[str, Any]) -> Iterator[tuple[str, str | None]]:
    view = StackView.of(args)
    for queue in view.of_type(QUEUE):
        props = view.props[queue.urn]
        problem = _customer_key(get(props, "kmsMasterKeyId"))
        if problem:
            yield (f"SQS queue {queue.name!r} is not encrypted under a customer-managed KMS key ({problem})", queue.urn)
    for stream in view.of_type(FIREHOSE):
        props = view.props[stream.urn]
        sse = get(props, "serverSideEncryption")
        if not is_unknown(sse):
            enabled, key_type = get(sse, "enabled"), get(sse, "keyType")
            if as_bool(enabled) is not True or (not is_unknown(key_type) and key_type != "CUSTOMER_MANAGED_CMK"):
                yield (
                    f"Firehose stream {stream.name!r} needs serverSideEncryption with keyType CUSTOMER_MANAGED_CMK",
                    stream.urn,
                )
            elif not is_unknown(get(sse, "keyArn")) and _customer_key(get(sse, "keyArn")):
                yield (f"Firehose stream {stream.name!r} names no customer-managed key (serverSideEncryption.keyArn)", stream.urn)
        s3 = get(props, "extendedS3Configuration")
        if s3 is not None and not is_unknown(s3):
            problem = _customer_key(get(s3, "kmsKeyArn"))
            if problem:
                yield (
                    f"Firehose stream {stream.name!r} writes S3 objects without a customer-managed key ({problem})",
                    stream.urn,
                )
    feedback = _feedback_buckets(view)
    encrypted: dict[str, str | None] = {}
    for sse in view.of_type(*SSE_TYPES):
        for urn in _depends(sse, set(feedback)):
            encrypted[urn] = _sse_key(view, sse)
    for urn, role in sorted(feedback.items()):
        if urn not in encrypted:
            yield (f"bucket {view.by_urn[urn].name!r} of {role} has no server-side encryption configuration", urn)
        elif encrypted[urn]:
            yield (
                f"bucket {view.by_urn[urn].name!r} of {role} is not encrypted under a customer-managed KMS key ({encrypted[urn]})",
                urn,
            )


# ----------------------------------------------------------- tracking consent


def _consent(cfg: dict[str, Any]) -> bool:
    if cfg.get("consentRecorded") is not None:
        return as_bool(cfg.get("consentRecorded")) is True
    events = as_json(project_config().get("events"))
    tracking = as_json(events.get("tracking")) if isinstance(events, dict) else None
    return isinstance(tracking, dict) and as_bool(tracking.get("consentRecorded")) is True


def _tracking(type_: str, props: dict[str, Any], args: ResourceValidationArgs, cfg: dict[str, Any]) -> Iterator[str]:
    types = get(props, "eventDestination", "matchingEventTypes")
    if is_unknown(types):
        return
    tracked = [t for t in strings(types) if t in aws.SES_TRACKING_EVENT_TYPES]
    if tracked and not _consent(cfg):
        yield (
            f"event destination receives {', '.join(tracked)} (personal data about recipients) but no consent basis is "
            "recorded (mailinfra:events.tracking.consentRecorded)"
        )


# ------------------------------------------------------------ receiving region


def _receiving(type_: str, props: dict[str, Any], args: ResourceValidationArgs, cfg: dict[str, Any]) -> Iterator[str]:
    region = resource_region(props, args.provider)
    if region is None or is_unknown(region):
        return
    allowed = strings(cfg.get("receivingRegions")) or list(aws.SES_RECEIVING_REGIONS)
    if region not in allowed:
        yield (
            f"Amazon SES does not receive email in {region}: receipt rules there never see a message "
            f"(receiving regions: {', '.join(allowed)}); see the README's residency trade-off"
        )


POLICIES = [
    stack_policy(
        "ses-event-destination-bounce-complaint",
        "Every SESv2 configuration set has an enabled event destination that receives BOUNCE and COMPLAINT events.",
        section="events",
        check=_destinations,
        severity=Severity.HIGH,
        remediation="Add an aws.sesv2.ConfigurationSetEventDestination (SesEvents does) with matching_event_types "
        "including BOUNCE and COMPLAINT and enabled=True.",
        levels=PROD_STAGING,
    ),
    stack_policy(
        "ses-reputation-alarms",
        "CloudWatch alarms on Reputation.BounceRate and Reputation.ComplaintRate (AWS/SES) exist for the account and "
        "for each configuration set, below SES's review rates, with an alarm action.",
        section="reputation",
        check=_reputation,
        severity=Severity.HIGH,
        remediation="Declare ReputationAlarms (mailinfra:reputation.*): thresholds below 0.05 (bounce) and 0.001 "
        "(complaint) with alarm_actions set to the alert topic.",
        levels=PROD_ONLY,
        config={
            "maxBounceRate": {"type": "number", "default": aws.SES_REVIEW_THRESHOLDS["bounce"] / 100},
            "maxComplaintRate": {"type": "number", "default": aws.SES_REVIEW_THRESHOLDS["complaint"] / 100},
        },
    ),
    stack_policy(
        "feedback-data-cmk-encrypted",
        "SQS queues, Firehose streams and the S3 buckets that SES receipt rules or Firehose write to are encrypted "
        "under a customer-managed KMS key.",
        section="events",
        check=_encryption,
        severity=Severity.HIGH,
        remediation="Set kms_master_key_id (SQS), server_side_encryption CUSTOMER_MANAGED_CMK and "
        "extended_s3_configuration.kms_key_arn (Firehose), and an aws:kms BucketServerSideEncryptionConfiguration "
        "with the CMK on the bucket.",
        levels=PROD_STAGING,
    ),
    resource_policy(
        "ses-open-click-tracking-consent",
        "SES OPEN and CLICK events (tracking pixels and rewritten links: personal data) only with the consent basis "
        "recorded in config (events.tracking.consentRecorded).",
        section="events",
        types=[EVENT_DESTINATION],
        check=_tracking,
        severity=Severity.HIGH,
        remediation="Remove OPEN/CLICK from matching_event_types, or record the consent basis: "
        "mailinfra:events.tracking.consentRecorded: true.",
        levels=ALWAYS,
        config={"consentRecorded": {"type": "boolean"}},
    ),
    resource_policy(
        "ses-receiving-region",
        "SES receipt rule sets and rules live in a region where SES receives email.",
        section="reports",
        types=list(RECEIPT_TYPES),
        check=_receiving,
        severity=Severity.HIGH,
        remediation="Put the report intake in an SES receiving region (standards/aws.py SES_RECEIVING_REGIONS) or "
        "set mailinfra:reports.enabled false; README 'Report intake' explains the residency trade-off.",
        levels=ALWAYS,
        config={"receivingRegions": {"type": "array", "items": {"type": "string"}}},
    ),
]
