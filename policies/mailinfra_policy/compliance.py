"""Compliance rules: region residency, required tags, log retention, sending-domain
authentication and the marketing facts recorded in the stack config.

Stack config is read the way the CLI hands it to the pack (``PULUMI_CONFIG``):
``<project>:compliance`` = {postalAddress, unsubscribeUrl, oneClickUnsubscribe,
allowedRegions, logRetentionDays}, ``<project>:domains[].marketing``, ``aws:region``.
Each of those can be given in policy config instead (for programs that are not
mailinfra's own).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pulumi_policy import ResourceValidationArgs, Severity, StackValidationArgs

from .common import (
    PROD_STAGING,
    StackView,
    as_bool,
    as_int,
    as_json,
    dependencies_of,
    get,
    is_unknown,
    on_property,
    project_config,
    provider_props,
    resource_policy,
    resource_region,
    stack_config,
    stack_policy,
    strings,
)
from .dns import MAIL_FROM_TYPES, stack_records
from .keys import DNSSEC_REGION, KMS_KEY, is_dnssec_ksk
from .standards import aws, dmarc, kinds, spf
from .standards._common import organizational_domain
from .standards._uris import https_host

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
QUERY_LOG = "aws:route53/queryLog:QueryLog"
EMAIL_IDENTITY = "aws:sesv2/emailIdentity:EmailIdentity"
ACM_TYPES = ("aws:acm/certificate:Certificate", "aws:acm/certificateValidation:CertificateValidation")
REQUIRED_TAGS = ("owner", "environment", "data-classification")

# Services without a region (their resources are exempt from residency).
GLOBAL_PREFIXES = (
    "aws:iam/",
    "aws:route53/",
    "aws:cloudfront/",
    "aws:organizations/",
    "aws:shield/",
    "aws:budgets/",
    "aws:index/",
)

# AWS types whose inputs schema has `tags` (used when a resource omits `tags` entirely;
# a resource that has a `tags` key is taggable whatever its type).
TAGGABLE = frozenset(
    {
        "aws:kms/key:Key",
        "aws:kms/replicaKey:ReplicaKey",
        "aws:secretsmanager/secret:Secret",
        "aws:sesv2/configurationSet:ConfigurationSet",
        "aws:sesv2/emailIdentity:EmailIdentity",
        "aws:sesv2/contactList:ContactList",
        "aws:sesv2/dedicatedIpPool:DedicatedIpPool",
        "aws:iam/policy:Policy",
        "aws:iam/role:Role",
        "aws:iam/user:User",
        "aws:ec2/securityGroup:SecurityGroup",
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        "aws:ec2/vpc:Vpc",
        "aws:ec2/subnet:Subnet",
        "aws:ec2/instance:Instance",
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
        "aws:cloudwatch/logGroup:LogGroup",
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        "aws:cloudwatch/eventRule:EventRule",
        "aws:sns/topic:Topic",
        "aws:s3/bucket:Bucket",
        "aws:s3/bucketV2:BucketV2",
        "aws:route53/zone:Zone",
        "aws:lambda/function:Function",
        "aws:acm/certificate:Certificate",
    }
)


def _compliance_config() -> dict[str, Any]:
    value = project_config().get("compliance")
    value = as_json(value)
    return value if isinstance(value, dict) else {}


# ------------------------------------------------------------- region residency


def _allowed_regions(cfg: dict[str, Any]) -> list[str]:
    regions = strings(cfg.get("allowedRegions"))
    if not regions:
        regions = strings(as_json(_compliance_config().get("allowedRegions")))
    if not regions:
        default = stack_config("aws:region")
        regions = [default] if isinstance(default, str) else []
    return regions


def _depends_on(resource: Any, urns: set[str]) -> bool:
    if any(dep.urn in urns for dep in dependencies_of(resource)):
        return True
    parent = getattr(resource, "parent", None)
    return parent is not None and parent.urn in urns


def _cloudfront_certificates(view: StackView, regions: dict[str, Any]) -> set[str]:
    """ACM certificates (and their validations) in us-east-1 that CloudFront uses: a
    distribution's, or a tenant's of a multi-tenant distribution."""

    def certificates(resource: Any) -> list[Any]:
        return [d for d in dependencies_of(resource) if d.resource_type in ACM_TYPES and regions.get(d.urn) == DNSSEC_REGION]

    found: set[str] = set()
    for distribution in view.of_type(*aws.CLOUDFRONT_CERTIFICATE_USERS):
        for dep in certificates(distribution):
            found.add(dep.urn)
            found.update(d.urn for d in certificates(dep))
    return found


def _residency(args: StackValidationArgs, cfg: dict[str, Any]) -> Iterator[tuple[str, str | None]]:
    allowed = _allowed_regions(cfg)
    if not allowed:
        return
    view = StackView.of(args)
    regions: dict[str, Any] = {}
    ksk: set[str] = set()
    for resource in view.resources:
        if not resource.resource_type.startswith("aws:") or resource.resource_type.startswith(GLOBAL_PREFIXES):
            continue
        props = view.props[resource.urn]
        region = resource_region(props, resource.provider)
        regions[resource.urn] = region
        if resource.resource_type == KMS_KEY and region == DNSSEC_REGION and is_dnssec_ksk(props):
            ksk.add(resource.urn)
    cloudfront = _cloudfront_certificates(view, regions)
    # Route53 writes public-zone query logs only to us-east-1: the log group and the
    # CloudWatch Logs resource policy a QueryLog uses.
    query_logs = {
        d.urn for q in view.of_type(QUERY_LOG) for d in dependencies_of(q) if regions.get(d.urn) == aws.ROUTE53_QUERY_LOG_REGION
    }
    for resource in view.resources:
        region = regions.get(resource.urn)
        if region is None or is_unknown(region) or region in allowed:
            continue
        if resource.urn in ksk:
            continue  # documented exception: the Route53 DNSSEC KSK must be in us-east-1
        if resource.urn in cloudfront:
            continue  # documented exception: CloudFront (global) takes ACM certificates from us-east-1 only
        if resource.urn in query_logs:
            continue  # documented exception: Route53 query logs (README "Intrusion detection")
        if region == DNSSEC_REGION and ksk and _depends_on(resource, ksk):
            continue  # the KSK's alias / alarms live beside it
        yield (
            (f"{resource.resource_type} {resource.name!r} is in {region}, outside the allowed regions ({', '.join(allowed)})"),
            resource.urn,
        )


# ---------------------------------------------------------------- tags


def _tags(type_: str, props: dict[str, Any], args: ResourceValidationArgs, cfg: dict[str, Any]) -> Iterator[str]:
    if not type_.startswith("aws:"):
        return
    raw = get(props, "tags")
    if "tags" not in props and type_ not in TAGGABLE:
        return
    if is_unknown(raw):
        return
    tags = as_json(raw) if raw is not None else {}
    if is_unknown(tags) or not isinstance(tags, dict):
        tags = {}
    provider = provider_props(args.provider)
    default_tags = as_json(get(provider, "defaultTags"))
    if isinstance(default_tags, dict):
        inherited = as_json(default_tags.get("tags"))
        if isinstance(inherited, dict):
            tags = {**inherited, **tags}
    required = strings(cfg.get("requiredTags"))
    missing = [t for t in required if t not in tags or (not is_unknown(tags[t]) and not tags[t])]
    if missing:
        yield f"missing required tag(s): {', '.join(missing)}"


# ---------------------------------------------------------------- logs


@on_property("retentionInDays")
def _retention(value: Any, cfg: dict[str, Any]) -> Iterator[str]:
    days = as_int(value)
    maximum = int(cfg["maxDays"])
    if not days:
        yield "log group has no retentionInDays: its logs never expire"
    elif days > maximum:
        yield f"retentionInDays is {days}, over the {maximum}-day bound"


# ------------------------------------------------------- sending domains


def _domain_auth(args: StackValidationArgs, cfg: dict[str, Any]) -> Iterator[tuple[str, str | None]]:
    view = StackView.of(args)
    identities: dict[str, Any] = {}
    for resource in view.of_type(EMAIL_IDENTITY):
        name = get(view.props[resource.urn], "emailIdentity")
        if isinstance(name, str) and not is_unknown(name) and "@" not in name:
            identities[name.lower().rstrip(".")] = resource
    if not identities:
        return
    mail_from: dict[str, set[str]] = {}
    for type_, identity_key in MAIL_FROM_TYPES:
        for resource in view.of_type(type_):
            props = view.props[resource.urn]
            identity, domain = get(props, identity_key), get(props, "mailFromDomain")
            if isinstance(identity, str) and isinstance(domain, str):
                mail_from.setdefault(identity.lower(), set()).add(domain.lower().rstrip("."))
    spf_names: set[str] = set()
    dmarc_names: set[str] = set()
    dkim_domains: set[str] = set()
    unnamed_dependents: set[str] = set()  # identity URNs that records with unknown names depend on
    identity_urns = {r.urn for r in identities.values()}
    for resource, record in stack_records(view):
        if record.name is None:
            unnamed_dependents.update(d.urn for d in dependencies_of(resource) if d.urn in identity_urns)
            continue
        known = record.texts
        purpose, served = kinds.classify(record.name, record.type or "", known)
        if purpose in ("dkim", "easy-dkim"):
            dkim_domains.add(served)
        elif purpose == "dmarc" and any(dmarc.is_dmarc(v) for v in known):
            dmarc_names.add(served)
        elif record.type == "TXT" and spf.spf_records(known):
            spf_names.add(record.name)
    for domain, resource in sorted(identities.items()):
        missing = []
        if domain not in spf_names and not (mail_from.get(domain, set()) & spf_names):
            missing.append("SPF")
        if domain not in dkim_domains and resource.urn not in unnamed_dependents:
            missing.append("DKIM")
        if domain not in dmarc_names and organizational_domain(domain) not in dmarc_names:
            missing.append("DMARC")
        if missing:
            yield (f"sending domain {domain} has no {', '.join(missing)} record in the stack", resource.urn)


def _marketing(args: StackValidationArgs, cfg: dict[str, Any]) -> Iterator[tuple[str, str | None]]:
    view = StackView.of(args)
    if not view.of_type(EMAIL_IDENTITY):
        return
    domains = as_json(project_config().get("domains"))
    if (
        isinstance(domains, list)
        and domains
        and all(isinstance(d, dict) and as_bool(d.get("marketing")) is False for d in domains)
    ):
        return  # no marketing stream declared
    facts = {**_compliance_config(), **{k: v for k, v in cfg.items() if k != "environment" and v is not None}}
    address = facts.get("postalAddress")
    if not isinstance(address, str) or len(address.strip()) < 10:
        yield (("marketing sending needs the sender's postal address recorded as config (compliance.postalAddress)"), None)
    url = facts.get("unsubscribeUrl")
    if not isinstance(url, str) or https_host(url) is None:  # the URI rule config's https_url uses
        yield (("marketing sending needs an https unsubscribe endpoint recorded as config (compliance.unsubscribeUrl)"), None)
    one_click = facts.get("oneClickUnsubscribe")
    if one_click is None and _compliance_config():
        one_click = True  # mailinfra's config model defaults it to true (components/config.py)
    if as_bool(one_click) is not True:
        yield (
            (
                "marketing sending needs one-click List-Unsubscribe (RFC 8058) recorded as config "
                "(compliance.oneClickUnsubscribe: true)"
            ),
            None,
        )


POLICIES = [
    stack_policy(
        "compliance-region-residency",
        "AWS resources live only in the stack's allowed regions (GDPR residency). Documented exceptions in "
        "us-east-1: the Route53 DNSSEC KSK key (and what depends on it), the ACM certificate a CloudFront "
        "distribution uses and the log group (and its resource policy) of Route53 query logging; global services "
        "(IAM, Route53, CloudFront) are exempt.",
        section="compliance",
        check=_residency,
        severity=Severity.HIGH,
        remediation="Create the resource through a provider for an allowed region (compliance.allowedRegions).",
        config={"allowedRegions": {"type": "array", "items": {"type": "string"}}},
    ),
    resource_policy(
        "compliance-required-tags",
        "Taggable AWS resources carry the owner, environment and data-classification tags (own or the provider's defaultTags).",
        section="compliance",
        types=None,
        check=_tags,
        severity=Severity.LOW,
        remediation="Pass tags={'owner':..., 'environment':..., 'data-classification':...} or set the AWS "
        "provider's default_tags.",
        levels=PROD_STAGING,
        config={"requiredTags": {"type": "array", "items": {"type": "string"}, "default": list(REQUIRED_TAGS)}},
    ),
    resource_policy(
        "compliance-log-retention",
        "CloudWatch log groups have a bounded retention (retentionInDays set, not 0, at most maxDays).",
        section="compliance",
        types=[LOG_GROUP],
        check=_retention,
        severity=Severity.MEDIUM,
        remediation="Set retention_in_days (compliance.logRetentionDays, e.g. 365).",
        levels=PROD_STAGING,
        config={"maxDays": {"type": "integer", "default": 3653, "minimum": 1}},
    ),
    stack_policy(
        "compliance-domain-authentication",
        "Every SES sending domain publishes SPF (at the domain or its MAIL FROM domain), DKIM and DMARC "
        "(at the domain or its organisational domain) in the stack.",
        section="compliance",
        check=_domain_auth,
        severity=Severity.HIGH,
        remediation="Declare the domain's records with the AuthRecords component (SendingDomain does).",
    ),
    stack_policy(
        "compliance-marketing-facts",
        "Marketing sending records the sender's postal address, an https unsubscribe endpoint and one-click "
        "List-Unsubscribe (RFC 8058) as stack config.",
        section="compliance",
        check=_marketing,
        severity=Severity.MEDIUM,
        remediation="Set mailinfra:compliance.postalAddress, .unsubscribeUrl (https) and .oneClickUnsubscribe: true.",
        levels=PROD_STAGING,
        config={
            "postalAddress": {"type": "string"},
            "unsubscribeUrl": {"type": "string"},
            "oneClickUnsubscribe": {"type": "boolean"},
        },
    ),
]
