"""Stack configuration -> frozen, validated dataclasses.

Every key lives in the ``mailinfra`` namespace of the stack file
(``stacks/Pulumi.<stack>.yaml``). :func:`parse_config` is pure (tests call it with a
dict); :func:`load` reads the running program's config. Every error is a
:class:`ConfigError` that names the key path and the bad value; unknown keys are
rejected with a suggestion, so a typo never silently falls back to a default.

Fleets: ``domainDefaults`` is merged (deeply) under every entry of ``domains``, so a
stack of 1,000 domains lists only what differs per domain.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dns.name

NAMESPACE = "mailinfra"
ENVIRONMENTS = ("dev", "staging", "prod")
PROVIDERS = ("route53", "cloudflare")
SMTP_PORTS = (587, 465, 2587)

# Environment presets: dev monitors, staging quarantines, prod rejects.
DMARC_PRESET = {"dev": "none", "staging": "quarantine", "prod": "reject"}
MTA_STS_PRESET = {"dev": "testing", "staging": "testing", "prod": "enforce"}
REQUIRED_TAGS = ("owner", "environment", "data-classification")


class ConfigError(ValueError):
    """A stack config value is invalid. ``path`` is the full key path."""

    mailinfra_exit_code = 2

    def __init__(self, path: str, value: Any, reason: str) -> None:
        self.path = path
        self.value = value
        self.reason = reason
        shown = "<secret>" if _looks_secret(path) else _short(value)
        super().__init__(f"{path}: {reason} (got {shown})")


def _looks_secret(path: str) -> bool:
    return bool(re.search(r"(password|secret|token|privatekey|private_key)", path, re.I))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class SpfConfig:
    includes: tuple[str, ...] = ()
    ip4: tuple[str, ...] = ()
    ip6: tuple[str, ...] = ()
    a: bool = False
    mx: bool = False
    all: str = "-"


@dataclass(frozen=True)
class DkimSelector:
    name: str
    published: _dt.date | None = None
    retire_after: _dt.date | None = None


@dataclass(frozen=True)
class DkimConfig:
    mode: str = "easy"  # "easy" (SES-managed) | "byodkim"
    selectors: tuple[DkimSelector, ...] = ()
    overlap_days: int = 7


@dataclass(frozen=True)
class DmarcConfig:
    policy: str
    subdomain_policy: str | None = None
    nonexistent_policy: str | None = None
    adkim: str = "s"
    aspf: str = "s"
    rua: tuple[str, ...] = ()
    ruf: tuple[str, ...] = ()
    fo: str | None = None
    testing: bool = False


@dataclass(frozen=True)
class MtaStsConfig:
    mode: str
    max_age: int = 604800
    mx: tuple[str, ...] = ()
    enabled: bool = True


@dataclass(frozen=True)
class TlsRptConfig:
    rua: tuple[str, ...]


@dataclass(frozen=True)
class BimiConfig:
    logo: str
    authority: str | None = None
    selector: str = "default"


@dataclass(frozen=True)
class ZoneConfig:
    name: str
    provider: str
    zone_id: str
    account_id: str | None = None  # Cloudflare account (Workers)
    dnssec: bool = False


@dataclass(frozen=True)
class SmtpConfig:
    key_generations: tuple[str, ...] = ("1",)
    active_key: str | None = None
    port: int = 587


@dataclass(frozen=True)
class DomainConfig:
    name: str
    zone: ZoneConfig
    spf: SpfConfig
    dkim: DkimConfig
    dmarc: DmarcConfig
    mta_sts: MtaStsConfig
    tls_rpt: TlsRptConfig
    bimi: BimiConfig | None = None
    mail_from: str = "bounce"
    marketing: bool = True
    ttl: int = 3600
    contact_topics: tuple[str, ...] = ("newsletter",)
    mx_hosts: tuple[str, ...] = ()
    dedicated_ip_pool: bool = False
    smtp: SmtpConfig = field(default_factory=SmtpConfig)

    @property
    def provider(self) -> str:
        return self.zone.provider

    @property
    def slug(self) -> str:
        """A resource-name-safe form of the domain name."""
        return self.name.replace(".", "-")


@dataclass(frozen=True)
class KeysConfig:
    admins: tuple[str, ...]
    users: tuple[str, ...] = ()
    rotation_days: int = 365
    deletion_window_days: int = 30
    per_domain: bool = False
    alert_email: str | None = None
    alias: str = "mailinfra"


@dataclass(frozen=True)
class NetworkConfig:
    vpc_id: str
    subnet_ids: tuple[str, ...]
    vpc_cidr: str
    allowed_cidrs: tuple[str, ...]
    ports: tuple[int, ...] = SMTP_PORTS


@dataclass(frozen=True)
class ComplianceConfig:
    postal_address: str
    unsubscribe_url: str
    one_click_unsubscribe: bool = True
    allowed_regions: tuple[str, ...] = ()
    log_retention_days: int = 365


@dataclass(frozen=True)
class RelayConfig:
    max_delivery_seconds: int = 50400
    sender_ips: tuple[str, ...] = ()


@dataclass(frozen=True)
class StackConfig:
    environment: str
    region: str
    owner: str
    data_classification: str
    domains: tuple[DomainConfig, ...]
    keys: KeysConfig
    compliance: ComplianceConfig
    network: NetworkConfig | None = None
    relay: RelayConfig = field(default_factory=RelayConfig)
    zones: tuple[ZoneConfig, ...] = ()
    non_sending_names: tuple[str, ...] = ()
    account_id: str = "123456789012"

    @property
    def tags(self) -> dict[str, str]:
        return {
            "owner": self.owner,
            "environment": self.environment,
            "data-classification": self.data_classification,
            "managed-by": "mailinfra",
        }

    @property
    def is_prod(self) -> bool:
        return self.environment == "prod"


# --------------------------------------------------------------------------- readers


class _Obj:
    """A mapping being read at ``path``; ``done()`` rejects keys nobody asked for."""

    def __init__(self, path: str, raw: Any, allowed: Sequence[str]) -> None:
        if not isinstance(raw, Mapping):
            raise ConfigError(path, raw, "must be a mapping")
        self.path = path
        self.raw = raw
        unknown = [k for k in raw if k not in allowed]
        if unknown:
            key = unknown[0]
            hint = difflib.get_close_matches(str(key), list(allowed), n=1)
            reason = f"unknown key {key!r}" + (f"; did you mean {hint[0]!r}?" if hint else f"; allowed: {', '.join(allowed)}")
            raise ConfigError(f"{path}.{key}", raw[key], reason)

    def sub(self, key: str) -> str:
        return f"{self.path}.{key}"

    def get(self, key: str, default: Any = None) -> Any:
        value = self.raw.get(key, default)
        return default if value is None else value

    def has(self, key: str) -> bool:
        return self.raw.get(key) is not None

    def require(self, key: str) -> Any:
        if not self.has(key):
            raise ConfigError(self.sub(key), None, "is required")
        return self.raw[key]


def _str(path: str, value: Any, *, pattern: str | None = None, what: str = "a string") -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(path, value, f"must be {what}")
    if pattern and not re.fullmatch(pattern, value):
        raise ConfigError(path, value, f"must be {what}")
    return value


def _bool(path: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ConfigError(path, value, "must be true or false")


def _int(path: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool):
        raise ConfigError(path, value, f"must be an integer from {lo} to {hi}")
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        value = int(value)
    if not isinstance(value, int) or not lo <= value <= hi:
        raise ConfigError(path, value, f"must be an integer from {lo} to {hi}")
    return value


def _choice(path: str, value: Any, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ConfigError(path, value, f"must be one of {', '.join(choices)}")
    return str(value)


def _list(path: str, value: Any) -> list[Any]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ConfigError(path, value, "must be a list")
    return list(value)


def _date(path: str, value: Any) -> _dt.date:
    if isinstance(value, _dt.date):
        return value
    try:
        return _dt.date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(path, value, "must be a date YYYY-MM-DD") from None


def domain_name(path: str, value: Any) -> str:
    """A hostname: LDH labels, 2+ labels, at most 253 characters, lowercase out."""
    if not isinstance(value, str):
        raise ConfigError(path, value, "must be a domain name")
    name = value.strip().rstrip(".").lower()
    label = r"(?!-)[a-z0-9_-]{1,63}(?<!-)"
    if len(name) > 253 or not re.fullmatch(rf"{label}(\.{label})+", name):
        raise ConfigError(path, value, "must be a domain name")
    try:
        dns.name.from_text(name)
    except Exception:  # noqa: BLE001 - dnspython raises several types
        raise ConfigError(path, value, "must be a domain name") from None
    if re.fullmatch(r"[0-9.]+", name):
        raise ConfigError(path, value, "must be a domain name, not an address")
    return name


_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@((?!-)[A-Za-z0-9-]{1,63}(?<!-)\.)+[A-Za-z]{2,63}")


def email(path: str, value: Any) -> str:
    if not isinstance(value, str) or not _EMAIL.fullmatch(value):
        raise ConfigError(path, value, "must be an email address")
    return value


def mailto(path: str, value: Any) -> str:
    """A report destination: ``mailto:`` URI or bare address (normalised to mailto:)."""
    if isinstance(value, str) and value.lower().startswith("mailto:"):
        email(path, value[7:])
        return "mailto:" + value[7:]
    return "mailto:" + email(path, value)


def https_url(path: str, value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"https://[A-Za-z0-9.-]+(:\d+)?(/[^\s]*)?", value):
        raise ConfigError(path, value, "must be an https:// URL")
    return value


def cidr(path: str, value: Any) -> str:
    try:
        return str(ipaddress.ip_network(str(value), strict=True))
    except ValueError:
        raise ConfigError(path, value, "must be a CIDR block such as 203.0.113.0/24") from None


def ip_network(path: str, value: Any, version: int) -> str:
    try:
        net = ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        raise ConfigError(path, value, f"must be an IPv{version} address or CIDR") from None
    if net.version != version:
        raise ConfigError(path, value, f"must be an IPv{version} address or CIDR")
    return str(value)


_ARN = r"arn:aws[a-z-]*:iam::\d{12}:(root|(user|role)(/[\w+=,.@-]+)+)"
_REGION = r"[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d"


# --------------------------------------------------------------------------- sections


def _spf(path: str, raw: Any) -> SpfConfig:
    o = _Obj(path, raw, ("includes", "ip4", "ip6", "a", "mx", "all"))
    includes = tuple(domain_name(f"{o.sub('includes')}[{i}]", v) for i, v in enumerate(_list(o.sub("includes"), o.get("includes", []))))
    ip4 = tuple(ip_network(f"{o.sub('ip4')}[{i}]", v, 4) for i, v in enumerate(_list(o.sub("ip4"), o.get("ip4", []))))
    ip6 = tuple(ip_network(f"{o.sub('ip6')}[{i}]", v, 6) for i, v in enumerate(_list(o.sub("ip6"), o.get("ip6", []))))
    qualifier = _choice(o.sub("all"), o.get("all", "-"), ("-", "~"))
    lookups = len(set(includes)) + bool(o.get("a", False)) + bool(o.get("mx", False))
    if lookups > 10:
        raise ConfigError(o.sub("includes"), list(includes), f"needs {lookups} DNS lookups; RFC 7208 allows 10 (flatten or drop includes)")
    return SpfConfig(
        includes=tuple(dict.fromkeys(includes)),
        ip4=ip4,
        ip6=ip6,
        a=_bool(o.sub("a"), o.get("a", False)),
        mx=_bool(o.sub("mx"), o.get("mx", False)),
        all=qualifier,
    )


_SELECTOR = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"


def _dkim(path: str, raw: Any) -> DkimConfig:
    o = _Obj(path, raw, ("mode", "selectors", "overlapDays"))
    mode = _choice(o.sub("mode"), o.get("mode", "easy"), ("easy", "byodkim"))
    selectors = []
    for i, item in enumerate(_list(o.sub("selectors"), o.get("selectors", []))):
        p = f"{o.sub('selectors')}[{i}]"
        s = _Obj(p, item, ("name", "published", "retireAfter"))
        name = _str(f"{p}.name", s.require("name"), pattern=_SELECTOR, what="a DKIM selector (lowercase letters, digits, hyphens)")
        selectors.append(
            DkimSelector(
                name=name,
                published=_date(f"{p}.published", s.get("published")) if s.has("published") else None,
                retire_after=_date(f"{p}.retireAfter", s.get("retireAfter")) if s.has("retireAfter") else None,
            )
        )
    names = [s.name for s in selectors]
    for n in names:
        if names.count(n) > 1:
            raise ConfigError(o.sub("selectors"), n, "lists a selector twice")
    if mode == "byodkim" and not selectors:
        raise ConfigError(o.sub("selectors"), [], "BYODKIM needs at least one selector")
    if mode == "easy" and selectors:
        raise ConfigError(o.sub("selectors"), names, "selectors are only for mode byodkim (SES names Easy DKIM selectors)")
    return DkimConfig(mode=mode, selectors=tuple(selectors), overlap_days=_int(o.sub("overlapDays"), o.get("overlapDays", 7), 2, 90))


_POLICIES = ("none", "quarantine", "reject")


def _dmarc(path: str, raw: Any, environment: str) -> DmarcConfig:
    o = _Obj(path, raw, ("policy", "subdomainPolicy", "nonexistentPolicy", "adkim", "aspf", "rua", "ruf", "fo", "testing"))
    policy = _choice(o.sub("policy"), o.get("policy", DMARC_PRESET[environment]), _POLICIES)
    fo = o.get("fo")
    if fo is not None and not re.fullmatch(r"[01ds](:[01ds])*", str(fo)):
        raise ConfigError(o.sub("fo"), fo, "must be colon-separated options from 0, 1, d, s")
    return DmarcConfig(
        policy=policy,
        subdomain_policy=_choice(o.sub("subdomainPolicy"), o.get("subdomainPolicy"), _POLICIES) if o.has("subdomainPolicy") else None,
        nonexistent_policy=_choice(o.sub("nonexistentPolicy"), o.get("nonexistentPolicy"), _POLICIES) if o.has("nonexistentPolicy") else None,
        adkim=_choice(o.sub("adkim"), o.get("adkim", "s"), ("r", "s")),
        aspf=_choice(o.sub("aspf"), o.get("aspf", "s"), ("r", "s")),
        rua=tuple(mailto(f"{o.sub('rua')}[{i}]", v) for i, v in enumerate(_list(o.sub("rua"), o.get("rua", [])))),
        ruf=tuple(mailto(f"{o.sub('ruf')}[{i}]", v) for i, v in enumerate(_list(o.sub("ruf"), o.get("ruf", [])))),
        fo=str(fo) if fo is not None else None,
        testing=_bool(o.sub("testing"), o.get("testing", False)),
    )


def _mx_pattern(path: str, value: Any) -> str:
    if isinstance(value, str) and value.startswith("*."):
        return "*." + domain_name(path, value[2:])
    return domain_name(path, value)


def _mta_sts(path: str, raw: Any, environment: str) -> MtaStsConfig:
    o = _Obj(path, raw, ("mode", "maxAge", "mx", "enabled"))
    mode = _choice(o.sub("mode"), o.get("mode", MTA_STS_PRESET[environment]), ("enforce", "testing", "none"))
    mx = tuple(_mx_pattern(f"{o.sub('mx')}[{i}]", v) for i, v in enumerate(_list(o.sub("mx"), o.get("mx", []))))
    enabled = _bool(o.sub("enabled"), o.get("enabled", True))
    if enabled and mode != "none" and not mx:
        raise ConfigError(o.sub("mx"), [], f"mode {mode} needs at least one MX pattern")
    return MtaStsConfig(mode=mode, max_age=_int(o.sub("maxAge"), o.get("maxAge", 604800), 86400, 31557600), mx=mx, enabled=enabled)


def _report_uri(path: str, value: Any) -> str:
    if isinstance(value, str) and value.startswith("https://"):
        return https_url(path, value)
    return mailto(path, value)


def _tls_rpt(path: str, raw: Any) -> TlsRptConfig:
    o = _Obj(path, raw, ("rua",))
    rua = tuple(_report_uri(f"{o.sub('rua')}[{i}]", v) for i, v in enumerate(_list(o.sub("rua"), o.require("rua"))))
    if not rua:
        raise ConfigError(o.sub("rua"), [], "needs at least one mailto: or https: destination")
    return TlsRptConfig(rua=rua)


def _bimi(path: str, raw: Any) -> BimiConfig:
    o = _Obj(path, raw, ("logo", "authority", "selector"))
    logo = https_url(o.sub("logo"), o.require("logo"))
    if not logo.lower().endswith(".svg"):
        raise ConfigError(o.sub("logo"), logo, "must be an https:// URL of an SVG Tiny PS file (.svg)")
    return BimiConfig(
        logo=logo,
        authority=https_url(o.sub("authority"), o.get("authority")) if o.has("authority") else None,
        selector=_str(o.sub("selector"), o.get("selector", "default"), pattern=_SELECTOR, what="a BIMI selector"),
    )


def _zone(path: str, name: str, raw: Any) -> ZoneConfig:
    o = _Obj(path, raw, ("provider", "zoneId", "accountId", "dnssec"))
    provider = _choice(o.sub("provider"), o.require("provider"), PROVIDERS)
    if provider == "route53":
        zone_id = _str(o.sub("zoneId"), o.require("zoneId"), pattern=r"Z[A-Z0-9]{1,31}", what="a Route53 hosted zone id (Z...)")
    else:
        zone_id = _str(o.sub("zoneId"), o.require("zoneId"), pattern=r"[0-9a-f]{32}", what="a Cloudflare zone id (32 hex digits)")
    account_id = o.get("accountId")
    if provider == "cloudflare":
        account_id = _str(o.sub("accountId"), o.require("accountId"), pattern=r"[0-9a-f]{32}", what="a Cloudflare account id (32 hex digits)")
    elif account_id is not None:
        raise ConfigError(o.sub("accountId"), account_id, "is only for Cloudflare zones")
    dnssec = _bool(o.sub("dnssec"), o.get("dnssec", False))
    if dnssec and provider != "route53":
        raise ConfigError(o.sub("dnssec"), dnssec, "DNSSEC signing is declared here for Route53 zones only; Cloudflare signs in its dashboard")
    return ZoneConfig(name=name, provider=provider, zone_id=zone_id, account_id=account_id, dnssec=dnssec)


DOMAIN_KEYS = ("name", "zone", "spf", "dkim", "dmarc", "mtaSts", "tlsRpt", "bimi", "mailFrom", "marketing", "ttl", "contactTopics", "mxHosts", "dedicatedIpPool", "smtp")


def _smtp(path: str, raw: Any) -> SmtpConfig:
    o = _Obj(path, raw, ("keyGenerations", "activeKey", "port"))
    gens = tuple(
        _str(f"{o.sub('keyGenerations')}[{i}]", str(v), pattern=r"[a-z0-9][a-z0-9-]{0,15}", what="a key generation label such as 1 or 2026a")
        for i, v in enumerate(_list(o.sub("keyGenerations"), o.get("keyGenerations", ["1"])))
    )
    if not 1 <= len(gens) <= 2:
        raise ConfigError(o.sub("keyGenerations"), list(gens), "must list one or two access-key generations (IAM allows two keys per user)")
    if len(set(gens)) != len(gens):
        raise ConfigError(o.sub("keyGenerations"), list(gens), "lists a generation twice")
    active = str(o.get("activeKey")) if o.has("activeKey") else None
    if active is not None and active not in gens:
        raise ConfigError(o.sub("activeKey"), active, f"must be one of keyGenerations ({', '.join(gens)})")
    port = _int(o.sub("port"), o.get("port", 587), 1, 65535)
    if port not in SMTP_PORTS:
        raise ConfigError(o.sub("port"), port, f"must be an SMTP submission port ({', '.join(map(str, SMTP_PORTS))})")
    return SmtpConfig(key_generations=gens, active_key=active, port=port)


def _merge(base: Any, override: Any) -> Any:
    if isinstance(base, Mapping) and isinstance(override, Mapping):
        out = dict(base)
        for k, v in override.items():
            out[k] = _merge(base.get(k), v) if k in base else v
        return out
    return override


def _domain(path: str, raw: Any, defaults: Mapping[str, Any], zones: Mapping[str, ZoneConfig], environment: str) -> DomainConfig:
    if not isinstance(raw, Mapping):
        if isinstance(raw, str):  # a fleet entry may be just the name
            raw = {"name": raw}
        else:
            raise ConfigError(path, raw, "must be a mapping or a domain name")
    o = _Obj(path, _merge(defaults, raw), DOMAIN_KEYS)
    name = domain_name(o.sub("name"), o.require("name"))
    path = f"{path}({name})"
    o.path = path
    if o.has("zone"):
        zone_name = domain_name(o.sub("zone"), o.get("zone"))
        if zone_name not in zones:
            raise ConfigError(o.sub("zone"), zone_name, f"is not declared under mailinfra:zones (declared: {', '.join(sorted(zones)) or 'none'})")
    else:
        candidates = [z for z in zones if name == z or name.endswith("." + z)]
        if not candidates:
            raise ConfigError(o.sub("zone"), None, f"no zone under mailinfra:zones contains {name}")
        zone_name = max(candidates, key=len)
    if not (name == zone_name or name.endswith("." + zone_name)):
        raise ConfigError(o.sub("zone"), zone_name, f"does not contain the domain {name}")
    mail_from = _str(o.sub("mailFrom"), o.get("mailFrom", "bounce"), pattern=r"(?!-)[a-z0-9-]{1,63}(?<!-)", what="a single DNS label such as 'bounce'")
    if mail_from in ("_dmarc", "mta-sts"):
        raise ConfigError(o.sub("mailFrom"), mail_from, "collides with a reserved name")
    tls_raw = o.get("tlsRpt")
    if tls_raw is None:
        raise ConfigError(o.sub("tlsRpt"), None, "is required (TLS-RPT reports are how MTA-STS failures are seen)")
    dmarc = _dmarc(o.sub("dmarc"), o.get("dmarc", {}), environment)
    bimi = _bimi(o.sub("bimi"), o.get("bimi")) if o.has("bimi") else None
    if bimi is not None and (dmarc.policy == "none" or dmarc.testing or dmarc.subdomain_policy == "none"):
        raise ConfigError(o.sub("bimi"), bimi.logo, f"BIMI needs DMARC quarantine or reject, not in testing (dmarc.policy is {dmarc.policy}, testing {str(dmarc.testing).lower()})")
    return DomainConfig(
        name=name,
        zone=zones[zone_name],
        spf=_spf(o.sub("spf"), o.get("spf", {})),
        dkim=_dkim(o.sub("dkim"), o.get("dkim", {})),
        dmarc=dmarc,
        mta_sts=_mta_sts(o.sub("mtaSts"), o.get("mtaSts", {}), environment),
        tls_rpt=_tls_rpt(o.sub("tlsRpt"), tls_raw),
        bimi=bimi,
        mail_from=mail_from,
        marketing=_bool(o.sub("marketing"), o.get("marketing", True)),
        ttl=_int(o.sub("ttl"), o.get("ttl", 3600), 60, 86400),
        contact_topics=tuple(
            _str(f"{o.sub('contactTopics')}[{i}]", v, pattern=r"[A-Za-z0-9_-]{1,64}", what="a topic name (letters, digits, _ and -)")
            for i, v in enumerate(_list(o.sub("contactTopics"), o.get("contactTopics", ["newsletter"])))
        ),
        mx_hosts=tuple(domain_name(f"{o.sub('mxHosts')}[{i}]", v) for i, v in enumerate(_list(o.sub("mxHosts"), o.get("mxHosts", [])))),
        dedicated_ip_pool=_bool(o.sub("dedicatedIpPool"), o.get("dedicatedIpPool", False)),
        smtp=_smtp(o.sub("smtp"), o.get("smtp", {})),
    )


def _keys(path: str, raw: Any, environment: str) -> KeysConfig:
    o = _Obj(path, raw, ("admins", "users", "rotationDays", "deletionWindowDays", "perDomain", "alertEmail", "alias"))
    admins = tuple(_str(f"{o.sub('admins')}[{i}]", v, pattern=_ARN, what="an IAM user, role or account-root ARN") for i, v in enumerate(_list(o.sub("admins"), o.require("admins"))))
    if not admins:
        raise ConfigError(o.sub("admins"), [], "needs at least one key administrator")
    window = _int(o.sub("deletionWindowDays"), o.get("deletionWindowDays", 30), 7, 30)
    if environment == "prod" and window < 30:
        raise ConfigError(o.sub("deletionWindowDays"), window, "must be 30 in prod (a deleted key is unrecoverable)")
    return KeysConfig(
        admins=admins,
        users=tuple(_str(f"{o.sub('users')}[{i}]", v, pattern=_ARN, what="an IAM user, role or account-root ARN") for i, v in enumerate(_list(o.sub("users"), o.get("users", [])))),
        rotation_days=_int(o.sub("rotationDays"), o.get("rotationDays", 365), 90, 365),
        deletion_window_days=window,
        per_domain=_bool(o.sub("perDomain"), o.get("perDomain", False)),
        alert_email=email(o.sub("alertEmail"), o.get("alertEmail")) if o.has("alertEmail") else None,
        alias=_str(o.sub("alias"), o.get("alias", "mailinfra"), pattern=r"(?!alias/|aws/)[A-Za-z0-9/_-]{1,200}", what="a KMS alias name without the alias/ prefix (aws/ is reserved)"),
    )


def _network(path: str, raw: Any) -> NetworkConfig:
    o = _Obj(path, raw, ("vpcId", "subnetIds", "vpcCidr", "allowedCidrs", "ports"))
    allowed = tuple(cidr(f"{o.sub('allowedCidrs')}[{i}]", v) for i, v in enumerate(_list(o.sub("allowedCidrs"), o.require("allowedCidrs"))))
    for i, c in enumerate(allowed):
        if ipaddress.ip_network(c).prefixlen == 0:
            raise ConfigError(f"{o.sub('allowedCidrs')}[{i}]", c, "opens SMTP to the whole internet; list the networks that may send")
    if not allowed:
        raise ConfigError(o.sub("allowedCidrs"), [], "needs at least one network")
    ports = tuple(_int(f"{o.sub('ports')}[{i}]", v, 1, 65535) for i, v in enumerate(_list(o.sub("ports"), o.get("ports", list(SMTP_PORTS)))))
    for i, p in enumerate(ports):
        if p not in SMTP_PORTS:
            raise ConfigError(f"{o.sub('ports')}[{i}]", p, f"must be an SMTP submission port ({', '.join(map(str, SMTP_PORTS))})")
    subnets = tuple(_str(f"{o.sub('subnetIds')}[{i}]", v, pattern=r"subnet-[0-9a-f]{8,17}", what="a subnet id (subnet-...)") for i, v in enumerate(_list(o.sub("subnetIds"), o.require("subnetIds"))))
    if not subnets:
        raise ConfigError(o.sub("subnetIds"), [], "needs at least one subnet")
    return NetworkConfig(
        vpc_id=_str(o.sub("vpcId"), o.require("vpcId"), pattern=r"vpc-[0-9a-f]{8,17}", what="a VPC id (vpc-...)"),
        subnet_ids=subnets,
        vpc_cidr=cidr(o.sub("vpcCidr"), o.require("vpcCidr")),
        allowed_cidrs=allowed,
        ports=ports,
    )


def _compliance(path: str, raw: Any) -> ComplianceConfig:
    o = _Obj(path, raw, ("postalAddress", "unsubscribeUrl", "oneClickUnsubscribe", "allowedRegions", "logRetentionDays"))
    address = _str(o.sub("postalAddress"), o.require("postalAddress"), what="the sender's physical postal address (CAN-SPAM)")
    if len(address.strip()) < 10:
        raise ConfigError(o.sub("postalAddress"), address, "must be a full postal address (CAN-SPAM)")
    regions = tuple(_str(f"{o.sub('allowedRegions')}[{i}]", v, pattern=_REGION, what="an AWS region such as eu-west-1") for i, v in enumerate(_list(o.sub("allowedRegions"), o.get("allowedRegions", []))))
    return ComplianceConfig(
        postal_address=address,
        unsubscribe_url=https_url(o.sub("unsubscribeUrl"), o.require("unsubscribeUrl")),
        one_click_unsubscribe=_bool(o.sub("oneClickUnsubscribe"), o.get("oneClickUnsubscribe", True)),
        allowed_regions=regions,
        log_retention_days=_int(o.sub("logRetentionDays"), o.get("logRetentionDays", 365), 1, 3653),
    )


def _relay(path: str, raw: Any) -> RelayConfig:
    o = _Obj(path, raw, ("maxDeliverySeconds", "senderIps"))
    ips = []
    for i, v in enumerate(_list(o.sub("senderIps"), o.get("senderIps", []))):
        try:
            ips.append(str(ipaddress.ip_address(str(v))))
        except ValueError:
            raise ConfigError(f"{o.sub('senderIps')}[{i}]", v, "must be an IP address the relay sends from") from None
    return RelayConfig(
        max_delivery_seconds=_int(o.sub("maxDeliverySeconds"), o.get("maxDeliverySeconds", 50400), 300, 50400),
        sender_ips=tuple(ips),
    )


TOP_KEYS = (
    "environment", "owner", "dataClassification", "accountId", "zones", "domains", "domainDefaults",
    "keys", "network", "compliance", "relay", "nonSendingNames",
)  # fmt: skip


def parse_config(raw: Mapping[str, Any], *, stack: str, region: str | None) -> StackConfig:
    """Validate the ``mailinfra:*`` keys (without the namespace) of one stack."""
    p = NAMESPACE
    o = _Obj(p, raw, TOP_KEYS)
    env_default = stack if stack in ENVIRONMENTS else None
    env_raw = o.get("environment", env_default)
    if env_raw is None:
        raise ConfigError(o.sub("environment"), None, f"is required when the stack name is not one of {', '.join(ENVIRONMENTS)}")
    environment = _choice(o.sub("environment"), env_raw, ENVIRONMENTS)
    if region is None:
        raise ConfigError("aws:region", None, "is required (every resource's region is pinned)")
    region = _str("aws:region", region, pattern=_REGION, what="an AWS region such as eu-west-1")

    zones_raw = o.require("zones")
    if not isinstance(zones_raw, Mapping) or not zones_raw:
        raise ConfigError(o.sub("zones"), zones_raw, "must map each zone name to {provider, zoneId}")
    zones = {}
    for zname, zraw in zones_raw.items():
        name = domain_name(f"{o.sub('zones')}.{zname}", zname)
        zones[name] = _zone(f"{o.sub('zones')}.{name}", name, zraw)

    defaults = o.get("domainDefaults", {})
    if not isinstance(defaults, Mapping):
        raise ConfigError(o.sub("domainDefaults"), defaults, "must be a mapping")
    if "name" in defaults:
        raise ConfigError(o.sub("domainDefaults.name"), defaults["name"], "a default cannot set the domain name")
    domains_raw = _list(o.sub("domains"), o.require("domains"))
    if not domains_raw:
        raise ConfigError(o.sub("domains"), [], "needs at least one sending domain")
    domains = tuple(_domain(f"{o.sub('domains')}[{i}]", d, defaults, zones, environment) for i, d in enumerate(domains_raw))
    seen: set[str] = set()
    for i, d in enumerate(domains):
        if d.name in seen:
            raise ConfigError(f"{o.sub('domains')}[{i}].name", d.name, "is declared twice")
        seen.add(d.name)

    compliance = _compliance(o.sub("compliance"), o.require("compliance"))
    if compliance.allowed_regions and region not in compliance.allowed_regions:
        raise ConfigError("aws:region", region, f"is not in mailinfra:compliance.allowedRegions ({', '.join(compliance.allowed_regions)})")
    non_sending = tuple(domain_name(f"{o.sub('nonSendingNames')}[{i}]", v) for i, v in enumerate(_list(o.sub("nonSendingNames"), o.get("nonSendingNames", []))))
    for i, n in enumerate(non_sending):
        if n in seen:
            raise ConfigError(f"{o.sub('nonSendingNames')}[{i}]", n, "is also a sending domain")
        if not any(n == z or n.endswith("." + z) for z in zones):
            raise ConfigError(f"{o.sub('nonSendingNames')}[{i}]", n, "is in no zone under mailinfra:zones")

    return StackConfig(
        environment=environment,
        region=region,
        owner=_str(o.sub("owner"), o.require("owner"), pattern=r"[\w.@+-]{1,128}", what="an owner name (team or address)"),
        data_classification=_choice(o.sub("dataClassification"), o.get("dataClassification", "confidential"), ("public", "internal", "confidential", "restricted")),
        account_id=_str(o.sub("accountId"), o.get("accountId", "123456789012"), pattern=r"\d{12}", what="a 12-digit AWS account id"),
        domains=domains,
        keys=_keys(o.sub("keys"), o.require("keys"), environment),
        compliance=compliance,
        network=_network(o.sub("network"), o.get("network")) if o.has("network") else None,
        relay=_relay(o.sub("relay"), o.get("relay", {})),
        zones=tuple(zones.values()),
        non_sending_names=non_sending,
    )


def _decode(value: Any) -> Any:
    """Config values arrive as strings; objects and lists are JSON-encoded."""
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in "[{" or text in ("true", "false"):
            try:
                return json.loads(text)
            except ValueError:
                return value
    return value


def all_namespace_values(namespace: str = NAMESPACE) -> dict[str, Any]:
    """Every ``<namespace>:<key>`` value the running program was given, decoded."""
    from pulumi.runtime import config as rc

    merged: dict[str, Any] = {}
    merged.update(rc.get_config_env())
    merged.update(rc.CONFIG.get())
    prefix = namespace + ":"
    return {k[len(prefix):]: _decode(v) for k, v in merged.items() if k.startswith(prefix)}


def load() -> StackConfig:
    """Read and validate the running stack's config (raises ConfigError)."""
    import pulumi

    region = pulumi.Config("aws").get("region")
    return parse_config(all_namespace_values(), stack=pulumi.get_stack(), region=region)
