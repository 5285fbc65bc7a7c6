"""Stack config -> component arguments and records (pure: no resource is created here).

Every component validates its typed args when they are built. :func:`preflight` builds
the args of every component of the stack, with placeholders for values that only exist
once resources do, before the program registers its first resource: so a bad value
stops ``pulumi up`` (and ``mailinfra plan``, exit 2) with nothing half-created.

The records a domain declares before deploy (:func:`static_records`,
:func:`report_auth_records`) live here, not in domain.py: both SendingDomain and
:func:`preflight` need them, and components import wiring, never the reverse.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pulumi

from mailinfra.policies.mailinfra_policy.standards import quotas
from mailinfra.policies.mailinfra_policy.standards.errors import StandardError

from . import records as rec
from .alerts import SecurityAlertsArgs
from .audit import AuditTrailArgs
from .config import NAMESPACE, ConfigError, DomainConfig, StackConfig, ZoneConfig, argument_key
from .detection import DetectionArgs
from .operators import OperatorsArgs
from .posture import PostureArgs
from .dkim import ByoDkimArgs
from .dnssec import DnssecArgs
from .events import SesEventsArgs
from .intake import ReportIntakeArgs
from .errors import ArgsError
from .firewall import FirewallArgs
from .keystore import KeyStoreArgs
from .mtasts_hosting import MtaStsHostingArgs, MtaStsTenancyArgs, MtaStsTenancyRef
from .records import DnsRecord, RecordError
from .relay import ByodkimSigning, ContactTopic, SesRelayArgs, SharedConfigurationSet, SharedConfigurationSetArgs
from .reputation import ReputationAlarmsArgs
from .smtp import SmtpAccessArgs, send_policy_document


def dmarc_of(d: DomainConfig) -> DnsRecord:
    m = d.dmarc
    return rec.dmarc_record(
        d.name,
        m.policy,
        sp=m.subdomain_policy,
        np=m.nonexistent_policy,
        adkim=m.adkim,
        aspf=m.aspf,
        rua=m.rua,
        ruf=m.ruf,
        fo=m.fo,
        t="y" if m.testing else None,
        ttl=d.ttl,
    )


def static_records(d: DomainConfig, region: str) -> tuple[list[DnsRecord], rec.MtaSts | None]:
    """The records of a domain that are known before deploy (pure: no Pulumi)."""
    out = [
        rec.spf_record(
            d.name,
            includes=d.spf.includes,
            ip4=d.spf.ip4,
            ip6=d.spf.ip6,
            a=d.spf.a,
            mx=d.spf.mx,
            all_qualifier=d.spf.all,
            ttl=d.ttl,
        ),
    ]
    if d.other_txt and d.provider == "route53":
        # one Route53 record set per name and type: the apex TXT values of other
        # purposes ride with the SPF value, or the first deploy would delete them.
        # (Cloudflare has one record per value: those records are simply left alone.)
        spf = out[0]
        out[0] = rec.DnsRecord(spf.name, spf.type, (*spf.values, *d.other_txt), spf.purpose, spf.ttl)
    dmarc = dmarc_of(d)
    out.append(dmarc)
    sts = None
    if d.mta_sts.enabled:
        sts = rec.mta_sts(d.name, d.mta_sts.mode, d.mta_sts.mx, d.mta_sts.max_age, ttl=d.ttl)
        out.append(sts.record)
    out.append(rec.tls_rpt_record(d.name, d.tls_rpt.rua, ttl=d.ttl))
    if d.bimi is not None:
        out.append(rec.bimi_record(d.name, d.bimi.selector, d.bimi.logo, d.bimi.authority, dmarc, ttl=d.ttl))
    out.extend(rec.mail_from_records(f"{d.mail_from}.{d.name}", region, ttl=d.ttl))
    return out, sts


def report_auth_records(d: DomainConfig) -> list[DnsRecord]:
    """``<domain>._report._dmarc.<dest>`` for every external DMARC report destination."""
    return list(rec.dmarc_report_auth_records(d.name, dmarc_of(d), ttl=d.ttl))


def keystore_args(cfg: StackConfig, alias: str, *, audit: bool = False) -> KeyStoreArgs:
    """``audit``: the stack's key, under which the audit trail, Config and the audit logs are encrypted."""
    return KeyStoreArgs(
        environment=cfg.environment,
        alias_name=alias,
        account_id=cfg.account_id,
        region=cfg.region,
        admin_principals=cfg.keys.admins,
        user_principals=cfg.keys.users,
        rotation_period_days=cfg.keys.rotation_days,
        deletion_window_days=cfg.keys.deletion_window_days,
        secret_recovery_window_days=30 if cfg.is_prod else 7,
        user_services=("secretsmanager", "sns", "sqs", "s3"),  # SQS/S3: the event queue, archive and reports
        alert_email=cfg.keys.alert_email,
        ses_event_topics=True,
        cloudwatch_alarms=True,  # reputation and event-pipeline alarms notify through the key's alarm topic
        audit_services=audit,
        tags=cfg.tags,
    )


