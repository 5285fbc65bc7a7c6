"""Stack config -> component arguments (pure: no resource is created here).

Every component validates its typed args when they are built. :func:`preflight` builds
the args of every component of the stack, with placeholders for values that only exist
once resources do, before the program registers its first resource: so a bad value
stops ``pulumi up`` (and ``mailinfra plan``, exit 2) with nothing half-created.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi

from . import records as rec
from .config import DomainConfig, StackConfig, ZoneConfig
from .dkim import ByoDkimArgs
from .dnssec import DnssecArgs
from .firewall import FirewallArgs
from .keystore import KeyStoreArgs
from .mtasts_hosting import MtaStsHostingArgs
from .relay import ByodkimSigning, ContactTopic, SesRelayArgs
from .smtp import SmtpAccessArgs


def keystore_args(cfg: StackConfig, alias: str) -> KeyStoreArgs:
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
        user_services=("secretsmanager", "sns"),
        alert_email=cfg.keys.alert_email,
        ses_event_topics=True,
        tags=cfg.tags,
    )


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
    )


def smtp_args(
    d: DomainConfig,
    cfg: StackConfig,
    *,
    identity_arn: pulumi.Input[str],
    configuration_set_arn: pulumi.Input[str],
    secret_factory: Callable[[str, Any, str], Any],
) -> SmtpAccessArgs:
    return SmtpAccessArgs(
        domain=d.name,
        region=cfg.region,
        identity_arn=identity_arn,
        configuration_set_arn=configuration_set_arn,
        secret_factory=secret_factory,
        key_generations=d.smtp.key_generations,
        active_key=d.smtp.active_key,
        port=d.smtp.port,
        tags=cfg.tags,
    )


def hosting_args(d: DomainConfig, cfg: StackConfig, sts: rec.MtaSts, certificate_provider: pulumi.ProviderResource | None) -> MtaStsHostingArgs:
    return MtaStsHostingArgs(
        domain=d.name,
        policy_text=sts.policy_text,
        provider=d.provider,
        zone_id=d.zone.zone_id,
        region=cfg.region,
        account_id=d.zone.account_id,
        certificate_provider=certificate_provider,
        tags=cfg.tags,
    )


def topics_by_domain(cfg: StackConfig) -> dict[str, tuple[str, ...]]:
    """SES allows one contact list per account and region: the first marketing domain
    carries the topics of every marketing domain."""
    marketing = [d for d in cfg.domains if d.marketing]
    if not marketing:
        return {}
    topics = tuple(dict.fromkeys(t for d in marketing for t in d.contact_topics))
    return {marketing[0].name: topics}


def preflight(cfg: StackConfig) -> None:
    """Build every component's args (placeholders for resource outputs); raises the first
    invalid one. Call before the first resource is registered."""
    from .domain import report_auth_records, static_records

    placeholder = f"arn:aws:kms:{cfg.region}:{cfg.account_id}:key/preflight"
    keystore_args(cfg, keystore_alias(cfg, None))
    firewall_args(cfg)
    for z in cfg.zones:
        if z.dnssec:
            dnssec_args(cfg, z)
    topics = topics_by_domain(cfg)
    for d in cfg.domains:
        if cfg.keys.per_domain:
            keystore_args(cfg, keystore_alias(cfg, d))
        _, sts = static_records(d, cfg.region)
        report_auth_records(d)
        byo = byodkim_args(d)
        signing = ByodkimSigning(selector=byo.plan().signing, private_key="preflight") if byo else None
        relay_args(d, cfg, kms_key_arn=placeholder, byodkim=signing, topics=topics.get(d.name, ()))
        identity = f"arn:aws:ses:{cfg.region}:{cfg.account_id}:identity/{d.name}"
        smtp_args(d, cfg, identity_arn=identity, configuration_set_arn=identity, secret_factory=lambda *a: placeholder)
        if sts is not None:
            hosting_args(d, cfg, sts, None)
