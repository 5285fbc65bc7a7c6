"""SesEvents: every SES sending event of the stack, queued and archived under the CMK.

Declares, as children of one ComponentResource:

- per configuration set, an SESv2 event destination to the account's default
  EventBridge bus (the only bus SES publishes to) for every event type that matters
  (:func:`event_types`: SEND, DELIVERY, BOUNCE, COMPLAINT, REJECT, DELIVERY_DELAY,
  SUBSCRIPTION, RENDERING_FAILURE; OPEN and CLICK only with tracking enabled *and* the
  consent basis recorded, since they process personal data);
- one EventBridge rule on ``source: aws.ses`` with two targets, each with a retry
  policy and the dead-letter queue for what cannot be delivered:
  * an SQS queue encrypted under the CMK (consumers: suppression sync, analytics),
    whose messages move to the dead-letter queue after ``max_receive_count`` failed
    receives (redrive policy; the DLQ's redrive-allow policy names only this queue);
  * a Firehose stream (server-side encrypted under the CMK) that writes GZIP batches
    to a private S3 bucket under the CMK whose lifecycle deletes them after
    ``archive_retention_days`` (components/buckets.py);
- least-privilege roles: Firehose may write to the bucket only (a KMS grant lets it
  use the key, which has no account-root statement), EventBridge may put records into
  the stream only;
- an alarm when the dead-letter queue holds a message (to the alert topic, if given).

The rule matches every SES event on the default bus of the account and region: SES
publishes there only for configuration sets with an EventBridge destination, i.e.
this stack's (two stacks sharing one account and region share the events).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
from pulumi import Input, Output, ResourceOptions

from mailinfra.policies.mailinfra_policy.standards import aws as aws_std

from ._aws import alarm_on_any, service_trust
from .buckets import private_bucket
from .errors import ArgsError

__all__ = ["EventsArgsError", "SesEvents", "SesEventsArgs", "event_pattern", "event_types", "queue_policy"]

QUEUE_RETENTION_SECONDS = 1209600  # 14 days: SQS's maximum, time to fix a stuck consumer
MAX_RECEIVE_COUNT = 5
RETRY_SECONDS = 86400  # EventBridge retries a target for up to a day before the DLQ


class EventsArgsError(ArgsError):
    """An invalid SesEvents argument."""


def event_types(track_open: bool = False, track_click: bool = False, consent_recorded: bool = False) -> tuple[str, ...]:
    """The SESv2 event types a destination receives; OPEN/CLICK only with recorded consent."""
    if (track_open or track_click) and not consent_recorded:
        raise EventsArgsError(
            "track_open" if track_open else "track_click",
            True,
            "open/click tracking processes personal data: record the consent basis first",
        )
    extra = [t for t, on in zip(aws_std.SES_TRACKING_EVENT_TYPES, (track_open, track_click)) if on]
    return (*aws_std.SES_EVENT_TYPES, *extra)


def event_pattern() -> dict[str, Any]:
    """EventBridge pattern: every SES event (SES publishes only for sets with a destination here)."""
    return {"source": ["aws.ses"]}


def queue_policy(queue_arn: str, rule_arn: str, account_id: str) -> dict[str, Any]:
    """Only this stack's EventBridge rule may send to the queue."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "EventBridgeRuleSends",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}, "StringEquals": {"aws:SourceAccount": account_id}},
            }
        ],
    }