def events_args(
    cfg: StackConfig,
    *,
    kms_key_arn: pulumi.Input[str],
    configuration_sets: tuple[tuple[str, pulumi.Input[str]], ...],
    log_group_name: pulumi.Input[str] | None = None,
    alarm_topic_arn: pulumi.Input[str] | None = None,
) -> SesEventsArgs:
    e = cfg.events
    return SesEventsArgs(
        region=cfg.region,
        account_id=cfg.account_id,
        kms_key_arn=kms_key_arn,
        configuration_sets=configuration_sets,
        track_open=e.track_open,
        track_click=e.track_click,
        consent_recorded=e.consent_recorded,
        archive_retention_days=e.archive_retention_days,
        log_group_name=log_group_name,
        alarm_topic_arn=alarm_topic_arn,
        tags=cfg.tags,
    )


def reputation_args(
    cfg: StackConfig, *, configuration_sets: tuple[tuple[str, pulumi.Input[str]], ...], alarm_topic_arn: pulumi.Input[str]
) -> ReputationAlarmsArgs:
    r = cfg.reputation
    return ReputationAlarmsArgs(
        region=cfg.region,
        configuration_sets=configuration_sets,
        alarm_topic_arn=alarm_topic_arn,
        bounce_warning=r.bounce_warning,
        bounce_critical=r.bounce_critical,
        complaint_warning=r.complaint_warning,
        complaint_critical=r.complaint_critical,
        tags=cfg.tags,
    )


def intake_args(
    cfg: StackConfig, *, kms_key_arn: pulumi.Input[str], configuration_set_name: pulumi.Input[str]
) -> ReportIntakeArgs | None:
    """The report intake's args, or None when ``reports.enabled`` is false."""
    r = cfg.reports
    if r is None:
        return None
    zone = next(z for z in cfg.zones if z.name == r.zone)
    return ReportIntakeArgs(
        domain=r.domain,
        zone_name=zone.name,
        provider=zone.provider,
        zone_id=zone.zone_id,
        region=cfg.region,
        account_id=cfg.account_id,
        kms_key_arn=kms_key_arn,
        configuration_set_name=configuration_set_name,
        retention_days=r.retention_days,
        tags=cfg.tags,
    )


def alerts_args(cfg: StackConfig, *, kms_key_arn: pulumi.Input[str]) -> SecurityAlertsArgs:
    return SecurityAlertsArgs(
        region=cfg.region, account_id=cfg.account_id, kms_key_arn=kms_key_arn, alert_email=cfg.keys.alert_email, tags=cfg.tags
    )


