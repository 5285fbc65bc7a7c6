"""Posture: AWS Config records the stack's resources and judges them between deploys.

AWS Config rather than Security Hub (README "Continuous audit" has the cost reasoning):
a recorder limited to the resource types this stack creates
(:data:`standards.aws.CONFIG_RECORDED_TYPES`), a delivery channel into the audit bucket
(prefix ``config/``, encrypted under the CMK), and the AWS managed rules of
:data:`standards.aws.CONFIG_MANAGED_RULES` (trail, GuardDuty, MFA, password policy,
access-key age, bucket controls, flow logs, no open SSH). Every change of a rule to
NON_COMPLIANT is routed by EventBridge to the security alert topic.

The recorder's role is the stack's own (trust: config.amazonaws.com of this account;
the AWS managed policy ``AWS_ConfigRole``) rather than the service-linked role, which
an account may already have and a second create would fail on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
from pulumi import Input, ResourceOptions

from mailinfra.policies.mailinfra_policy.standards import aws as aws_std

from ._aws import service_trust
from .alerts import SecurityAlerts
from .errors import ArgsError

__all__ = ["Posture", "PostureArgs", "PostureArgsError", "noncompliant_pattern"]

CONFIG_ROLE_POLICY = "arn:aws:iam::aws:policy/service-role/AWS_ConfigRole"
# Rules that take parameters: the values are the project's (standards/aws.py).
RULE_PARAMETERS: Mapping[str, Mapping[str, str]] = {
    "IAM_PASSWORD_POLICY": {
        "MinimumPasswordLength": str(aws_std.PASSWORD_MIN_LENGTH),
        "PasswordReusePrevention": str(aws_std.PASSWORD_REUSE_PREVENTION),
        "MaxPasswordAge": str(aws_std.PASSWORD_MAX_AGE_DAYS),
    },
    "ACCESS_KEYS_ROTATED": {"maxAccessKeyAge": str(aws_std.KEY_MAX_AGE_DAYS)},
    "RESTRICTED_INCOMING_TRAFFIC": {"blockedPort1": "3389"},
}


class PostureArgsError(ArgsError):
    """An invalid Posture argument."""


def noncompliant_pattern() -> dict[str, Any]:
    """EventBridge pattern: an AWS Config rule evaluated a resource NON_COMPLIANT."""
    return {
        "source": ["aws.config"],
        "detail-type": ["Config Rules Compliance Change"],
        "detail": {"newEvaluationResult": {"complianceType": ["NON_COMPLIANT"]}},
    }


@dataclass(frozen=True)
class PostureArgs:
    stack: str
    region: str
    account_id: str
    bucket_name: Input[str]
    kms_key_arn: Input[str]
    tags: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        PostureArgsError.check_where(self.region, self.account_id)


class Posture(pulumi.ComponentResource):
    """See the module docstring."""

    def __init__(self, name: str, args: PostureArgs, alerts: SecurityAlerts, opts: ResourceOptions | None = None) -> None:
        if not isinstance(args, PostureArgs):
            raise PostureArgsError("args", type(args).__name__, "must be PostureArgs")
        super().__init__("mailinfra:posture:Posture", name, None, opts)
        child = ResourceOptions(parent=self)
        region, tags = args.region, dict(args.tags)
        recorder_name = f"mailinfra-{args.stack}"
        role = aws.iam.Role(
            f"{name}-recorder-role",
            path="/mailinfra/",
            assume_role_policy=service_trust("config.amazonaws.com", args.account_id),
            tags=tags,
            opts=child,
        )
        aws.iam.RolePolicyAttachment(f"{name}-recorder-role-policy", role=role.name, policy_arn=CONFIG_ROLE_POLICY, opts=child)
        recorder = aws.cfg.Recorder(
            f"{name}-recorder",
            name=recorder_name,
            role_arn=role.arn,
            recording_group=aws.cfg.RecorderRecordingGroupArgs(
                all_supported=False,
                include_global_resource_types=False,
                resource_types=list(aws_std.CONFIG_RECORDED_TYPES),
                recording_strategies=[
                    aws.cfg.RecorderRecordingGroupRecordingStrategyArgs(use_only="INCLUSION_BY_RESOURCE_TYPES")
                ],
            ),
            recording_mode=aws.cfg.RecorderRecordingModeArgs(recording_frequency="CONTINUOUS"),
            region=region,
            opts=child,
        )
        channel = aws.cfg.DeliveryChannel(
            f"{name}-delivery",
            name=recorder_name,
            s3_bucket_name=args.bucket_name,
            s3_key_prefix="config",
            s3_kms_key_arn=args.kms_key_arn,
            snapshot_delivery_properties=aws.cfg.DeliveryChannelSnapshotDeliveryPropertiesArgs(
                delivery_frequency="TwentyFour_Hours"
            ),
            region=region,
            opts=ResourceOptions(parent=self, depends_on=[recorder]),
        )
        status = aws.cfg.RecorderStatus(
            f"{name}-recorder-status",
            name=recorder.name,
            is_enabled=True,
            region=region,
            opts=ResourceOptions(parent=self, depends_on=[channel]),
        )
        for source in aws_std.CONFIG_MANAGED_RULES:
            params = RULE_PARAMETERS.get(source)
            aws.cfg.Rule(
                f"{name}-{source.lower().replace('_', '-')}",
                name=f"mailinfra-{args.stack}-{source.lower().replace('_', '-')}",
                source=aws.cfg.RuleSourceArgs(owner="AWS", source_identifier=source),
                input_parameters=json.dumps(dict(params), sort_keys=True) if params else None,
                region=region,
                tags=tags,
                opts=ResourceOptions(parent=self, depends_on=[status]),
            )
        rule = aws.cloudwatch.EventRule(
            f"{name}-noncompliant",
            description="mailinfra: an AWS Config rule found a resource NON_COMPLIANT",
            event_pattern=json.dumps(noncompliant_pattern(), sort_keys=True),
            region=region,
            tags=tags,
            opts=child,
        )
        alerts.route("config-noncompliant", rule)
        self.recorder_name = recorder.name
        self.register_outputs({"recorder": self.recorder_name})