def _ses_name(name: str) -> str:
    return (re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-") or "mailinfra")[:64]


@dataclass(frozen=True)
class SesEventsArgs:
    """``configuration_sets``: (slug, configuration set name) of every SesRelay of the stack."""

    region: str
    account_id: str
    kms_key_arn: Input[str]
    configuration_sets: tuple[tuple[str, Input[str]], ...]
    track_open: bool = False
    track_click: bool = False
    consent_recorded: bool = False
    archive_retention_days: int = 365
    log_group_name: Input[str] | None = None  # Firehose delivery errors (the stack's ses-events group)
    alarm_topic_arn: Input[str] | None = None
    tags: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not aws_std.is_ses_region(self.region):
            raise EventsArgsError("region", self.region, "must be an AWS region where SES sends")
        if not aws_std.is_account_id(self.account_id):
            raise EventsArgsError("account_id", self.account_id, "must be a 12-digit AWS account id")
        if self.kms_key_arn is None or (isinstance(self.kms_key_arn, str) and not self.kms_key_arn.startswith("arn:")):
            raise EventsArgsError("kms_key_arn", self.kms_key_arn, "must be the CMK's ARN")
        sets = tuple(self.configuration_sets)
        slugs = [s for s, _ in sets]
        if not sets or len(set(slugs)) != len(slugs):
            raise EventsArgsError("configuration_sets", slugs, "must name each configuration set once")
        object.__setattr__(self, "configuration_sets", sets)
        event_types(self.track_open, self.track_click, self.consent_recorded)
        days = self.archive_retention_days
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 3653:
            raise EventsArgsError("archive_retention_days", days, "must be an integer from 1 to 3653")

    @property
    def event_types(self) -> tuple[str, ...]:
        return event_types(self.track_open, self.track_click, self.consent_recorded)


class SesEvents(pulumi.ComponentResource):
    """See the module docstring."""

    queue_url: Output[str]
    queue_arn: Output[str]
    dead_letter_queue_arn: Output[str]
    archive_bucket: Output[str]
    rule_arn: Output[str]

    def __init__(self, name: str, args: SesEventsArgs, opts: ResourceOptions | None = None) -> None:
        if not isinstance(args, SesEventsArgs):
            raise EventsArgsError("args", type(args).__name__, "must be SesEventsArgs")
        types = list(args.event_types)
        super().__init__("mailinfra:events:SesEvents", name, None, opts)
        child = ResourceOptions(parent=self)
        tags, region, acct, key = dict(args.tags), args.region, args.account_id, args.kms_key_arn
        bus = aws_std.ses_event_bus_arn(region, acct)

        dlq = aws.sqs.Queue(
            f"{name}-dlq",
            kms_master_key_id=key,
            kms_data_key_reuse_period_seconds=300,
            message_retention_seconds=QUEUE_RETENTION_SECONDS,
            region=region,
            tags=tags,
            opts=child,
        )
        queue = aws.sqs.Queue(
            f"{name}-queue",
            kms_master_key_id=key,
            kms_data_key_reuse_period_seconds=300,
            message_retention_seconds=QUEUE_RETENTION_SECONDS,
            visibility_timeout_seconds=300,
            redrive_policy=dlq.arn.apply(
                lambda arn: json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": MAX_RECEIVE_COUNT}, sort_keys=True)
            ),
            region=region,
            tags=tags,
            opts=child,
        )
        aws.sqs.RedriveAllowPolicy(
            f"{name}-dlq-redrive-allow",
            queue_url=dlq.url,
            redrive_allow_policy=queue.arn.apply(
                lambda arn: json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": [arn]}, sort_keys=True)
            ),
            region=region,
            opts=child,
        )

        rule = aws.cloudwatch.EventRule(
            f"{name}-rule",
            description="mailinfra: every SES sending event of the stack's configuration sets",
            event_bus_name="default",
            event_pattern=json.dumps(event_pattern(), sort_keys=True),
            region=region,
            tags=tags,
            opts=child,
        )
        policies = []
        for label, q in (("queue", queue), ("dlq", dlq)):
            policies.append(
                aws.sqs.QueuePolicy(
                    f"{name}-{label}-policy",
                    queue_url=q.url,
                    policy=Output.all(q.arn, rule.arn).apply(
                        lambda a: json.dumps(queue_policy(a[0], a[1], acct), sort_keys=True)
                    ),
                    region=region,
                    opts=child,
                )
            )
        retry = aws.cloudwatch.EventTargetRetryPolicyArgs(maximum_event_age_in_seconds=RETRY_SECONDS, maximum_retry_attempts=185)
        dead = aws.cloudwatch.EventTargetDeadLetterConfigArgs(arn=dlq.arn)
        aws.cloudwatch.EventTarget(
            f"{name}-to-queue",
            rule=rule.name,
            arn=queue.arn,
            retry_policy=retry,
            dead_letter_config=dead,
            region=region,
            opts=ResourceOptions(parent=self, depends_on=policies),
        )

        archive = private_bucket(
            f"{name}-archive",
            parent=self,
            kms_key_arn=key,
            retention_days=args.archive_retention_days,
            region=region,
            tags=tags,
        )
        firehose_role = aws.iam.Role(
            f"{name}-firehose",
            path="/mailinfra/",
            assume_role_policy=service_trust("firehose.amazonaws.com", acct),
            tags=tags,
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-firehose-policy",
            role=firehose_role.id,
            policy=archive.arn.apply(lambda arn: json.dumps(_firehose_policy(arn, region, acct), sort_keys=True)),
            opts=child,
        )
        # The key policy names no account root, so an IAM policy alone cannot let the role
        # use the key: a grant does, for exactly what S3 SSE-KMS writes need.
        grant = aws.kms.Grant(
            f"{name}-firehose-key",
            key_id=key,
            grantee_principal=firehose_role.arn,
            operations=["GenerateDataKey", "Decrypt"],
            region=region,
            opts=child,
        )
        logging = None
        if args.log_group_name is not None:
            stream = aws.cloudwatch.LogStream(
                f"{name}-firehose-errors",
                log_group_name=args.log_group_name,
                name="firehose-s3-delivery",
                region=region,
                opts=child,
            )
            logging = aws.kinesis.FirehoseDeliveryStreamExtendedS3ConfigurationCloudwatchLoggingOptionsArgs(
                enabled=True, log_group_name=args.log_group_name, log_stream_name=stream.name
            )
        firehose = aws.kinesis.FirehoseDeliveryStream(
            f"{name}-archive-stream",
            destination="extended_s3",
            server_side_encryption=aws.kinesis.FirehoseDeliveryStreamServerSideEncryptionArgs(
                enabled=True, key_type="CUSTOMER_MANAGED_CMK", key_arn=key
            ),
            extended_s3_configuration=aws.kinesis.FirehoseDeliveryStreamExtendedS3ConfigurationArgs(
                bucket_arn=archive.arn,
                role_arn=firehose_role.arn,
                prefix="events/",
                buffering_interval=300,
                buffering_size=5,
                compression_format="GZIP",
                kms_key_arn=key,
                cloudwatch_logging_options=logging,
            ),
            region=region,
            tags=tags,
            opts=ResourceOptions(parent=self, depends_on=[grant, archive.encryption]),
        )
        events_role = aws.iam.Role(
            f"{name}-to-archive-role",
            path="/mailinfra/",
            assume_role_policy=rule.arn.apply(lambda arn: service_trust("events.amazonaws.com", acct, arn)),
            tags=tags,
            opts=child,
        )
        events_policy = aws.iam.RolePolicy(
            f"{name}-to-archive-policy",
            role=events_role.id,
            policy=firehose.arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {"Effect": "Allow", "Action": ["firehose:PutRecord", "firehose:PutRecordBatch"], "Resource": arn}
                        ],
                    },
                    sort_keys=True,
                )
            ),
            opts=child,
        )
        aws.cloudwatch.EventTarget(
            f"{name}-to-archive",
            rule=rule.name,
            arn=firehose.arn,
            role_arn=events_role.arn,
            retry_policy=retry,
            dead_letter_config=dead,
            region=region,
            opts=ResourceOptions(parent=self, depends_on=[events_policy, *policies]),
        )

        for slug, set_name in args.configuration_sets:
            aws.sesv2.ConfigurationSetEventDestination(
                f"{name}-{slug}",
                configuration_set_name=set_name,
                event_destination_name=_ses_name(f"{slug}-eventbridge"),
                event_destination=aws.sesv2.ConfigurationSetEventDestinationEventDestinationArgs(
                    enabled=True,
                    matching_event_types=types,
                    event_bridge_destination=aws.sesv2.ConfigurationSetEventDestinationEventDestinationEventBridgeDestinationArgs(
                        event_bus_arn=bus
                    ),
                ),
                region=region,
                opts=child,
            )

        if args.alarm_topic_arn is not None:
            alarm_on_any(
                f"{name}-dlq-not-empty",
                parent=self,
                description="mailinfra: SES events could not be delivered or processed (dead-letter queue); "
                "README 'SES event pipeline'",
                namespace="AWS/SQS",
                metric_name="ApproximateNumberOfMessagesVisible",
                dimensions={"QueueName": dlq.name},
                statistic="Maximum",
                topic_arn=args.alarm_topic_arn,
                region=region,
                tags=tags,
            )

        self.queue_url = queue.url
        self.queue_arn = queue.arn
        self.dead_letter_queue_arn = dlq.arn
        self.archive_bucket = archive.name
        self.rule_arn = rule.arn
        self.register_outputs(
            {
                "queue_url": self.queue_url,
                "queue_arn": self.queue_arn,
                "dead_letter_queue_arn": self.dead_letter_queue_arn,
                "archive_bucket": self.archive_bucket,
            }
        )


def _firehose_policy(bucket_arn: str, region: str, account_id: str) -> dict[str, Any]:
    """What Firehose's S3 delivery needs, on the archive bucket only (Firehose Developer Guide)."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "WriteArchive",
            "Effect": "Allow",
            "Action": [
                "s3:AbortMultipartUpload",
                "s3:GetBucketLocation",
                "s3:GetObject",
                "s3:ListBucket",
                "s3:ListBucketMultipartUploads",
                "s3:PutObject",
            ],
            "Resource": [bucket_arn, f"{bucket_arn}/*"],
        },
        {
            "Sid": "DeliveryErrorLogs",
            "Effect": "Allow",
            "Action": "logs:PutLogEvents",
            "Resource": f"arn:aws:logs:{region}:{account_id}:log-group:/mailinfra/*",
        },
    ]
    return {"Version": "2012-10-17", "Statement": statements}