def audit_args(
    cfg: StackConfig,
    stack: str,
    *,
    kms_key_arn: pulumi.Input[str],
    alarm_topic_arn: pulumi.Input[str],
    data_event_buckets: tuple[pulumi.Input[str], ...] = (),
) -> AuditTrailArgs | None:
    """The stack's trail, or None when ``audit.organizationTrailArn`` names an organisation trail."""
    a = cfg.audit
    if a.organization_trail_arn is not None:
        return None
    return AuditTrailArgs(
        stack=stack,
        region=cfg.region,
        account_id=cfg.account_id,
        kms_key_arn=kms_key_arn,
        alarm_topic_arn=alarm_topic_arn,
        retention_days=cfg.compliance.log_retention_days,
        data_event_buckets=data_event_buckets if a.data_events else (),
        config_writes=a.config_recorder,
        protect=cfg.is_prod,
        tags=cfg.tags,
    )


def sending_route53_zones(cfg: StackConfig) -> tuple[tuple[str, str], ...]:
    """(zone name, zone id) of every Route53 zone a sending domain is in, in config order
    (a fleet core's: every zone it declares, since its shards send from them)."""
    names = {d.zone.name for d in cfg.domains}
    if cfg.fleet is not None and cfg.fleet.role == "core":
        names = {z.name for z in cfg.zones}
    return tuple((z.name, z.zone_id) for z in cfg.zones if z.provider == "route53" and z.name in names)


def detection_args(cfg: StackConfig, stack: str) -> DetectionArgs:
    a = cfg.audit
    return DetectionArgs(
        stack=stack,
        region=cfg.region,
        account_id=cfg.account_id,
        retention_days=cfg.compliance.log_retention_days,
        guard_duty=a.guard_duty,
        query_log_zones=sending_route53_zones(cfg) if a.dns_query_logging else (),
        flow_log_vpc_id=cfg.network.vpc_id if a.flow_logs and cfg.network else None,
        tags=cfg.tags,
    )


def posture_args(
    cfg: StackConfig, stack: str, *, bucket_name: pulumi.Input[str] | None, kms_key_arn: pulumi.Input[str]
) -> PostureArgs | None:
    """AWS Config, or None when ``audit.configRecorder`` is off or there is no stack trail bucket."""
    if not cfg.audit.config_recorder or bucket_name is None:
        return None
    return PostureArgs(
        stack=stack, region=cfg.region, account_id=cfg.account_id, bucket_name=bucket_name, kms_key_arn=kms_key_arn, tags=cfg.tags
    )


def operators_args(cfg: StackConfig, stack: str, *, kms_key_arn: pulumi.Input[str]) -> OperatorsArgs | None:
    if not cfg.audit.operators:
        return None
    return OperatorsArgs(
        stack=stack,
        region=cfg.region,
        kms_key_arn=kms_key_arn,
        retention_days=cfg.compliance.log_retention_days,
        admin_roles=cfg.keys.admins,
        tags=cfg.tags,
    )


def configuration_sets(cfg: StackConfig, names: Mapping[str, pulumi.Input[str]]) -> tuple[tuple[str, pulumi.Input[str]], ...]:
    """(domain slug, configuration set name) of every configuration set, in config order: the
    shared set once (as ``shared``, where its first domain stands), then each own set."""
    out: list[tuple[str, pulumi.Input[str]]] = []
    for d in cfg.domains:
        if d.configuration_set != "shared":
            out.append((d.slug, names[d.name]))
        elif not any(slug == SHARED_SET for slug, _ in out):
            out.append((SHARED_SET, names[d.name]))
    return tuple(out)


SHARED_RELAY = "shared-relay"  # the SharedConfigurationSet's resource (and SES) name
SHARED_SET = "shared"  # the slug of the shared configuration set (a domain slug has a dot's hyphen)


def keystore_alias(cfg: StackConfig, d: DomainConfig | None) -> str:
    """One key per stack (``keys.alias``) or per domain (``<alias>-<domain>``)."""
    return cfg.keys.alias if d is None else f"{cfg.keys.alias}-{d.slug}"


