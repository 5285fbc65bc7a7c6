"""ReputationAlarms: CloudWatch alarms on SES's bounce and complaint rates.

For the account and for each configuration set (whose reputation metrics SesRelay
enables: ``reputationOptions.reputationMetricsEnabled``), one alarm per rate and level:
``Reputation.BounceRate`` and ``Reputation.ComplaintRate`` (namespace ``AWS/SES``; per
set under the dimension ``ses:configuration-set``) at a *warning* and a *critical*
level, both below SES's review thresholds (5 % bounces, 0.1 % complaints; SES may pause
sending at 10 % / 0.5 %). Alarm and OK notifications go to the stack's alert topic.

The rates are fractions (0.05 = 5 %); config gives percent (:func:`alarm_specs`, pure).
Reputation metrics are computed over a representative volume and update slowly, so the
alarms use the hourly maximum and keep their state when no data arrives (no sending).
At the critical level nothing is paused automatically: the README's runbook says why a
person decides and how to pause one configuration set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
from pulumi import Input, ResourceOptions

from mailinfra.policies.mailinfra_policy.standards import aws as aws_std

from .errors import ArgsError

__all__ = ["AlarmSpec", "ReputationAlarms", "ReputationAlarmsArgs", "ReputationArgsError", "alarm_specs"]

PERIOD_SECONDS = 3600
RUNBOOK = "README 'Runbook: a reputation alarm'"


class ReputationArgsError(ArgsError):
    """An invalid ReputationAlarms argument."""


@dataclass(frozen=True)
class AlarmSpec:
    rate: str  # bounce | complaint
    level: str  # warning | critical
    percent: float

    @property
    def metric(self) -> str:
        return aws_std.SES_REPUTATION_METRICS[self.rate]

    @property
    def threshold(self) -> float:
        """The CloudWatch threshold: the metric is a fraction."""
        return round(self.percent / 100, 6)


def alarm_specs(levels: Mapping[str, float]) -> tuple[AlarmSpec, ...]:
    """``{"bounce_warning": 2.5, ...}`` -> the four alarms; each level below SES's review threshold."""
    out = []
    for rate in ("bounce", "complaint"):
        review = aws_std.SES_REVIEW_THRESHOLDS[rate]
        warning, critical = levels.get(f"{rate}_warning"), levels.get(f"{rate}_critical")
        for level, value in (("warning", warning), ("critical", critical)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < review:
                raise ReputationArgsError(
                    f"{rate}_{level}", value, f"must be a percentage above 0 and below SES's review threshold {review}"
                )
        assert warning is not None and critical is not None
        if warning >= critical:
            raise ReputationArgsError(f"{rate}_warning", warning, f"must be below {rate}_critical ({critical})")
        out += [AlarmSpec(rate, "warning", float(warning)), AlarmSpec(rate, "critical", float(critical))]
    return tuple(out)


@dataclass(frozen=True)
class ReputationAlarmsArgs:
    """``configuration_sets``: (slug, configuration set name); levels in percent."""

    region: str
    configuration_sets: tuple[tuple[str, Input[str]], ...]
    alarm_topic_arn: Input[str]
    bounce_warning: float = 2.5
    bounce_critical: float = 4.0
    complaint_warning: float = 0.05
    complaint_critical: float = 0.08
    tags: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not aws_std.is_ses_region(self.region):
            raise ReputationArgsError("region", self.region, "must be an AWS region where SES sends")
        if self.alarm_topic_arn is None or (
            isinstance(self.alarm_topic_arn, str) and not self.alarm_topic_arn.startswith("arn:")
        ):
            raise ReputationArgsError("alarm_topic_arn", self.alarm_topic_arn, "must be the alert topic's ARN")
        slugs = [s for s, _ in self.configuration_sets]
        if len(set(slugs)) != len(slugs):
            raise ReputationArgsError("configuration_sets", slugs, "must name each configuration set once")
        object.__setattr__(self, "configuration_sets", tuple(self.configuration_sets))
        self.specs  # noqa: B018 - validates the levels

    @property
    def specs(self) -> tuple[AlarmSpec, ...]:
        return alarm_specs(
            {
                "bounce_warning": self.bounce_warning,
                "bounce_critical": self.bounce_critical,
                "complaint_warning": self.complaint_warning,
                "complaint_critical": self.complaint_critical,
            }
        )


class ReputationAlarms(pulumi.ComponentResource):
    """See the module docstring. ``alarm_names``: scope -> [alarm name Outputs]."""

    def __init__(self, name: str, args: ReputationAlarmsArgs, opts: ResourceOptions | None = None) -> None:
        if not isinstance(args, ReputationAlarmsArgs):
            raise ReputationArgsError("args", type(args).__name__, "must be ReputationAlarmsArgs")
        specs = args.specs
        super().__init__("mailinfra:reputation:ReputationAlarms", name, None, opts)
        child = ResourceOptions(parent=self)
        scopes: list[tuple[str, Input[str] | None]] = [("account", None), *args.configuration_sets]
        self.alarms: list[aws.cloudwatch.MetricAlarm] = []
        for scope, set_name in scopes:
            for spec in specs:
                where = "the account" if set_name is None else "configuration set"
                self.alarms.append(
                    aws.cloudwatch.MetricAlarm(
                        f"{name}-{scope}-{spec.rate}-{spec.level}",
                        alarm_description=(
                            f"mailinfra: SES {spec.rate} rate of {where} at or above {spec.percent} % ({spec.level}; "
                            f"SES reviews at {aws_std.SES_REVIEW_THRESHOLDS[spec.rate]} %). {RUNBOOK}"
                        ),
                        namespace=aws_std.SES_METRICS_NAMESPACE,
                        metric_name=spec.metric,
                        dimensions=None if set_name is None else {aws_std.SES_CONFIGURATION_SET_DIMENSION: set_name},
                        statistic="Maximum",
                        period=PERIOD_SECONDS,
                        evaluation_periods=1,
                        threshold=spec.threshold,
                        comparison_operator="GreaterThanOrEqualToThreshold",
                        treat_missing_data="ignore",
                        alarm_actions=[args.alarm_topic_arn],
                        ok_actions=[args.alarm_topic_arn],
                        region=args.region,
                        tags=dict(args.tags),
                        opts=child,
                    )
                )
        self.register_outputs({"alarm_count": len(self.alarms)})
