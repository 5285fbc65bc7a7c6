"""AuditTrail: who did what in the account, kept where nobody can rewrite it.

- a multi-region CloudTrail trail with log-file validation, global service events and
  every management event (read and write: KMS ``Decrypt`` and SES API calls included),
  optionally S3 data events of the stack's buckets, encrypted under the stack's CMK;
- its S3 bucket (components/buckets.py ``private_bucket`` with ``object_lock``):
  versioning, Object Lock in COMPLIANCE mode for ``retention_days`` (nobody, root
  included, can delete or overwrite a log file before then), all four public-access
  blocks, bucket-owner-enforced ownership, SSE-KMS under the CMK, a TLS-only bucket
  policy that lets only this trail (and AWS Config, see components/posture.py) write,
  and a lifecycle that expires log files after ``retention_days`` (the Object Lock
  period: the lock has lapsed when they expire);
- a CloudWatch Logs group (the same retention, encrypted under the CMK) that the trail
  also delivers to, with metric filters and alarms on the KMS events the KeyStore's
  EventBridge rule watches (:data:`KMS_FILTERS`): a second path, so a key alarm still
  fires when EventBridge delivery of CloudTrail events lags or drops.

Bucket controls are pure functions (:func:`trail_bucket_statements`) and the names of
trail and log group are fixed per stack, so the bucket policy can name the trail's ARN
before the trail exists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
from pulumi import Input, Output, ResourceOptions

from mailinfra.policies.mailinfra_policy.standards import aws as aws_std

from ._aws import alarm_on_any, log_writer_role
from .buckets import private_bucket
from .errors import ArgsError

__all__ = ["KMS_FILTERS", "AuditTrail", "AuditTrailArgs", "AuditArgsError", "trail_bucket_statements"]

METRIC_NAMESPACE = "mailinfra/audit"
RUNBOOK = "README 'Runbook: a KMS alarm'"
# (slug, CloudWatch Logs filter pattern, what it means): the KeyStore rule's events.
KMS_FILTERS: tuple[tuple[str, str, str], ...] = (
    (
        "kms-destructive",
        '{ ($.eventSource = "kms.amazonaws.com") && (($.eventName = "DisableKey") || '
        '($.eventName = "ScheduleKeyDeletion") || ($.eventName = "DisableKeyRotation")) }',
        "a KMS key was disabled, scheduled for deletion or had rotation disabled",
    ),
    (
        "kms-failed-use",
        '{ ($.eventSource = "kms.amazonaws.com") && ($.errorCode = "*") && (($.eventName = "Decrypt") || '
        '($.eventName = "Encrypt") || ($.eventName = "GenerateDataKey*") || ($.eventName = "ReEncrypt*")) }',
        "a KMS Encrypt/Decrypt/GenerateDataKey/ReEncrypt call failed or was denied",
    ),
)


class AuditArgsError(ArgsError):
    """An invalid AuditTrail argument."""


def trail_bucket_statements(bucket_arn: str, trail_arn: str, account_id: str, *, config: bool) -> list[dict[str, Any]]:
    """Writers of the audit bucket: this trail (CloudTrail User Guide, "Amazon S3 bucket
    policy for CloudTrail") and, with ``config``, AWS Config of this account."""
    out: list[dict[str, Any]] = [
        {
            "Sid": "CloudTrailAclCheck",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:GetBucketAcl",
            "Resource": bucket_arn,
            "Condition": {"StringEquals": {"aws:SourceArn": trail_arn}},
        },
        {
            "Sid": "CloudTrailWrite",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": f"{bucket_arn}/cloudtrail/AWSLogs/{account_id}/*",
            "Condition": {"StringEquals": {"aws:SourceArn": trail_arn, "s3:x-amz-acl": "bucket-owner-full-control"}},
        },
    ]
    if config:
        out += [
            {
                "Sid": "ConfigAclCheck",
                "Effect": "Allow",
                "Principal": {"Service": "config.amazonaws.com"},
                "Action": ["s3:GetBucketAcl", "s3:ListBucket"],
                "Resource": bucket_arn,
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
            },
            {
                "Sid": "ConfigWrite",
                "Effect": "Allow",
                "Principal": {"Service": "config.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"{bucket_arn}/config/AWSLogs/{account_id}/Config/*",
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id, "s3:x-amz-acl": "bucket-owner-full-control"}},
            },
        ]
    return out


@dataclass(frozen=True)
class AuditTrailArgs:
    """``retention_days``: Object Lock, lifecycle and log-group retention (compliance.logRetentionDays).
    ``data_event_buckets``: bucket ARNs whose object-level events the trail records."""

    stack: str
    region: str
    account_id: str
    kms_key_arn: Input[str]
    alarm_topic_arn: Input[str]
    retention_days: int
    data_event_buckets: Sequence[Input[str]] = ()
    config_writes: bool = True  # AWS Config delivers to the same bucket (components/posture.py)
    protect: bool = False
    tags: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        AuditArgsError.check_where(self.region, self.account_id)
        if not isinstance(self.stack, str) or not self.stack.replace("-", "").replace("_", "").isalnum():
            raise AuditArgsError("stack", self.stack, "must be a stack name of letters, digits, - and _")
        if self.retention_days not in aws_std.LOG_RETENTION_DAYS:
            raise AuditArgsError(
                "retention_days", self.retention_days, "must be a retention CloudWatch Logs accepts (LOG_RETENTION_DAYS)"
            )
        for argument in ("kms_key_arn", "alarm_topic_arn"):
            value = getattr(self, argument)
            if value is None or (isinstance(value, str) and not value.startswith("arn:")):
                raise AuditArgsError(argument, value, "must be an ARN")
        object.__setattr__(self, "data_event_buckets", tuple(self.data_event_buckets))

    @property
    def trail_name(self) -> str:
        return f"mailinfra-{self.stack}"

    @property
    def trail_arn(self) -> str:
        return f"arn:aws:cloudtrail:{self.region}:{self.account_id}:trail/{self.trail_name}"


class AuditTrail(pulumi.ComponentResource):
    """See the module docstring."""

    bucket_name: Output[str]
    bucket_arn: Output[str]
    trail_arn: Output[str]
    log_group_name: Output[str]

    def __init__(self, name: str, args: AuditTrailArgs, opts: ResourceOptions | None = None) -> None:
        if not isinstance(args, AuditTrailArgs):
            raise AuditArgsError("args", type(args).__name__, "must be AuditTrailArgs")
        super().__init__("mailinfra:audit:AuditTrail", name, None, opts)
        child = ResourceOptions(parent=self)
        region, tags, days = args.region, dict(args.tags), args.retention_days

        trail_arn, account = args.trail_arn, args.account_id
        bucket = private_bucket(
            f"{name}-bucket",
            parent=self,
            kms_key_arn=args.kms_key_arn,
            retention_days=days,
            region=region,
            tags=tags,
            statements=lambda arn: trail_bucket_statements(arn, trail_arn, account, config=args.config_writes),
            protect=args.protect,
            object_lock=True,
        )

        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/mailinfra/{args.stack}/cloudtrail",
            retention_in_days=days,
            kms_key_id=args.kms_key_arn,
            region=region,
            tags=tags,
            opts=child,
        )
        role = log_writer_role(
            f"{name}-logs",
            parent=self,
            service="cloudtrail.amazonaws.com",
            account_id=account,
            log_group_arn=log_group.arn,
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=lambda arn: f"{arn}:log-stream:*",
            sid="DeliverTrailToLogGroup",
            tags=tags,
        )
        selectors = [aws.cloudtrail.TrailEventSelectorArgs(read_write_type="All", include_management_events=True)]
        if args.data_event_buckets:
            selectors.append(
                aws.cloudtrail.TrailEventSelectorArgs(
                    read_write_type="All",
                    include_management_events=False,
                    data_resources=[
                        aws.cloudtrail.TrailEventSelectorDataResourceArgs(
                            type="AWS::S3::Object",
                            values=[Output.from_input(b).apply(lambda a: f"{a}/") for b in args.data_event_buckets],
                        )
                    ],
                )
            )
        trail = aws.cloudtrail.Trail(
            f"{name}-trail",
            name=args.trail_name,
            s3_bucket_name=bucket.name,
            s3_key_prefix="cloudtrail",
            is_multi_region_trail=True,
            include_global_service_events=True,
            enable_log_file_validation=True,
            enable_logging=True,
            kms_key_id=args.kms_key_arn,
            cloud_watch_logs_group_arn=log_group.arn.apply(lambda arn: f"{arn}:*"),
            cloud_watch_logs_role_arn=role.arn,
            event_selectors=selectors,
            region=region,
            tags=tags,
            opts=ResourceOptions(parent=self, depends_on=[bucket.policy]),
        )
        self.alarms: list[aws.cloudwatch.MetricAlarm] = []
        for slug, pattern, meaning in KMS_FILTERS:
            aws.cloudwatch.LogMetricFilter(
                f"{name}-{slug}",
                log_group_name=log_group.name,
                pattern=pattern,
                metric_transformation=aws.cloudwatch.LogMetricFilterMetricTransformationArgs(
                    name=slug, namespace=METRIC_NAMESPACE, value="1", default_value="0"
                ),
                region=region,
                opts=child,
            )
            self.alarms.append(
                alarm_on_any(
                    f"{name}-{slug}-alarm",
                    parent=self,
                    description=f"mailinfra: {meaning} (CloudTrail via CloudWatch Logs). {RUNBOOK}",
                    namespace=METRIC_NAMESPACE,
                    metric_name=slug,
                    statistic="Sum",
                    topic_arn=args.alarm_topic_arn,
                    region=region,
                    tags=tags,
                )
            )

        self.bucket_name = bucket.name
        self.bucket_arn = bucket.arn
        self.trail_arn = trail.arn
        self.log_group_name = log_group.name
        self.register_outputs({"bucket": self.bucket_name, "trail_arn": self.trail_arn, "log_group": self.log_group_name})