def firewall_args(cfg: StackConfig) -> FirewallArgs:
    net = cfg.network
    return FirewallArgs(
        region=cfg.region,
        vpc_id=net.vpc_id if net else None,
        subnet_ids=net.subnet_ids if net else (),
        allowed_cidrs=net.allowed_cidrs if net else (),
        ports=net.ports if net else (),
        cloudflare_zones={z.name: z.zone_id for z in cfg.zones if z.provider == "cloudflare"},
        tags=cfg.tags,
    )


def dnssec_args(cfg: StackConfig, z: ZoneConfig) -> DnssecArgs:
    return DnssecArgs(
        environment=cfg.environment,
        zone_id=z.zone_id,
        zone_name=z.name,
        account_id=cfg.account_id,
        admin_principals=cfg.keys.admins,
        tags=cfg.tags,
    )


def byodkim_args(d: DomainConfig) -> ByoDkimArgs | None:
    if d.dkim.mode != "byodkim":
        return None
    return ByoDkimArgs(domain=d.name, selectors=d.dkim.selectors, overlap_days=d.dkim.overlap_days)


def contact_topics(names: tuple[str, ...]) -> tuple[ContactTopic, ...]:
    return tuple(ContactTopic(name=t, display_name=t.replace("-", " ").replace("_", " ").title()) for t in names)


def relay_args(
    d: DomainConfig,
    cfg: StackConfig,
    *,
    kms_key_arn: pulumi.Input[str],
    byodkim: ByodkimSigning | None,
    topics: tuple[str, ...],
    identity_depends_on: tuple[pulumi.Resource, ...] = (),
    shared: SharedConfigurationSet | None = None,
) -> SesRelayArgs:
    return SesRelayArgs(
        domain=d.name,
        region=cfg.region,
        kms_key_arn=kms_key_arn,
        mail_from_subdomain=d.mail_from,
        max_delivery_seconds=cfg.relay.max_delivery_seconds,
        byodkim=byodkim,
        dedicated_ip_pool_scaling_mode="MANAGED" if d.dedicated_ip_pool else None,
        contact_topics=contact_topics(topics),
        tags=cfg.tags,
        identity_depends_on=identity_depends_on,
        shared=shared if d.configuration_set == "shared" else None,
    )


def shared_configuration_set_args(cfg: StackConfig, *, kms_key_arn: pulumi.Input[str]) -> SharedConfigurationSetArgs | None:
    """The stack's shared configuration set, when a domain asks for it (configurationSet: shared)."""
    if not any(d.configuration_set == "shared" for d in cfg.domains):
        return None
    return SharedConfigurationSetArgs(
        region=cfg.region, kms_key_arn=kms_key_arn, max_delivery_seconds=cfg.relay.max_delivery_seconds, tags=cfg.tags
    )


def smtp_args(
    d: DomainConfig,
    cfg: StackConfig,
    *,
    identity_arn: pulumi.Input[str],
    configuration_set_arn: pulumi.Input[str],
    secret_factory: Callable[[str, Any, str], Any],
    source_vpce: pulumi.Input[str] | None = None,
) -> SmtpAccessArgs:
    """The SMTP users are bound to the SMTP interface endpoint and network.allowedCidrs."""
    return SmtpAccessArgs(
        domain=d.name,
        region=cfg.region,
        identity_arn=identity_arn,
        configuration_set_arn=configuration_set_arn,
        secret_factory=secret_factory,
        key_generations=d.smtp.key_generations,
        active_key=d.smtp.active_key,
        port=d.smtp.port,
        source_vpce=source_vpce,
        source_cidrs=cfg.network.allowed_cidrs if cfg.network else (),
        tags=cfg.tags,
    )


@dataclass(frozen=True)
class SmtpSystem:
    """One set of SMTP credentials (an IAM user) that a sending system shares among domains.

    A system's domains are split, in config order, into as many users as IAM's limit on a
    user's inline policy needs (``smtp-<system>``, ``smtp-<system>-2``, ...): append new
    domains at the end of ``mailinfra:domains`` so existing credentials keep their domains.
    """

    name: str  # resource name of its SmtpAccess
    system: str
    domains: tuple[DomainConfig, ...]


