"""Privacy rules (GDPR, CCPA/CPRA): the lawful basis for marketing mail recorded, the CCPA
"Do Not Sell or Share" opt-out page recorded where the audience includes California, and
every S3 bucket holding personal data expiring its objects.

Open/click tracking consent is ``ses-open-click-tracking-consent`` (events.py); CloudWatch
log-group retention is ``compliance-log-retention`` (compliance.py): not restated here.

Stack config is read as the CLI hands it to the pack (``<project>:compliance`` =
{lawfulBasis, audiences, ccpaOptOutUrl}); each fact can be given in policy config instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pulumi_policy import Severity, StackValidationArgs

from .common import (
    PROD_STAGING,
    StackView,
    as_bool,
    as_int,
    as_json,
    dependencies_of,
    get,
    is_unknown,
    project_config,
    stack_policy,
    strings,
)
from .standards import aws, privacy
from .standards._uris import https_host

EMAIL_IDENTITY = "aws:sesv2/emailIdentity:EmailIdentity"
BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
LIFECYCLE_TYPES = (
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
)
VERSIONING_TYPES = (
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketVersioningV2:BucketVersioningV2",
)


def _facts(cfg: dict[str, Any]) -> dict[str, Any]:
    """The stack's compliance section, overridden by policy config."""
    section = as_json(project_config().get("compliance"))
    section = section if isinstance(section, dict) else {}
    return {**section, **{k: v for k, v in cfg.items() if k not in ("environment", "maxDays") and v is not None}}


def _marketing(view: StackView) -> bool:
    """Whether the stack sends mail with a marketing stream (as compliance-marketing-facts judges)."""
    if not view.of_type(EMAIL_IDENTITY):
        return False
    domains = as_json(project_config().get("domains"))
    return not (
        isinstance(domains, list)
        and domains
        and all(isinstance(d, dict) and as_bool(d.get("marketing")) is False for d in domains)
    )


def _lawful_basis(args: StackValidationArgs, cfg: dict[str, Any]) -> Iterator[tuple[str, str | None]]:
    if not _marketing(StackView.of(args)):
        return
    basis = _facts(cfg).get("lawfulBasis")
    if basis not in privacy.LAWFUL_BASES:
        shown = "" if basis is None else f" ({basis!r} is not one)"
        yield (
            f"marketing sending needs its lawful basis recorded as config (compliance.lawfulBasis: "
            f"{' or '.join(privacy.LAWFUL_BASES)}; {privacy.LAWFUL_BASIS_RULE}){shown}",
            None,
        )


def _ccpa(args: StackValidationArgs, cfg: dict[str, Any]) -> Iterator[tuple[str, str | None]]:
    if not StackView.of(args).of_type(EMAIL_IDENTITY):
        return
    facts = _facts(cfg)
    audiences = strings(as_json(facts.get("audiences")))
    if not privacy.needs_ccpa_opt_out(audiences):
        return
    url = facts.get("ccpaOptOutUrl")
    if not isinstance(url, str) or https_host(url) is None:
        yield (
            f'the audience ({", ".join(audiences)}) includes California: record the https "Do Not Sell or Share" '
            f"opt-out page as config (compliance.ccpaOptOutUrl; {privacy.CCPA_RULE})",
            None,
        )


# ------------------------------------------------------------------ retention


