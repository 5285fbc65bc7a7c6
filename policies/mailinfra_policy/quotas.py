"""The quota budget: what the stack declares, counted against the AWS quotas it can hit.

The quotas, their values, scopes and sources are ``standards/quotas.py``; this rule only
reads the resources: which scope (account, region, hosted zone, IAM user) each one
falls in. A raised quota is stated as ``<project>:quotas.<key>`` in the stack config,
or as this rule's policy config ``quotas`` (for programs that are not mailinfra's own;
it wins). Resources that exist in the account outside this stack are not seen: state
the quota that is left for the stack if the account is shared.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pulumi_policy import Severity, StackValidationArgs

from .common import StackView, as_json, dependencies_of, get, project_config, resource_region, stack_policy
from .standards import quotas as std

ZONE = "aws:route53/zone:Zone"
RECORD = "aws:route53/record:Record"
USER = "aws:iam/user:User"


def _stated(cfg: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for source in (project_config().get("quotas"), cfg.get("quotas")):
        value = as_json(source)
        if isinstance(value, dict):
            out.update(value)
    return out


def _dependency(resource: Any, type_: str) -> str | None:
    """The URN of the first resource of ``type_`` that ``resource`` depends on."""
    return next((d.urn for d in dependencies_of(resource) if d.resource_type == type_), None)


def _scope(quota: std.Quota, resource: Any, props: dict[str, Any]) -> str | None:
    """The scope a resource counts in; None when the plan cannot tell (not counted)."""
    if quota.scope == std.ACCOUNT:
        return "account"
    if quota.scope == std.REGION:
        region = resource_region(props, resource.provider)
        return region if isinstance(region, str) else None
    if quota.scope == std.HOSTED_ZONE:  # the zone id, or the Zone resource of this stack it is written to
        zone = get(props, "zoneId")
        return zone if isinstance(zone, str) else _dependency(resource, ZONE)
    user = get(props, "user")  # IAM_USER
    return user if isinstance(user, str) else _dependency(resource, USER)


def _hosted_zones(view: StackView) -> int:
    """Zones the stack creates plus the existing zones (by id) its records are written to."""
    created = len(view.of_type(ZONE))
    used = {z for r in view.of_type(RECORD) if isinstance(z := get(view.props[r.urn], "zoneId"), str)}
    return created + len(used)


def _is_stated(quota: std.Quota, stated: dict[str, Any]) -> bool:
    try:
        return quota.key in stated and std.check_value(quota.key, stated[quota.key]) > 0
    except std.QuotaError:
        return False


def _where(quota: std.Quota, scope: str) -> str:
    return "" if quota.scope == std.ACCOUNT else f" in {quota.scope} {scope}"


def _budget(args: StackValidationArgs, cfg: dict[str, Any]) -> Iterator[tuple[str, str | None]]:
    view = StackView.of(args)
    stated = _stated(cfg)
    for quota in std.QUOTAS:
        members = view.of_type(*quota.types)
        if quota.key == "route53HostedZones":
            counts = {"account": _hosted_zones(view)}
        else:
            counts = std.count_by(_scope(quota, r, view.props[r.urn]) for r in members)
            if quota.scope == std.HOSTED_ZONE:
                counts = {zone: n + std.ROUTE53_ZONE_RECORDS_OVERHEAD for zone, n in counts.items()}
        quota_limit = std.limit(quota, stated)
        for scope, n in std.over(counts, quota_limit):
            if quota.adjustable:
                source = (
                    f"the quota stated in mailinfra:quotas.{quota.key} ({quota_limit})"
                    if _is_stated(quota, stated)
                    else f"AWS's default of {quota.default}"
                )
                fix = f"request an increase and state it in mailinfra:quotas.{quota.key}, or spread the fleet over accounts"
            else:
                source, fix = f"the fixed quota of {quota.default}", "it cannot be raised"
            # the first resource past the quota (a hosted zone's SOA and NS come first)
            in_scope = [r.urn for r in members if _scope(quota, r, view.props[r.urn]) == scope]
            past = quota_limit - (std.ROUTE53_ZONE_RECORDS_OVERHEAD if quota.scope == std.HOSTED_ZONE else 0)
            urn = in_scope[max(past, 0)] if len(in_scope) > max(past, 0) else None
            yield (
                f"{quota.name}: the stack declares {n}{_where(quota, scope)}, over {source} ({quota.url}); {fix}",
                urn,
            )


POLICIES = [
    stack_policy(
        "aws-quota-budget",
        "What the stack declares fits the AWS quotas it can hit (CloudFront distributions, Route 53 records per "
        "hosted zone and hosted zones, IAM users and access keys per user, ACM certificates, SES identities and "
        "configuration sets, SNS topics, S3 buckets): each count stays within AWS's default or the raised value "
        "that mailinfra:quotas states.",
        section="quotas",
        check=_budget,
        severity=Severity.HIGH,
        remediation=(
            "Declare fewer resources of the named kind (share them across the fleet), or request a quota increase "
            "(aws.servicequotas.ServiceQuota, README 'AWS quotas') and state the granted value in mailinfra:quotas."
        ),
        config={"quotas": {"type": "object", "description": "quota key -> the value AWS granted (wins over mailinfra:quotas)"}},
    ),
]