# The longest partition name, so an estimated ARN is never shorter than the real one.
_PARTITION = "aws-us-gov"


def _send_arns(d: DomainConfig, cfg: StackConfig) -> list[str]:
    """The identity and configuration-set ARNs a domain's mail is sent on, as SES names them."""
    from .relay import _ses_name

    base = f"arn:{_PARTITION}:ses:{cfg.region}:{cfg.account_id}"
    config_set = _ses_name(SHARED_RELAY if d.configuration_set == "shared" else f"{d.slug}-relay")
    return [f"{base}:identity/{d.name}", f"{base}:configuration-set/{config_set}"]


def _policy_chars(domains: list[DomainConfig], cfg: StackConfig) -> int:
    arns = list(dict.fromkeys(a for d in domains for a in _send_arns(d, cfg)))  # a shared set's ARN once
    # the same source conditions as the real policy (a VPC endpoint id is "vpce-" + 17 hex)
    doc = send_policy_document(
        [d.name for d in domains],
        arns,
        source_vpce="vpce-0123456789abcdef0" if cfg.network else None,
        source_cidrs=cfg.network.allowed_cidrs if cfg.network else (),
    )
    return len("".join(doc.split()))


def smtp_systems(cfg: StackConfig) -> tuple[SmtpSystem, ...]:
    """The shared SMTP credentials of the stack: domains with ``smtp.system``, grouped."""
    by_system: dict[str, list[DomainConfig]] = {}
    for d in cfg.domains:
        if d.smtp.system is not None:
            by_system.setdefault(d.smtp.system, []).append(d)
    out: list[SmtpSystem] = []
    for system, members in by_system.items():
        chunks: list[list[DomainConfig]] = [[]]
        for d in members:
            if chunks[-1] and _policy_chars([*chunks[-1], d], cfg) > quotas.IAM_USER_INLINE_POLICY_CHARS:
                chunks.append([])
            chunks[-1].append(d)
        for i, chunk in enumerate(chunks):
            out.append(SmtpSystem(f"smtp-{system}" + (f"-{i + 1}" if i else ""), system, tuple(chunk)))
    return tuple(out)


def system_smtp_args(
    s: SmtpSystem,
    cfg: StackConfig,
    *,
    identity_arns: Mapping[str, pulumi.Input[str]],
    configuration_set_arns: Mapping[str, pulumi.Input[str]],
    secret_factory: Callable[[str, Any, str], Any],
    source_vpce: pulumi.Input[str] | None = None,
) -> SmtpAccessArgs:
    """The args of a sending system's SmtpAccess: send for each of its domains, from its domains."""
    first, *more = s.domains
    return SmtpAccessArgs(
        domain=first.name,
        region=cfg.region,
        identity_arn=identity_arns[first.name],
        configuration_set_arn=configuration_set_arns[first.name],
        secret_factory=secret_factory,
        key_generations=first.smtp.key_generations,
        active_key=first.smtp.active_key,
        port=first.smtp.port,
        tags=cfg.tags,
        system=s.system,
        extra_domains=tuple(d.name for d in more),
        extra_resource_arns=tuple(a for d in more for a in (identity_arns[d.name], configuration_set_arns[d.name])),
        source_vpce=source_vpce,
        source_cidrs=cfg.network.allowed_cidrs if cfg.network else (),
    )


def hosting_args(
    d: DomainConfig,
    cfg: StackConfig,
    sts: rec.MtaSts,
    certificate_provider: pulumi.ProviderResource | None,
    tenancy: MtaStsTenancyRef | None = None,
) -> MtaStsHostingArgs:
    return MtaStsHostingArgs(
        domain=d.name,
        policy_text=sts.policy_text,
        provider=d.provider,
        zone_id=d.zone.zone_id,
        region=cfg.region,
        account_id=d.zone.account_id,
        certificate_provider=certificate_provider,
        tags=cfg.tags,
        tenancy=tenancy if d.provider == "route53" else None,
    )


