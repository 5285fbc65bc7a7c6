"""SecurityAlerts: the encrypted SNS topic that intrusion detection and the continuous audit notify.

Separate from each KeyStore's key-alarm topic because an SNS topic has one policy and
that policy names its publishers: here the EventBridge rules that route GuardDuty
findings and failed AWS Config rules (:meth:`SecurityAlerts.route`), and this
account's CloudWatch alarms (the CloudTrail metric alarms of components/audit.py).
The topic is encrypted under the stack's CMK, whose key policy already lets
EventBridge and CloudWatch use it for this account's topics (keystore.key_policy).

Call :meth:`route` for every rule, then :meth:`seal` once: the topic policy is built
from the routed rules' ARNs (``aws:SourceArn``), so no other rule can publish.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
from pulumi import Input, Output, ResourceOptions

from mailinfra.policies.mailinfra_policy.standards._uris import address_domain

from .errors import ArgsError

__all__ = ["SecurityAlerts", "SecurityAlertsArgs", "SecurityAlertsError", "security_topic_policy"]


class SecurityAlertsError(ArgsError):
    """An invalid SecurityAlerts argument."""


def security_topic_policy(topic_arn: str, rule_arns: Sequence[str], account_id: str) -> dict[str, Any]:
    """Publishers of the security topic: the routed rules and this account's alarms (pure)."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "CloudWatchAlarms",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": topic_arn,
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        }
    ]
    if rule_arns:
        statements.append(
            {
                "Sid": "EventBridgeSecurityRules",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account_id},
                    "ArnEquals": {"aws:SourceArn": sorted(rule_arns)},
                },
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


@dataclass(frozen=True)
class SecurityAlertsArgs:
    region: str
    account_id: str
    kms_key_arn: Input[str]
    alert_email: str | None = None
    tags: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        SecurityAlertsError.check_where(self.region, self.account_id)
        if isinstance(self.kms_key_arn, str) and not self.kms_key_arn.startswith("arn:"):
            raise SecurityAlertsError("kms_key_arn", self.kms_key_arn, "must be the CMK's ARN")
        if self.alert_email is not None and address_domain(self.alert_email) is None:
            raise SecurityAlertsError("alert_email", self.alert_email, "must be an email address")


class SecurityAlerts(pulumi.ComponentResource):
    """See the module docstring. ``topic_arn``: where security findings go."""

    topic_arn: Output[str]

    def __init__(self, name: str, args: SecurityAlertsArgs, opts: ResourceOptions | None = None) -> None:
        if not isinstance(args, SecurityAlertsArgs):
            raise SecurityAlertsError("args", type(args).__name__, "must be SecurityAlertsArgs")
        super().__init__("mailinfra:alerts:SecurityAlerts", name, None, opts)
        self._name = name
        self.args = args
        self._rules: list[aws.cloudwatch.EventRule] = []
        self._sealed = False
        child = ResourceOptions(parent=self)
        self.topic = aws.sns.Topic(
            f"{name}-topic", kms_master_key_id=args.kms_key_arn, region=args.region, tags=dict(args.tags), opts=child
        )
        self.topic_arn = self.topic.arn
        if args.alert_email:
            aws.sns.TopicSubscription(
                f"{name}-email",
                topic=self.topic.arn,
                protocol="email",
                endpoint=args.alert_email,
                region=args.region,
                opts=child,
            )

    def route(self, name: str, rule: aws.cloudwatch.EventRule) -> None:
        """Send what ``rule`` matches to the topic (before :meth:`seal`)."""
        if self._sealed:
            raise SecurityAlertsError("route", name, "the topic policy is already sealed")
        self._rules.append(rule)
        aws.cloudwatch.EventTarget(
            f"{self._name}-{name}",
            rule=rule.name,
            arn=self.topic.arn,
            region=self.args.region,
            opts=ResourceOptions(parent=self),
        )

    def seal(self) -> None:
        """The topic policy, naming every routed rule."""
        self._sealed = True
        account = self.args.account_id
        self.policy = aws.sns.TopicPolicy(
            f"{self._name}-policy",
            arn=self.topic.arn,
            policy=Output.all(self.topic.arn, *[r.arn for r in self._rules]).apply(
                lambda a: json.dumps(security_topic_policy(a[0], list(a[1:]), account), sort_keys=True)
            ),
            region=self.args.region,
            opts=ResourceOptions(parent=self),
        )
        self.register_outputs({"topic_arn": self.topic_arn})
