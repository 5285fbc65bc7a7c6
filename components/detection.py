"""Detection: GuardDuty, DNS query logs of the sending zones, flow logs of the SMTP endpoint's VPC.

- a GuardDuty detector (findings published every 15 minutes) with the protection plans
  this footprint uses (:data:`standards.aws.GUARDDUTY_FEATURES`: S3 Protection over the
  audit, archive and report buckets; the foundational sources - CloudTrail management
  events, VPC flow logs, Route53 resolver logs - need no feature); an EventBridge rule
  on findings of severity medium and above (:func:`finding_pattern`), routed to the
  security alert topic (components/alerts.py);
- Route53 query logging for each sending Route53 zone: the log group must be in
  us-east-1 under /aws/route53/ and CloudWatch Logs must let route53.amazonaws.com
  write there (one resource policy); bounded retention;
- VPC flow logs (ALL traffic) of the VPC the SMTP interface endpoint lives in, to a
  log group with bounded retention, through a role only vpc-flow-logs may assume.

``guard_duty=False`` (dev may opt out of the paid service) declares no detector; the
pack's ``guardduty-enabled`` rule then flags it (advisory in dev).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
from pulumi import Input, ResourceOptions

from mailinfra.policies.mailinfra_policy.standards import aws as aws_std

from ._aws import log_writer_role
from .alerts import SecurityAlerts
from .errors import ArgsError

__all__ = ["Detection", "DetectionArgs", "DetectionArgsError", "finding_pattern", "query_log_policy"]


class DetectionArgsError(ArgsError):
    """An invalid Detection argument."""


def finding_pattern(min_severity: float = aws_std.GUARDDUTY_ALERT_SEVERITY) -> dict[str, Any]:
    """EventBridge pattern: GuardDuty findings of at least ``min_severity`` (4 = medium)."""
    return {
        "source": ["aws.guardduty"],
        "detail-type": ["GuardDuty Finding"],
        "detail": {"severity": [{"numeric": [">=", min_severity]}]},
    }


def query_log_policy(account_id: str) -> dict[str, Any]:
    """CloudWatch Logs resource policy: Route53 writes query logs of this account's zones."""
    region = aws_std.ROUTE53_QUERY_LOG_REGION
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Route53QueryLogs",
                "Effect": "Allow",
                "Principal": {"Service": "route53.amazonaws.com"},
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": f"arn:aws:logs:{region}:{account_id}:log-group:{aws_std.ROUTE53_QUERY_LOG_PREFIX}*",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account_id},
                    "ArnLike": {"aws:SourceArn": "arn:aws:route53:::hostedzone/*"},
                },
            }
        ],
    }


@dataclass(frozen=True)
class DetectionArgs:
    """``query_log_zones``: (zone name, Route53 zone id) of the sending zones."""

    stack: str
    region: str
    account_id: str
    retention_days: int
    guard_duty: bool = True
    query_log_zones: Sequence[tuple[str, str]] = ()
    flow_log_vpc_id: Input[str] | None = None
    tags: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        DetectionArgsError.check_where(self.region, self.account_id)
        if self.retention_days not in aws_std.LOG_RETENTION_DAYS:
            raise DetectionArgsError("retention_days", self.retention_days, "must be a retention CloudWatch Logs accepts")
        zones = tuple(self.query_log_zones)
        for zone_name, zone_id in zones:
            if not aws_std.is_route53_zone_id(zone_id):
                raise DetectionArgsError("query_log_zones", zone_id, f"zone {zone_name}: must be a Route53 zone id")
        object.__setattr__(self, "query_log_zones", zones)
        if isinstance(self.flow_log_vpc_id, str) and not self.flow_log_vpc_id.startswith("vpc-"):
            raise DetectionArgsError("flow_log_vpc_id", self.flow_log_vpc_id, "must be a VPC id (vpc-...)")


class Detection(pulumi.ComponentResource):
    """See the module docstring."""

    def __init__(self, name: str, args: DetectionArgs, alerts: SecurityAlerts, opts: ResourceOptions | None = None) -> None:
        if not isinstance(args, DetectionArgs):
            raise DetectionArgsError("args", type(args).__name__, "must be DetectionArgs")
        super().__init__("mailinfra:detection:Detection", name, None, opts)
        child = ResourceOptions(parent=self)
        region, tags = args.region, dict(args.tags)
        self.detector_id: pulumi.Output[str] | None = None

        if args.guard_duty:
            detector = aws.guardduty.Detector(
                f"{name}-guardduty",
                enable=True,
                finding_publishing_frequency=aws_std.GUARDDUTY_FINDING_FREQUENCY,
                region=region,
                tags=tags,
                opts=child,
            )
            for feature in aws_std.GUARDDUTY_FEATURES:
                aws.guardduty.DetectorFeature(
                    f"{name}-guardduty-{feature.lower().replace('_', '-')}",
                    detector_id=detector.id,
                    name=feature,
                    status="ENABLED",
                    region=region,
                    opts=child,
                )
            rule = aws.cloudwatch.EventRule(
                f"{name}-findings",
                description="mailinfra: GuardDuty findings of severity medium (4) and above. README 'Runbook: a GuardDuty finding'",
                event_pattern=json.dumps(finding_pattern(), sort_keys=True),
                region=region,
                tags=tags,
                opts=child,
            )
            alerts.route("guardduty-findings", rule)
            self.detector_id = detector.id

        if args.query_log_zones:
            us_east_1 = aws_std.ROUTE53_QUERY_LOG_REGION
            resource_policy = aws.cloudwatch.LogResourcePolicy(
                f"{name}-route53-query-logs",
                policy_name=f"mailinfra-{args.stack}-route53-query-logs",
                policy_document=json.dumps(query_log_policy(args.account_id), sort_keys=True),
                region=us_east_1,
                opts=child,
            )
            for zone_name, zone_id in args.query_log_zones:
                slug = zone_name.replace(".", "-")
                group = aws.cloudwatch.LogGroup(
                    f"{name}-dns-{slug}",
                    name=f"{aws_std.ROUTE53_QUERY_LOG_PREFIX}{zone_name}",
                    retention_in_days=args.retention_days,
                    region=us_east_1,
                    tags=tags,
                    opts=child,
                )
                aws.route53.QueryLog(
                    f"{name}-dns-{slug}",
                    zone_id=zone_id,
                    cloudwatch_log_group_arn=group.arn,
                    opts=ResourceOptions(parent=self, depends_on=[resource_policy, group]),
                )

        if args.flow_log_vpc_id is not None:
            group = aws.cloudwatch.LogGroup(
                f"{name}-flow-logs",
                name=f"/mailinfra/{args.stack}/vpc-flow-logs",
                retention_in_days=args.retention_days,
                region=region,
                tags=tags,
                opts=child,
            )
            role = log_writer_role(
                f"{name}-flow-logs",
                parent=self,
                service="vpc-flow-logs.amazonaws.com",
                account_id=args.account_id,
                log_group_arn=group.arn,
                actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                resources=lambda arn: [arn, f"{arn}:*"],
                tags=tags,
            )
            aws.ec2.FlowLog(
                f"{name}-flow-logs",
                vpc_id=args.flow_log_vpc_id,
                traffic_type="ALL",
                log_destination_type="cloud-watch-logs",
                log_destination=group.arn,
                iam_role_arn=role.arn,
                max_aggregation_interval=600,
                region=region,
                tags=tags,
                opts=child,
            )
        self.register_outputs({"detector_id": self.detector_id})