def tenancy_args(cfg: StackConfig) -> MtaStsTenancyArgs | None:
    """The stack's shared MTA-STS distribution (mtaStsHosting: shared): in a fleet's core,
    or in a stack of its own that hosts a Route53 domain's policy; a shard uses the core's."""
    if cfg.mta_sts_hosting != "shared":
        return None
    role = cfg.fleet.role if cfg.fleet is not None else None
    if role == "shard":
        return None
    if role is None and not any(d.provider == "route53" and d.mta_sts.enabled for d in cfg.domains):
        return None
    return MtaStsTenancyArgs(region=cfg.region, tags=cfg.tags)


def topics_by_domain(cfg: StackConfig) -> dict[str, tuple[str, ...]]:
    """SES allows one contact list per account and region: the first marketing domain
    carries the topics of every marketing domain."""
    marketing = [d for d in cfg.domains if d.marketing]
    if not marketing:
        return {}
    topics = tuple(dict.fromkeys(t for d in marketing for t in d.contact_topics))
    return {marketing[0].name: topics}


# Stack-file key of each component argument preflight builds, so that an ArgsError
# (``allowed_cidrs``, ``selectors[1].retire_after``) is reported as the key the user wrote
# (``mailinfra.network.allowedCidrs[1]``, ``...dkim.selectors[1].retireAfter``).
_N = NAMESPACE
ArgKeys = Mapping[str, tuple[str, Any]]  # argument -> (stack-file key, configured value)


def _common_keys(cfg: StackConfig) -> dict[str, tuple[str, Any]]:
    return {
        "region": ("aws:region", cfg.region),
        "environment": (f"{_N}.environment", cfg.environment),
        "account_id": (f"{_N}.accountId", cfg.account_id),
        "tags": (f"{_N}.owner", cfg.owner),
        "tags.owner": (f"{_N}.owner", cfg.owner),
        "tags.environment": (f"{_N}.environment", cfg.environment),
        "tags.data-classification": (f"{_N}.dataClassification", cfg.data_classification),
    }


def _keystore_keys(cfg: StackConfig) -> ArgKeys:
    k = f"{_N}.keys"
    return _common_keys(cfg) | {
        "alias_name": (f"{k}.alias", cfg.keys.alias),
        "admin_principals": (f"{k}.admins", cfg.keys.admins),
        "user_principals": (f"{k}.users", cfg.keys.users),
        "rotation_period_days": (f"{k}.rotationDays", cfg.keys.rotation_days),
        "deletion_window_days": (f"{k}.deletionWindowDays", cfg.keys.deletion_window_days),
        "secret_recovery_window_days": (f"{_N}.environment", cfg.environment),
        "alert_email": (f"{k}.alertEmail", cfg.keys.alert_email),
    }


def _firewall_keys(cfg: StackConfig) -> ArgKeys:
    n, net = f"{_N}.network", cfg.network
    return _common_keys(cfg) | {
        "vpc_id": (f"{n}.vpcId", net.vpc_id if net else None),
        "subnet_ids": (f"{n}.subnetIds", net.subnet_ids if net else ()),
        "allowed_cidrs": (f"{n}.allowedCidrs", net.allowed_cidrs if net else ()),
        "ports": (f"{n}.ports", net.ports if net else ()),
        "cloudflare_zones": (f"{_N}.zones", [z.name for z in cfg.zones]),
    }