def _joined(view: StackView, types: tuple[str, ...], buckets: set[str]) -> dict[str, list[dict[str, Any]]]:
    """bucket URN -> the props of the resources of ``types`` configuring it (by dependency)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for resource in view.of_type(*types):
        for dep in dependencies_of(resource):
            if dep.urn in buckets:
                out.setdefault(dep.urn, []).append(view.props[resource.urn])
    return out


def _whole_bucket(rule: Any) -> bool:
    """A rule without a filter, or with an empty prefix and no tag/size condition, covers every object."""
    flt = get(rule, "filter")
    if flt is None or flt == {}:
        return not get(rule, "prefix")
    if is_unknown(flt):
        return True
    return not get(flt, "prefix") and all(
        get(flt, k) is None for k in ("and", "tag", "objectSizeGreaterThan", "objectSizeLessThan")
    )


def _days(lifecycles: list[dict[str, Any]], *path: str) -> int | None | bool:
    """The shortest whole-bucket expiration at ``path``; True when unknown; None when none."""
    found: list[int] = []
    for props in lifecycles:
        rules = get(props, "rules")
        if is_unknown(rules):
            return True
        for rule in rules if isinstance(rules, list) else []:
            value = get(rule, *path)
            if is_unknown(value) or is_unknown(get(rule, "status")):
                return True
            days = as_int(value)
            if get(rule, "status") == "Enabled" and days and _whole_bucket(rule):
                found.append(days)
    return min(found) if found else None


def _retention(args: StackValidationArgs, cfg: dict[str, Any]) -> Iterator[tuple[str, str | None]]:
    view = StackView.of(args)
    buckets = {r.urn for r in view.of_type(*BUCKET_TYPES)}
    if not buckets:
        return
    maximum = int(cfg["maxDays"])
    # Content CloudFront serves to anyone (the MTA-STS policy file) is public, not personal data.
    public = {d.urn for dist in view.of_type(*aws.CLOUDFRONT_SERVING_TYPES) for d in dependencies_of(dist) if d.urn in buckets}
    lifecycles = _joined(view, LIFECYCLE_TYPES, buckets)
    versioned = {
        urn
        for urn, configs in _joined(view, VERSIONING_TYPES, buckets).items()
        if any(get(c, "versioningConfiguration", "status") in ("Enabled", "Suspended") for c in configs)
    }
    for resource in view.of_type(*BUCKET_TYPES):
        if resource.urn in public:
            continue
        props = view.props[resource.urn]
        if as_bool(get(props, "objectLockEnabled")) or get(props, "versioning", "enabled") is True:
            versioned.add(resource.urn)
        checks = [("expiration", "days")]
        if resource.urn in versioned:  # a current-version expiration only hides objects behind a delete marker
            checks.append(("noncurrentVersionExpiration", "noncurrentDays"))
        for path in checks:
            days = _days(lifecycles.get(resource.urn, []), *path)
            what = ".".join(path)
            if days is None:
                yield (
                    f"bucket {resource.name!r} has no enabled lifecycle rule with {what} over all objects: "
                    f"personal data in it never expires ({privacy.RETENTION_RULE})",
                    resource.urn,
                )
            elif days is not True and days > maximum:
                yield (f"bucket {resource.name!r} keeps objects {days} days ({what}), over the {maximum}-day bound", resource.urn)


POLICIES = [
    stack_policy(
        "compliance-lawful-basis",
        "Marketing sending records its GDPR lawful basis as stack config: consent (Art. 6(1)(a)) or "
        "legitimate interests (Art. 6(1)(f), the ePrivacy soft opt-in for existing customers).",
        section="compliance",
        check=_lawful_basis,
        severity=Severity.MEDIUM,
        remediation="Set mailinfra:compliance.lawfulBasis: consent (or legitimate-interests for the soft opt-in).",
        levels=PROD_STAGING,
        config={"lawfulBasis": {"type": "string", "enum": list(privacy.LAWFUL_BASES)}},
    ),
    stack_policy(
        "compliance-ccpa-opt-out",
        'Where the audience includes California (compliance.audiences has US or US-CA), an https "Do Not Sell '
        'or Share" opt-out page is recorded as stack config (CCPA/CPRA).',
        section="compliance",
        check=_ccpa,
        severity=Severity.MEDIUM,
        remediation="Set mailinfra:compliance.ccpaOptOutUrl to the https opt-out page.",
        levels=PROD_STAGING,
        config={"audiences": {"type": "array", "items": {"type": "string"}}, "ccpaOptOutUrl": {"type": "string"}},
    ),
    stack_policy(
        "compliance-personal-data-retention",
        "Every S3 bucket with personal data (event archive, report intake, audit logs; not content CloudFront "
        "serves publicly) expires its objects (and, when versioned, their old versions) within maxDays.",
        section="compliance",
        check=_retention,
        severity=Severity.MEDIUM,
        remediation="Give the bucket a BucketLifecycleConfiguration rule over all objects with expiration.days "
        "(and noncurrentVersionExpiration when versioned), as components/buckets.py does.",
        levels=PROD_STAGING,
        config={"maxDays": {"type": "integer", "default": 3653, "minimum": 1}},
    ),
]
