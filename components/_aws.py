"""IAM and CloudWatch shapes the components declare alike (audit, detection, events, posture).

- :func:`service_trust`: the trust policy of a role only an AWS service of this account
  may assume (optionally only on behalf of one resource: the confused-deputy guard);
- :func:`log_writer_role`: a role a service assumes to write into one log group
  (CloudTrail to its group, VPC flow logs to theirs), with an inline policy on that group only;
- :func:`alarm_on_any`: an alarm that fires on the first occurrence in five minutes and
  treats no data as nothing happened (event counts, a queue's depth).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws
from pulumi import Input, Output, ResourceOptions

__all__ = ["alarm_on_any", "log_writer_role", "service_trust"]


def service_trust(service: str, account_id: str, source_arn: str | None = None) -> str:
    """JSON trust policy: ``service`` may assume the role for ``account_id`` (and ``source_arn``)."""
    condition: dict[str, Any] = {"StringEquals": {"aws:SourceAccount": account_id}}
    if source_arn is not None:
        condition["ArnEquals"] = {"aws:SourceArn": source_arn}
    statement = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole", "Condition": condition}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]}, sort_keys=True)


def log_writer_role(
    prefix: str,
    *,
    parent: pulumi.Resource,
    service: str,
    account_id: str,
    log_group_arn: Output[str],
    actions: Sequence[str],
    resources: Callable[[str], str | list[str]],
    tags: Mapping[str, Any],
    sid: str | None = None,
) -> aws.iam.Role:
    """Declare ``{prefix}-role`` (``service`` of the account) and ``{prefix}-delivery``, its
    policy: ``actions`` on ``resources(log_group_arn)``, nothing else."""
    child = ResourceOptions(parent=parent)
    role = aws.iam.Role(
        f"{prefix}-role",
        path="/mailinfra/",
        assume_role_policy=service_trust(service, account_id),
        tags=dict(tags),
        opts=child,
    )

    def policy(arn: str) -> str:
        statement: dict[str, Any] = {"Effect": "Allow", "Action": list(actions), "Resource": resources(arn)}
        if sid is not None:
            statement["Sid"] = sid
        return json.dumps({"Version": "2012-10-17", "Statement": [statement]}, sort_keys=True)

    aws.iam.RolePolicy(f"{prefix}-delivery", role=role.id, policy=log_group_arn.apply(policy), opts=child)
    return role


def alarm_on_any(
    name: str,
    *,
    parent: pulumi.Resource,
    description: str,
    namespace: str,
    metric_name: str,
    statistic: str,
    topic_arn: Input[str],
    region: str,
    tags: Mapping[str, Any],
    dimensions: Mapping[str, Input[str]] | None = None,
) -> aws.cloudwatch.MetricAlarm:
    """Alarm to ``topic_arn`` when the metric's ``statistic`` reaches 1 in a five-minute period."""
    return aws.cloudwatch.MetricAlarm(
        name,
        alarm_description=description,
        namespace=namespace,
        metric_name=metric_name,
        dimensions=None if dimensions is None else dict(dimensions),
        statistic=statistic,
        period=300,
        evaluation_periods=1,
        threshold=1,
        comparison_operator="GreaterThanOrEqualToThreshold",
        treat_missing_data="notBreaching",
        alarm_actions=[topic_arn],
        region=region,
        tags=dict(tags),
        opts=ResourceOptions(parent=parent),
    )