def _feedback_keys(cfg: StackConfig) -> ArgKeys:
    """Keys of the event pipeline, the reputation alarms and the report intake."""
    e, r, t = f"{_N}.events", f"{_N}.reputation", f"{_N}.events.tracking"
    rep = cfg.reputation
    reports = cfg.reports
    return _common_keys(cfg) | {
        "track_open": (f"{t}.open", cfg.events.track_open),
        "track_click": (f"{t}.click", cfg.events.track_click),
        "consent_recorded": (f"{t}.consentRecorded", cfg.events.consent_recorded),
        "archive_retention_days": (f"{e}.archiveRetentionDays", cfg.events.archive_retention_days),
        "bounce_warning": (f"{r}.bounceWarning", rep.bounce_warning),
        "bounce_critical": (f"{r}.bounceCritical", rep.bounce_critical),
        "complaint_warning": (f"{r}.complaintWarning", rep.complaint_warning),
        "complaint_critical": (f"{r}.complaintCritical", rep.complaint_critical),
        "domain": (f"{_N}.reports.domain", reports.domain if reports else None),
        "retention_days": (f"{_N}.reports.retentionDays", reports.retention_days if reports else None),
    }


def _audit_keys(cfg: StackConfig) -> ArgKeys:
    return _common_keys(cfg) | {
        "retention_days": (f"{_N}.compliance.logRetentionDays", cfg.compliance.log_retention_days),
        "admin_principals": (f"{_N}.keys.admins", cfg.keys.admins),
        "alert_email": (f"{_N}.keys.alertEmail", cfg.keys.alert_email),
        "flow_log_vpc_id": (f"{_N}.network.vpcId", cfg.network.vpc_id if cfg.network else None),
        "query_log_zones": (f"{_N}.zones", [z.name for z in cfg.zones]),
    }


def _zone_keys(cfg: StackConfig, z: ZoneConfig) -> ArgKeys:
    zp = f"{_N}.zones.{z.name}"
    return _common_keys(cfg) | {
        "zone_id": (f"{zp}.zoneId", z.zone_id),
        "zone_name": (zp, z.name),
        "provider": (f"{zp}.provider", z.provider),
        "account_id": (f"{zp}.accountId", z.account_id),
        "admin_principals": (f"{_N}.keys.admins", cfg.keys.admins),
    }


def _domain_keys(cfg: StackConfig, index: int) -> ArgKeys:
    d, dp = cfg.domains[index], cfg.domain_path(index)
    selectors = [s.name for s in d.dkim.selectors]
    return _common_keys(cfg) | {
        "domain": (f"{dp}.name", d.name),
        "mail_from_subdomain": (f"{dp}.mailFrom", d.mail_from),
        "max_delivery_seconds": (f"{_N}.relay.maxDeliverySeconds", cfg.relay.max_delivery_seconds),
        "byodkim": (f"{dp}.dkim.selectors", selectors),
        "dedicated_ip_pool_scaling_mode": (f"{dp}.dedicatedIpPool", d.dedicated_ip_pool),
        "contact_topics": (f"{dp}.contactTopics", d.contact_topics),
        "selectors": (f"{dp}.dkim.selectors", selectors),
        "overlap_days": (f"{dp}.dkim.overlapDays", d.dkim.overlap_days),
        "key_generations": (f"{dp}.smtp.keyGenerations", d.smtp.key_generations),
        "active_key": (f"{dp}.smtp.activeKey", d.smtp.active_key),
        "port": (f"{dp}.smtp.port", d.smtp.port),
        "source_cidrs": (f"{_N}.network.allowedCidrs", cfg.network.allowed_cidrs if cfg.network else ()),
        "policy_text": (f"{dp}.mtaSts", None),
    }


@contextlib.contextmanager
def _stack_keys(cfg: StackConfig, keys: ArgKeys, where: str | None = None) -> Iterator[None]:
    """Re-raise a component's ArgsError as the ConfigError of the stack-file key it names.

    ``where``: the key path a builder's RecordError / standards error belongs to.
    """
    try:
        yield
    except ArgsError as exc:
        path = argument_key(exc.argument, exc.value, keys)
        if path is None:
            raise
        raise ConfigError(path, exc.value, exc.reason, secret=cfg.is_secret(path)) from None
    except (RecordError, StandardError) as exc:
        if where is None:
            raise
        raise ConfigError(where, None, str(exc), secret=cfg.is_secret(where), shown=False) from None


def _preflight_watch(cfg: StackConfig, placeholder: str) -> None:
    with _stack_keys(cfg, _audit_keys(cfg)):
        stack, topic = "preflight", f"arn:aws:sns:{cfg.region}:{cfg.account_id}:preflight"
        alerts_args(cfg, kms_key_arn=placeholder)
        audit_args(cfg, stack, kms_key_arn=placeholder, alarm_topic_arn=topic)
        detection_args(cfg, stack)
        posture_args(cfg, stack, bucket_name="preflight", kms_key_arn=placeholder)
        operators_args(cfg, stack, kms_key_arn=placeholder)


def preflight(cfg: StackConfig) -> None:
    """Build every component's args (placeholders for resource outputs); raises the first
    invalid one, as a ConfigError naming the stack-file key. Call before the first resource
    is registered."""
    placeholder = f"arn:aws:kms:{cfg.region}:{cfg.account_id}:key/preflight"
    with _stack_keys(cfg, _keystore_keys(cfg)):
        keystore_args(cfg, keystore_alias(cfg, None))
    with _stack_keys(cfg, _firewall_keys(cfg)):
        firewall_args(cfg)
    for z in cfg.zones:
        if z.dnssec:
            with _stack_keys(cfg, _zone_keys(cfg, z)):
                dnssec_args(cfg, z)
    role = cfg.fleet.role if cfg.fleet is not None else None
    tenancy_args(cfg)
    with _stack_keys(cfg, _feedback_keys(cfg)):
        if role == "core":  # a fleet core sends nothing: no configuration set, no feedback loop
            return _preflight_watch(cfg, placeholder)
        sets = configuration_sets(cfg, {d.name: f"{d.slug}-relay" for d in cfg.domains})
        shared_configuration_set_args(cfg, kms_key_arn=placeholder)
        events_args(cfg, kms_key_arn=placeholder, configuration_sets=sets)
        reputation_args(cfg, configuration_sets=sets, alarm_topic_arn=f"arn:aws:sns:{cfg.region}:{cfg.account_id}:preflight")
        intake_args(cfg, kms_key_arn=placeholder, configuration_set_name=sets[0][1])
    if role != "shard":  # watching the account is a fleet core's
        _preflight_watch(cfg, placeholder)
    topics = topics_by_domain(cfg)
    for i, d in enumerate(cfg.domains):
        if cfg.keys.per_domain:
            with _stack_keys(cfg, _keystore_keys(cfg)):
                keystore_args(cfg, keystore_alias(cfg, d))
        keys = _domain_keys(cfg, i)
        with _stack_keys(cfg, keys, cfg.domain_path(i)):
            _, sts = static_records(d, cfg.region)
            report_auth_records(d)
            byo = byodkim_args(d)
            signing = ByodkimSigning(selector=byo.plan().signing, private_key="preflight") if byo else None
            relay_args(d, cfg, kms_key_arn=placeholder, byodkim=signing, topics=topics.get(d.name, ()))
            identity = f"arn:aws:ses:{cfg.region}:{cfg.account_id}:identity/{d.name}"
            if d.smtp.system is None:
                smtp_args(
                    d,
                    cfg,
                    identity_arn=identity,
                    configuration_set_arn=identity,
                    secret_factory=lambda *a: placeholder,
                    source_vpce="vpce-0preflight" if cfg.network else None,
                )
        if sts is not None:
            with _stack_keys(cfg, {**keys, **_zone_keys(cfg, d.zone)}):
                hosting_args(d, cfg, sts, None)
    for system in smtp_systems(cfg):
        i = cfg.domains.index(system.domains[0])
        with _stack_keys(cfg, _domain_keys(cfg, i), cfg.domain_path(i)):
            arns = {d.name: f"arn:aws:ses:{cfg.region}:{cfg.account_id}:identity/{d.name}" for d in system.domains}
            system_smtp_args(system, cfg, identity_arns=arns, configuration_set_arns=arns, secret_factory=lambda *a: placeholder)
