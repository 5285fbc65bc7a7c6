"""Stack configuration -> frozen, validated dataclasses.

Every key lives in the ``mailinfra`` namespace of the stack file
(``stacks/Pulumi.<stack>.yaml``). :func:`parse_config` is pure (tests call it with a
dict); :func:`load` reads the running program's config. Every error is a
:class:`ConfigError` that names the key as the stack file writes it
(``mailinfra.domains[0](mail.example.com).spf.ip4[1]``) and the value as written; unknown
keys are rejected with a suggestion, so a typo never silently falls back to a default.

The syntax and limits of SPF, DKIM, DMARC, MTA-STS, TLS-RPT, BIMI and TXT are the
standards' (``policies/mailinfra_policy/standards``): this module calls their builders
and checks on each value and on the whole record, and adds only the key path and what
is this project's choice (presets, required keys, refusing ``+all``, ``aspf=s``...).
:func:`config_keys` lists every key, from the same tuples the readers accept.

Fleets: ``domainDefaults`` is merged (deeply) under every entry of ``domains``, so a
stack of 1,000 domains lists only what differs per domain.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from mailinfra.policies.mailinfra_policy.standards import bimi, dkim, dmarc, mtasts, spf, tlsrpt, txt
from mailinfra.policies.mailinfra_policy.standards._common import ENVIRONMENTS, in_zone, is_hostname, normalize_host, zone_for
from mailinfra.policies.mailinfra_policy.standards._uris import address_domain, https_host, mailto_domain
from mailinfra.policies.mailinfra_policy import providers
from mailinfra.policies.mailinfra_policy.standards import aws, intake, privacy, quotas
from mailinfra.policies.mailinfra_policy.standards import dnsbl
from mailinfra.policies.mailinfra_policy.standards.aws import LOG_RETENTION_DAYS, is_aws_region
from mailinfra.policies.mailinfra_policy.standards.errors import InputError, StandardError

from . import shards as _fleet_model

__all__ = [
    "ENVIRONMENTS",
    "LOG_RETENTION_DAYS",
    "NAMESPACE",
    "ConfigError",
    "StackConfig",
    "argument_key",
    "config_keys",
    "load",
    "parse_config",
]

NAMESPACE = "mailinfra"
PROVIDERS = providers.NAMES  # the DNS provider adapters (one per provider)
# An SMTP access-key generation label (it names the key's secret); SmtpAccessArgs checks it too.
KEY_GENERATION = re.compile(r"[a-z0-9][a-z0-9-]{0,15}\Z")
SENDING_SYSTEM = re.compile(r"[a-z0-9][a-z0-9-]{0,31}\Z")  # part of the IAM user and secret names
SMTP_PORTS = (587, 465, 2587)
CONFIGURATION_SETS = ("own", "shared")
# mailinfra:mtaStsHosting (Route53 domains): "own", a CloudFront distribution per domain;
# "shared", one multi-tenant distribution with a tenant per domain (components/mtasts_hosting.py)
MTA_STS_HOSTINGS = ("own", "shared")

# Environment presets: dev monitors, staging quarantines, prod rejects.
DMARC_PRESET = {"dev": "none", "staging": "quarantine", "prod": "reject"}
MTA_STS_PRESET = {"dev": "testing", "staging": "testing", "prod": "enforce"}
REQUIRED_TAGS = ("owner", "environment", "data-classification")

T = TypeVar("T")


class ConfigError(InputError):
    """A stack config value is invalid: ``"<key path>: <reason> (got <value as written>)"``.

    ``path`` is the stack-file key as written (``mailinfra.network.allowedCidrs[1]``);
    a missing value reads ``(missing)``. ``secret``: the value came from a ``secure:``
    key (or the path names a secret), so neither the message nor ``value`` holds it.
    """

    def __init__(self, path: str, value: Any, reason: str, *, secret: bool = False, shown: bool = True) -> None:
        self.path = path
        self.secret = secret or _looks_secret(path)
        self.value = SECRET_SHOWN if self.secret and value is not None else value
        self.reason = _scrub(reason, value) if self.secret else reason
        self.shown = shown  # False: the reason already says what is wrong with which value
        if not shown:
            suffix = ""
        elif value is None:
            suffix = " (missing)"
        elif self.secret:
            suffix = " (the value is secret and not shown)"
        else:
            suffix = f" (got {_short(as_written(value))})"
        super().__init__(f"{path}: {self.reason}{suffix}")

    def hidden(self) -> ConfigError:
        """The same error for a value read from a ``secure:`` key."""
        return ConfigError(self.path, self.value, self.reason, secret=True, shown=self.shown)


SECRET_SHOWN = "<secret>"


def _looks_secret(path: str) -> bool:
    return bool(re.search(r"(password|secret|token|privatekey|private_key)", path, re.I))


def _scrub(reason: str, value: Any) -> str:
    """Drop a secret value from a reason that quotes it (standards' messages do)."""
    if isinstance(value, str) and value:
        for text in (repr(value), value):
            reason = reason.replace(text, SECRET_SHOWN)
    return reason


def as_written(value: Any) -> str:
    """A value the way the stack file writes it: YAML flow style, dates ISO, true/false."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {as_written(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple, set, frozenset)):
        return "[" + ", ".join(as_written(v) for v in value) + "]"
    return str(value)


def _short(text: str) -> str:
    return text if len(text) <= 120 else text[:117] + "..."


def _standard_reason(exc: Exception) -> str:
    """A standard's message as a reason: ConfigError adds the value as written itself."""
    return re.sub(r"\s*\(got [^()]*\)\s*\Z", "", str(exc)) or str(exc)


def _standard(path: str, value: Any, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``call(*args, **kwargs)``, a standards check or builder; its error becomes a
    ConfigError at ``path`` naming ``value`` (the value as written)."""
    try:
        return call(*args, **kwargs)
    except StandardError as exc:
        raise ConfigError(path, value, _standard_reason(exc)) from None


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
    # other senders' selectors on this domain (mailinfra adopt): never declared, left alone
    foreign_selectors: tuple[str, ...] = ()


@dataclass(frozen=True)
class DmarcConfig:
    policy: str
    subdomain_policy: str | None = None
    nonexistent_policy: str | None = None
    adkim: str = "s"  # SES signs with d=<the From domain>: strict DKIM alignment holds
    aspf: str = "r"  # relaxed (RFC 9989's default): the MAIL FROM is always a subdomain
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
    # the sending system whose credentials the domain shares (None: its own, per domain)
    system: str | None = None


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
    # TXT values of other purposes at the domain name (site verifications): Route53 keeps
    # one record set per name and type, so the SPF resource must carry them or replace them
    other_txt: tuple[str, ...] = ()
    # "own": the domain's own configuration set and event topic (isolated reputation metrics,
    # alarms, IP pool); "shared": the stack's one shared set (components/relay.py)
    configuration_set: str = "own"

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
    max_age_days: int = aws.KEY_MAX_AGE_DAYS  # SMTP access keys and BYODKIM keys (verify --outputs)


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
    # privacy (standards/privacy.py): GDPR Art. 6 basis, audience codes, CCPA opt-out page
    lawful_basis: str | None = None
    audiences: tuple[str, ...] = ()
    ccpa_opt_out_url: str | None = None


@dataclass(frozen=True)
class AuditConfig:
    """Account audit and detection (components/audit.py, detection.py, operators.py).

    ``organization_trail_arn``: an organisation trail already records this account, so
    the stack declares no trail of its own. ``guard_duty`` / ``config_recorder`` are the
    paid services dev may switch off (the pack then flags them, advisory in dev).
    """

    organization_trail_arn: str | None = None
    data_events: bool = False  # S3 / Lambda data events of the stack's buckets (billed per event)
    guard_duty: bool = True
    config_recorder: bool = True
    dns_query_logging: bool = True
    flow_logs: bool = True
    operators: bool = True


@dataclass(frozen=True)
class RelayConfig:
    max_delivery_seconds: int = 50400
    sender_ips: tuple[str, ...] = ()
    helo_name: str | None = None  # the relay's HELO/EHLO name: FCrDNS of sender_ips must give it
    dnsbls: tuple[str, ...] = dnsbl.DEFAULT_ZONES  # blocklists `mailinfra verify` looks sender_ips up in


@dataclass(frozen=True)
class EventsConfig:
    """The SES event pipeline (components/events.py). OPEN/CLICK tracking processes
    personal data: only with ``consent_recorded`` (the documented consent flag)."""

    track_open: bool = False
    track_click: bool = False
    consent_recorded: bool = False
    archive_retention_days: int = 365


@dataclass(frozen=True)
class ReputationConfig:
    """Alarm levels in percent, below SES's review thresholds (components/reputation.py)."""

    bounce_warning: float = 2.5
    bounce_critical: float = 4.0
    complaint_warning: float = 0.05
    complaint_critical: float = 0.08


@dataclass(frozen=True)
class ReportsConfig:
    """The DMARC / TLS-RPT report intake (components/intake.py): ``domain`` receives
    ``dmarc@`` and ``tls-rpt@``, stored ``retention_days`` days."""

    domain: str
    zone: str
    enabled: bool = True
    retention_days: int = 365

    @property
    def dmarc_address(self) -> str:
        return intake.dmarc_address(self.domain)

    @property
    def tls_rpt_address(self) -> str:
        return intake.tls_rpt_address(self.domain)


@dataclass(frozen=True)
class FleetConfig:
    """``mailinfra:fleet``: this stack's place in a sharded fleet (components/fleet.py)."""

    role: str  # core | shard
    core: str | None = None  # shard: the core's stack name, as pulumi.StackReference takes it
    shard: int = 0  # shard: this shard's index, 0..shards-1
    shards: int = 1  # shard: how many shards the fleet has
    select: str = "list"  # shard: list (mailinfra:domains as written) | hash (fleet.shard_of)


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
    events: EventsConfig = field(default_factory=EventsConfig)
    reputation: ReputationConfig = field(default_factory=ReputationConfig)
    reports: ReportsConfig | None = None  # None: no report intake (reports.enabled false)
    audit: AuditConfig = field(default_factory=AuditConfig)
    zones: tuple[ZoneConfig, ...] = ()
    non_sending_names: tuple[str, ...] = ()
    account_id: str = "123456789012"
    # quota key -> the value AWS granted this account (mailinfra:quotas; standards/quotas.py)
    quotas: Mapping[str, int] = field(default_factory=dict)
    fleet: FleetConfig | None = None  # None: a stack of its own, not part of a sharded fleet
    # "own" | "shared" (MTA_STS_HOSTINGS): a sharded fleet shares, a stack of its own does not by default
    mta_sts_hosting: str = "own"
    # index of each of ``domains`` in mailinfra:domains as written (a hash-selected shard keeps a subset)
    domain_indexes: tuple[int, ...] = ()
    # config keys ("mailinfra:compliance") read from ``secure:`` values: errors never show them
    secret_keys: frozenset[str] = frozenset()

    @property
    def tags(self) -> dict[str, Any]:
        """Required tags; a tag read from a ``secure:`` key is a secret Output, so every
        resource input built from it stays secret (preview, state, mailinfra's reports)."""
        tags: dict[str, Any] = {
            "owner": self.owner,
            "environment": self.environment,
            "data-classification": self.data_classification,
            "managed-by": "mailinfra",
        }
        for tag, key in (("owner", "owner"), ("environment", "environment"), ("data-classification", "dataClassification")):
            if self.is_secret(f"{NAMESPACE}.{key}"):
                import pulumi

                tags[tag] = pulumi.Output.secret(tags[tag])
        return tags

    @property
    def is_prod(self) -> bool:
        return self.environment == "prod"

    def is_secret(self, path: str) -> bool:
        """Whether the key at ``path`` (``mailinfra.compliance.unsubscribeUrl``) holds a secret."""
        return _under_secret(path, self.secret_keys)

    def domain_path(self, index: int) -> str:
        """The key path of ``domains[index]`` as errors name it: ``mailinfra.domains[0](name)``."""
        written = self.domain_indexes[index] if self.domain_indexes else index
        return domain_path(written, self.domains[index].name)


# --------------------------------------------------------------------------- keys

# The keys of every section, as the stack file spells them. The readers below pass these
# tuples to _Obj (which refuses any other key), and config_keys() lists them: one list.
TOP_KEYS = (
    "environment", "owner", "dataClassification", "accountId", "zones", "domains", "domainDefaults",
    "keys", "network", "compliance", "relay", "nonSendingNames", "events", "reputation", "reports", "quotas",
    "audit", "fleet", "mtaStsHosting",
)  # fmt: skip
ZONE_KEYS = ("provider", "zoneId", "accountId", "dnssec")
DOMAIN_KEYS = (
    "name", "zone", "spf", "dkim", "dmarc", "mtaSts", "tlsRpt", "bimi", "mailFrom", "marketing", "ttl",
    "contactTopics", "mxHosts", "dedicatedIpPool", "smtp", "otherTxt", "configurationSet",
)  # fmt: skip
SPF_KEYS = ("includes", "ip4", "ip6", "a", "mx", "all")
DKIM_KEYS = ("mode", "selectors", "overlapDays", "foreignSelectors")
SELECTOR_KEYS = ("name", "published", "retireAfter")
DMARC_KEYS = ("policy", "subdomainPolicy", "nonexistentPolicy", "adkim", "aspf", "rua", "ruf", "fo", "testing")
MTA_STS_KEYS = ("mode", "maxAge", "mx", "enabled")
TLS_RPT_KEYS = ("rua",)
BIMI_KEYS = ("logo", "authority", "selector")
SMTP_KEYS = ("keyGenerations", "activeKey", "port", "system")
KEYS_KEYS = ("admins", "users", "rotationDays", "deletionWindowDays", "perDomain", "alertEmail", "alias", "maxAgeDays")
NETWORK_KEYS = ("vpcId", "subnetIds", "vpcCidr", "allowedCidrs", "ports")
COMPLIANCE_KEYS = (
    "postalAddress", "unsubscribeUrl", "oneClickUnsubscribe", "allowedRegions", "logRetentionDays",
    "lawfulBasis", "audiences", "ccpaOptOutUrl",
)  # fmt: skip
RELAY_KEYS = ("maxDeliverySeconds", "senderIps", "heloName", "dnsbls")
EVENTS_KEYS = ("tracking", "archiveRetentionDays")
TRACKING_KEYS = ("open", "click", "consentRecorded")
REPUTATION_KEYS = ("bounceWarning", "bounceCritical", "complaintWarning", "complaintCritical")
REPORTS_KEYS = ("enabled", "domain", "retentionDays")
QUOTAS_KEYS = quotas.KEYS  # the quotas of standards/quotas.py, by their config key
FLEET_KEYS = ("role", "core", "shard", "shards", "select")
AUDIT_KEYS = ("organizationTrailArn", "dataEvents", "guardDuty", "configRecorder", "dnsQueryLogging", "flowLogs", "operators")

# Where each section sits: "<zone>" stands for any zone name, "[]" for any list index.
SECTIONS: Mapping[str, tuple[str, ...]] = {
    NAMESPACE: TOP_KEYS,
    f"{NAMESPACE}:zones.<zone>": ZONE_KEYS,
    f"{NAMESPACE}:domains[]": DOMAIN_KEYS,
    f"{NAMESPACE}:domains[].spf": SPF_KEYS,
    f"{NAMESPACE}:domains[].dkim": DKIM_KEYS,
    f"{NAMESPACE}:domains[].dkim.selectors[]": SELECTOR_KEYS,
    f"{NAMESPACE}:domains[].dmarc": DMARC_KEYS,
    f"{NAMESPACE}:domains[].mtaSts": MTA_STS_KEYS,
    f"{NAMESPACE}:domains[].tlsRpt": TLS_RPT_KEYS,
    f"{NAMESPACE}:domains[].bimi": BIMI_KEYS,
    f"{NAMESPACE}:domains[].smtp": SMTP_KEYS,
    f"{NAMESPACE}:keys": KEYS_KEYS,
    f"{NAMESPACE}:network": NETWORK_KEYS,
    f"{NAMESPACE}:compliance": COMPLIANCE_KEYS,
    f"{NAMESPACE}:relay": RELAY_KEYS,
    f"{NAMESPACE}:events": EVENTS_KEYS,
    f"{NAMESPACE}:events.tracking": TRACKING_KEYS,
    f"{NAMESPACE}:reputation": REPUTATION_KEYS,
    f"{NAMESPACE}:reports": REPORTS_KEYS,
    f"{NAMESPACE}:quotas": QUOTAS_KEYS,
    f"{NAMESPACE}:audit": AUDIT_KEYS,
    f"{NAMESPACE}:fleet": FLEET_KEYS,
}
OTHER_KEYS = ("aws:region",)  # read from another namespace


def config_keys() -> frozenset[str]:
    """Every key the config model reads, e.g. ``mailinfra:domains[].dkim.selectors[].retireAfter``.

    ``domainDefaults`` takes any ``domains[]`` key but ``name`` (``mailinfra:domainDefaults.<key>``).
    """
    keys = set(OTHER_KEYS)
    for section, names in SECTIONS.items():
        joiner = ":" if section == NAMESPACE else "."
        keys.update(f"{section}{joiner}{name}" for name in names)
        if section != NAMESPACE:
            keys.add(section)
    domain, defaults = f"{NAMESPACE}:domains[]", f"{NAMESPACE}:domainDefaults"
    keys.update(defaults + k[len(domain) :] for k in list(keys) if k.startswith(domain + ".") and k != f"{domain}.name")
    return frozenset(keys)


def domain_path(index: int, name: str) -> str:
    return f"{NAMESPACE}.domains[{index}]({name})"


def _under_secret(path: str, secret_keys: Iterable[str]) -> bool:
    """``mailinfra.compliance.x`` is secret when ``mailinfra:compliance`` holds a secure value."""
    secret = set(secret_keys)
    if not secret:
        return False
    if path in secret:
        return True
    head, dot, rest = path.partition(".")
    if not dot or ":" in head:
        return False
    top = re.match(r"[^.\[(]+", rest)
    return top is not None and f"{head}:{top.group(0)}" in secret


def _camel(name: str) -> str:
    first, *more = name.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in more)


def argument_key(argument: str, value: Any, keys: Mapping[str, tuple[str, Any]]) -> str | None:
    """The stack-file key of a component argument, or None when ``keys`` does not map it.

    ``keys``: argument (or dotted prefix such as ``tags.environment``) -> (key path, the
    configured value); the longest mapped prefix wins. The rest of the argument is
    camel-cased (``selectors[1].retire_after`` -> ``<key>[1].retireAfter``); an argument
    naming a whole list gets the index of ``value`` in the configured list.
    """
    cuts = [m.start() for m in re.finditer(r"[.\[]", argument)]
    for end in (len(argument), *reversed(cuts)):
        if argument[:end] in keys:
            break
    else:
        return None
    path, configured = keys[argument[:end]]
    rest = re.sub(r"[A-Za-z_][A-Za-z0-9_]*", lambda m: _camel(m.group(0)), argument[end:])
    if not rest and isinstance(configured, (list, tuple)) and not isinstance(value, (list, tuple)):
        hits = [i for i, item in enumerate(configured) if item == value]
        if len(hits) == 1:
            rest = f"[{hits[0]}]"
    return path + rest


# --------------------------------------------------------------------------- readers


class _Obj:
    """A mapping being read at ``path``; keys outside ``allowed`` are refused with a hint."""

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

    def items(self, key: str, default: Sequence[Any] = ()) -> list[tuple[str, Any]]:
        """(path, value) of each entry of the list at ``key``."""
        path = self.sub(key)
        return [(f"{path}[{i}]", v) for i, v in enumerate(_list(path, self.get(key, list(default))))]


def _str(
    path: str, value: Any, *, pattern: str | None = None, test: Callable[[str], bool] | None = None, what: str = "a string"
) -> str:
    """A non-blank string matching ``pattern`` and passing ``test`` (a standards predicate)."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(path, value, f"must be {what}")
    if (pattern and not re.fullmatch(pattern, value)) or (test is not None and not test(value)):
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
    if isinstance(value, _dt.datetime):  # a YAML timestamp with a time: not a day
        raise ConfigError(path, value, "must be a date YYYY-MM-DD")
    if isinstance(value, _dt.date):
        return value
    try:
        return _dt.date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(path, value, "must be a date YYYY-MM-DD") from None


def domain_name(path: str, value: Any) -> str:
    """A host name (standards' is_hostname: LDH labels, 2+ labels, <= 253), lowercase, one trailing dot allowed."""
    if not isinstance(value, str):
        raise ConfigError(path, value, "must be a domain name")
    text = value.strip()
    try:
        ipaddress.ip_address(text)
    except ValueError:
        pass
    else:
        raise ConfigError(path, value, "must be a domain name, not an address")
    if not is_hostname(text):
        raise ConfigError(path, value, "must be a domain name")
    return normalize_host(text)


def email(path: str, value: Any) -> str:
    """A plain address (the standards' address rule, the one mailto: URIs use too)."""
    if address_domain(value) is None:
        raise ConfigError(path, value, "must be an email address")
    return str(value)


def https_url(path: str, value: Any) -> str:
    """An https:// URL with a valid host and port (no credentials)."""
    if not isinstance(value, str) or https_host(value) is None:
        raise ConfigError(path, value, "must be an https:// URL with a host name (and a port up to 65535)")
    return value


def cidr(path: str, value: Any) -> str:
    try:
        return str(ipaddress.ip_network(str(value), strict=True))
    except ValueError:
        raise ConfigError(path, value, "must be a CIDR block such as 203.0.113.0/24") from None


def region_name(path: str, value: Any) -> str:
    if not is_aws_region(value):
        raise ConfigError(path, value, "must be an AWS region such as eu-west-1")
    return str(value)


def _fits_provider(path: str, value: Any, provider: str, name: str, text: str) -> None:
    """The provider takes the TXT value (Route53: 255-byte strings; Cloudflare: record size)."""
    if provider == "cloudflare":
        problems = _standard(path, value, txt.check_cloudflare_txt, _standard(path, value, txt.cloudflare_txt, text), name)
    else:
        problems = _standard(path, value, txt.check_route53_txt, _standard(path, value, txt.route53_txt, text))
    if problems:
        raise ConfigError(path, value, str(problems[0]))


# --------------------------------------------------------------------------- sections


def _spf(path: str, raw: Any, domain: str, provider: str) -> SpfConfig:
    o = _Obj(path, raw, SPF_KEYS)
    includes, ip4, ip6 = o.items("includes"), o.items("ip4"), o.items("ip6")
    a, mx = _bool(o.sub("a"), o.get("a", False)), _bool(o.sub("mx"), o.get("mx", False))
    # '+all' and '?all' let anyone send: the standard parses them, this project refuses them.
    qualifier = _choice(o.sub("all"), o.get("all", "-"), ("-", "~"))
    for p, v in includes:
        _str(p, v, what="a domain name")
        record = spf.parse_spf(_standard(p, v, spf.build_spf, includes=[v]))
        loop = spf.self_reference_problem(domain, record)
        if loop is not None:
            raise ConfigError(p, v, str(loop))
    for p, v in ip4:
        _standard(p, v, spf.build_spf, ip4=[str(v)])
    for p, v in ip6:
        _standard(p, v, spf.build_spf, ip6=[str(v)])
    names = [normalize_host(v) for _, v in includes]
    # the whole record: the lookup budget (includes + a + mx) is the standard's to count
    text = _standard(
        o.sub("includes"), [v for _, v in includes], spf.build_spf,
        names, [str(v) for _, v in ip4], [str(v) for _, v in ip6], a=a, mx=mx, all_qualifier=qualifier,
    )  # fmt: skip
    _fits_provider(path, raw, provider, domain, text)
    return SpfConfig(
        includes=tuple(dict.fromkeys(names)),
        ip4=tuple(str(v) for _, v in ip4),
        ip6=tuple(str(v) for _, v in ip6),
        a=a,
        mx=mx,
        all=qualifier,
    )


def _dkim(path: str, raw: Any) -> DkimConfig:
    o = _Obj(path, raw, DKIM_KEYS)
    mode = _choice(o.sub("mode"), o.get("mode", "easy"), ("easy", "byodkim"))
    selectors = []
    for p, item in o.items("selectors"):
        s = _Obj(p, item, SELECTOR_KEYS)
        name = s.require("name")
        selectors.append(
            DkimSelector(
                name=_standard(f"{p}.name", name, dkim.validate_selector, name),
                published=_date(f"{p}.published", s.get("published")) if s.has("published") else None,
                retire_after=_date(f"{p}.retireAfter", s.get("retireAfter")) if s.has("retireAfter") else None,
            )
        )
    names = [s.name for s in selectors]
    for i, n in enumerate(names):
        if n in names[:i]:
            raise ConfigError(f"{o.sub('selectors')}[{i}].name", n, "lists a selector twice")
    if mode == "byodkim" and not selectors:
        raise ConfigError(o.sub("selectors"), [], "BYODKIM needs at least one selector")
    if mode == "easy" and selectors:
        raise ConfigError(o.sub("selectors"), names, "selectors are only for mode byodkim (SES names Easy DKIM selectors)")
    foreign: list[str] = []
    for p, v in o.items("foreignSelectors"):
        sel = _standard(p, v, dkim.validate_selector, v)
        if sel in names:
            raise ConfigError(p, v, "is one of this stack's own selectors (dkim.selectors)")
        if sel in foreign:
            raise ConfigError(p, v, "lists a selector twice")
        foreign.append(sel)
    return DkimConfig(
        mode=mode,
        selectors=tuple(selectors),
        overlap_days=_int(o.sub("overlapDays"), o.get("overlapDays", 7), 2, 90),
        foreign_selectors=tuple(foreign),
    )


def _other_txt(path: str, raw: Any, domain: str, provider: str) -> tuple[str, ...]:
    """TXT values kept beside the SPF record; SPF and DMARC have their own keys."""
    out: list[str] = []
    for i, v in enumerate(_list(path, raw)):
        p = f"{path}[{i}]"
        text = _str(p, v, what="a TXT value")
        if spf.is_spf(text):
            raise ConfigError(p, v, "is an SPF record: declare it under spf (one SPF record per name)")
        if dmarc.is_dmarc(text):
            raise ConfigError(p, v, "is a DMARC record: it belongs at _dmarc, under dmarc")
        _fits_provider(p, v, provider, domain, text)
        if text in out:
            raise ConfigError(p, v, "lists a TXT value twice")
        out.append(text)
    return tuple(out)


def _dmarc(path: str, raw: Any, environment: str, domain: str, provider: str) -> tuple[DmarcConfig, dmarc.DmarcRecord]:
    o = _Obj(path, raw, DMARC_KEYS)
    policy = _choice(o.sub("policy"), o.get("policy", DMARC_PRESET[environment]), dmarc.POLICIES)
    sub = _choice(o.sub("subdomainPolicy"), o.get("subdomainPolicy"), dmarc.POLICIES) if o.has("subdomainPolicy") else None
    nonexistent = (
        _choice(o.sub("nonexistentPolicy"), o.get("nonexistentPolicy"), dmarc.POLICIES) if o.has("nonexistentPolicy") else None
    )
    adkim = _choice(o.sub("adkim"), o.get("adkim", DmarcConfig.adkim), dmarc.ALIGNMENT_MODES)
    aspf = _choice(o.sub("aspf"), o.get("aspf", DmarcConfig.aspf), dmarc.ALIGNMENT_MODES)
    uris: dict[str, tuple[str, ...]] = {}
    for tag in ("rua", "ruf"):
        out: list[str] = []
        for p, v in o.items(tag):
            if not isinstance(v, str) or mailto_domain(v if v.lower().startswith("mailto:") else f"mailto:{v}") is None:
                raise ConfigError(p, v, "must be an email address or mailto: URI")
            one = dmarc.parse_dmarc(
                _standard(p, v, dmarc.build_dmarc, "none", rua=[v] if tag == "rua" else (), ruf=[v] if tag == "ruf" else ())
            )
            out.extend(one.rua if tag == "rua" else one.ruf)
        uris[tag] = tuple(out)
    fo = str(o.get("fo")) if o.has("fo") else None
    if fo is not None:
        _standard(o.sub("fo"), o.get("fo"), dmarc.build_dmarc, "none", fo=fo)
    testing = _bool(o.sub("testing"), o.get("testing", False))
    text = _standard(
        path, raw, dmarc.build_dmarc, policy, sp=sub, np=nonexistent, adkim=adkim, aspf=aspf,
        rua=uris["rua"], ruf=uris["ruf"], fo=fo, t="y" if testing else None,
    )  # fmt: skip
    _fits_provider(path, raw, provider, dmarc.dmarc_name(domain), text)
    cfg = DmarcConfig(
        policy=policy, subdomain_policy=sub, nonexistent_policy=nonexistent, adkim=adkim, aspf=aspf,
        rua=uris["rua"], ruf=uris["ruf"], fo=fo, testing=testing,
    )  # fmt: skip
    return cfg, dmarc.parse_dmarc(text)


def _mta_sts(path: str, raw: Any, environment: str) -> MtaStsConfig:
    o = _Obj(path, raw, MTA_STS_KEYS)
    mode = _choice(o.sub("mode"), o.get("mode", MTA_STS_PRESET[environment]), mtasts.MODES)
    mx = tuple(_standard(p, v, mtasts.check_mx_pattern, v) for p, v in o.items("mx"))
    enabled = _bool(o.sub("enabled"), o.get("enabled", True))
    # At least a day: receivers cache the policy this long (RFC 8461 recommends weeks).
    max_age = _int(o.sub("maxAge"), o.get("maxAge", 604800), 86400, mtasts.MAX_AGE_MAX)
    if enabled:
        _standard(o.sub("mx"), list(mx), mtasts.build_policy, mode, mx, max_age)
    return MtaStsConfig(mode=mode, max_age=max_age, mx=mx, enabled=enabled)


def _tls_rpt(path: str, raw: Any, domain: str, provider: str) -> TlsRptConfig:
    o = _Obj(path, raw, TLS_RPT_KEYS)
    o.require("rua")
    rua = tuple(tlsrpt.parse_tlsrpt(_standard(p, v, tlsrpt.build_tlsrpt, [v])).rua[0] for p, v in o.items("rua"))
    if not rua:
        raise ConfigError(o.sub("rua"), [], "needs at least one mailto: or https: destination")
    _fits_provider(o.sub("rua"), list(rua), provider, tlsrpt.txt_name(domain), tlsrpt.build_tlsrpt(rua))
    return TlsRptConfig(rua=rua)


def _bimi(path: str, raw: Any, domain: str, provider: str) -> BimiConfig:
    o = _Obj(path, raw, BIMI_KEYS)
    logo = _str(o.sub("logo"), o.require("logo"), what="an https:// URL of an SVG Tiny PS logo (.svg)")
    _standard(o.sub("logo"), logo, bimi.build_bimi, logo)
    authority = (
        _str(o.sub("authority"), o.get("authority"), what="an https:// URL of a VMC/CMC (.pem)") if o.has("authority") else None
    )
    text = _standard(o.sub("authority"), authority, bimi.build_bimi, logo, authority)
    selector = o.get("selector", BimiConfig.selector)
    name = _standard(o.sub("selector"), selector, bimi.bimi_name, domain, selector)
    _fits_provider(path, raw, provider, name, text)
    return BimiConfig(logo=logo, authority=authority, selector=str(selector).lower())


def _zone(path: str, name: str, raw: Any) -> ZoneConfig:
    o = _Obj(path, raw, ZONE_KEYS)
    provider = _choice(o.sub("provider"), o.require("provider"), PROVIDERS)
    if provider == "route53":
        zone_id = _str(o.sub("zoneId"), o.require("zoneId"), test=aws.is_route53_zone_id, what="a Route53 hosted zone id (Z...)")
    else:
        zone_id = _str(o.sub("zoneId"), o.require("zoneId"), pattern=r"[0-9a-f]{32}", what="a Cloudflare zone id (32 hex digits)")
    account_id = o.get("accountId")
    if provider == "cloudflare":
        account_id = _str(
            o.sub("accountId"), o.require("accountId"), pattern=r"[0-9a-f]{32}", what="a Cloudflare account id (32 hex digits)"
        )
    elif account_id is not None:
        raise ConfigError(o.sub("accountId"), account_id, "is only for Cloudflare zones")
    dnssec = _bool(o.sub("dnssec"), o.get("dnssec", False))
    if dnssec and provider != "route53":
        raise ConfigError(
            o.sub("dnssec"), dnssec, "DNSSEC signing is declared here for Route53 zones only; Cloudflare signs in its dashboard"
        )
    return ZoneConfig(name=name, provider=provider, zone_id=zone_id, account_id=account_id, dnssec=dnssec)


def _smtp(path: str, raw: Any) -> SmtpConfig:
    o = _Obj(path, raw, SMTP_KEYS)
    gens = tuple(
        _str(p, str(v), test=lambda g: KEY_GENERATION.match(g) is not None, what="a key generation label such as 1 or 2026a")
        for p, v in o.items("keyGenerations", ["1"])
    )
    if not 1 <= len(gens) <= 2:
        raise ConfigError(
            o.sub("keyGenerations"), list(gens), "must list one or two access-key generations (IAM allows two keys per user)"
        )
    if len(set(gens)) != len(gens):
        raise ConfigError(o.sub("keyGenerations"), list(gens), "lists a generation twice")
    active = str(o.get("activeKey")) if o.has("activeKey") else None
    if active is not None and active not in gens:
        raise ConfigError(o.sub("activeKey"), active, f"must be one of keyGenerations ({', '.join(gens)})")
    port = _int(o.sub("port"), o.get("port", 587), 1, 65535)
    if port not in SMTP_PORTS:
        raise ConfigError(o.sub("port"), port, f"must be an SMTP submission port ({', '.join(map(str, SMTP_PORTS))})")
    system = None
    if o.has("system"):
        system = _str(
            o.sub("system"),
            o.get("system"),
            test=lambda v: SENDING_SYSTEM.match(v) is not None,
            what="a sending system name (1-32 lowercase letters, digits, inner hyphens)",
        )
    return SmtpConfig(key_generations=gens, active_key=active, port=port, system=system)


def _same_smtp_per_system(path: str, domains: Sequence[DomainConfig]) -> None:
    """Domains that share a sending system's credentials share its key generations and port."""
    first: dict[str, tuple[int, DomainConfig]] = {}
    for i, d in enumerate(domains):
        if d.smtp.system is None:
            continue
        j, other = first.setdefault(d.smtp.system, (i, d))
        if other.smtp == d.smtp:
            continue
        for key, attr in (("keyGenerations", "key_generations"), ("activeKey", "active_key"), ("port", "port")):
            mine, theirs = getattr(d.smtp, attr), getattr(other.smtp, attr)
            if mine != theirs:
                raise ConfigError(
                    f"{domain_path(i, d.name)}.smtp.{key}",
                    list(mine) if isinstance(mine, tuple) else mine,
                    f"differs from {other.name} (domains[{j}]), which shares sending system {d.smtp.system!r}: "
                    "one set of credentials has one value",
                )


def _configuration_set_choice(o: _Obj) -> str:
    choice = _choice(o.sub("configurationSet"), o.get("configurationSet", "own"), CONFIGURATION_SETS)
    if choice == "shared" and _bool(o.sub("dedicatedIpPool"), o.get("dedicatedIpPool", False)):
        raise ConfigError(
            o.sub("configurationSet"), choice, "a dedicated IP pool belongs to a configuration set: the domain needs its own"
        )
    return choice


def _merge(base: Any, override: Any) -> Any:
    if isinstance(base, Mapping) and isinstance(override, Mapping):
        out = dict(base)
        for k, v in override.items():
            out[k] = _merge(base.get(k), v) if k in base else v
        return out
    return override


def _domain(
    path: str,
    raw: Any,
    defaults: Mapping[str, Any],
    zones: Mapping[str, ZoneConfig],
    environment: str,
    reports: ReportsConfig | None = None,
) -> DomainConfig:
    if not isinstance(raw, Mapping):
        if isinstance(raw, str):  # a fleet entry may be just the name
            raw = {"name": raw}
        else:
            raise ConfigError(path, raw, "must be a mapping or a domain name")
    o = _Obj(path, _report_defaults(_merge(defaults, raw), reports), DOMAIN_KEYS)
    name = domain_name(o.sub("name"), o.require("name"))
    path = f"{path}({name})"
    o.path = path
    if o.has("zone"):
        zone_name = domain_name(o.sub("zone"), o.get("zone"))
        if zone_name not in zones:
            raise ConfigError(
                o.sub("zone"),
                o.get("zone"),
                f"is not declared under mailinfra:zones (declared: {', '.join(sorted(zones)) or 'none'})",
            )
    else:
        found = zone_for(name, zones)
        if found is None:
            raise ConfigError(o.sub("zone"), None, f"no zone under mailinfra:zones contains {name}")
        zone_name = found
    if not in_zone(name, zone_name):
        raise ConfigError(o.sub("zone"), o.get("zone"), f"does not contain the domain {name}")
    provider = zones[zone_name].provider
    mail_from = _str(o.sub("mailFrom"), o.get("mailFrom", "bounce"), what="a single DNS label such as 'bounce'")
    if "." in mail_from or mail_from != mail_from.lower() or not is_hostname(f"{mail_from}.{name}"):
        raise ConfigError(o.sub("mailFrom"), mail_from, "must be a single DNS label, lowercase, such as 'bounce'")
    if mail_from in ("_dmarc", "mta-sts"):
        raise ConfigError(o.sub("mailFrom"), mail_from, "collides with a reserved name")
    if not o.has("tlsRpt"):
        raise ConfigError(o.sub("tlsRpt"), None, "is required (TLS-RPT reports are how MTA-STS failures are seen)")
    dmarc_cfg, dmarc_record = _dmarc(o.sub("dmarc"), o.get("dmarc", {}), environment, name, provider)
    # SES's custom MAIL FROM is <mailFrom>.<domain>: the standard says whether SPF can align.
    alignment = dmarc.spf_alignment_problem(dmarc_cfg.aspf, name, f"{mail_from}.{name}")
    if alignment is not None:
        raise ConfigError(
            o.sub("dmarc") + ".aspf", dmarc_cfg.aspf, f"{alignment} (SES's MAIL FROM is always <mailFrom>.<domain>)"
        )
    bimi_cfg = _bimi(o.sub("bimi"), o.get("bimi"), name, provider) if o.has("bimi") else None
    if bimi_cfg is not None:
        problems = bimi.dmarc_precondition(dmarc_record)
        if problems:
            settings = f"dmarc.policy is {dmarc_cfg.policy}, subdomainPolicy {dmarc_cfg.subdomain_policy or 'unset'}, testing {str(dmarc_cfg.testing).lower()}"
            raise ConfigError(o.sub("bimi"), o.get("bimi"), f"{'; '.join(problems)} ({settings}): enforce DMARC or remove bimi")
    return DomainConfig(
        name=name,
        zone=zones[zone_name],
        spf=_spf(o.sub("spf"), o.get("spf", {}), name, provider),
        dkim=_dkim(o.sub("dkim"), o.get("dkim", {})),
        dmarc=dmarc_cfg,
        mta_sts=_mta_sts(o.sub("mtaSts"), o.get("mtaSts", {}), environment),
        tls_rpt=_tls_rpt(o.sub("tlsRpt"), o.get("tlsRpt"), name, provider),
        bimi=bimi_cfg,
        mail_from=mail_from,
        marketing=_bool(o.sub("marketing"), o.get("marketing", True)),
        ttl=_int(o.sub("ttl"), o.get("ttl", 3600), 60, 86400),
        contact_topics=tuple(
            _str(p, v, test=aws.is_ses_name, what="a topic name (letters, digits, _ and -)")
            for p, v in o.items("contactTopics", ["newsletter"])
        ),
        mx_hosts=tuple(domain_name(p, v) for p, v in o.items("mxHosts")),
        dedicated_ip_pool=_bool(o.sub("dedicatedIpPool"), o.get("dedicatedIpPool", False)),
        configuration_set=_configuration_set_choice(o),
        smtp=_smtp(o.sub("smtp"), o.get("smtp", {})),
        other_txt=_other_txt(o.sub("otherTxt"), o.get("otherTxt", []), name, provider),
    )


def _keys(path: str, raw: Any, environment: str) -> KeysConfig:
    o = _Obj(path, raw, KEYS_KEYS)
    o.require("admins")
    admins = tuple(
        _str(p, v, test=aws.is_iam_principal_arn, what="an IAM user, role or account-root ARN") for p, v in o.items("admins")
    )
    if not admins:
        raise ConfigError(o.sub("admins"), [], "needs at least one key administrator")
    window = _int(o.sub("deletionWindowDays"), o.get("deletionWindowDays", 30), 7, 30)
    if environment == "prod" and window < 30:
        raise ConfigError(o.sub("deletionWindowDays"), window, "must be 30 in prod (a deleted key is unrecoverable)")
    return KeysConfig(
        admins=admins,
        users=tuple(
            _str(p, v, test=aws.is_iam_principal_arn, what="an IAM user, role or account-root ARN") for p, v in o.items("users")
        ),
        rotation_days=_int(o.sub("rotationDays"), o.get("rotationDays", 365), 90, 365),
        deletion_window_days=window,
        per_domain=_bool(o.sub("perDomain"), o.get("perDomain", False)),
        alert_email=email(o.sub("alertEmail"), o.get("alertEmail")) if o.has("alertEmail") else None,
        # at most 200: per-domain keys append "-<domain>" (KMS allows 250 after alias/)
        alias=_str(
            o.sub("alias"),
            o.get("alias", "mailinfra"),
            pattern=r".{1,200}",
            test=aws.is_kms_alias_name,
            what="a KMS alias name without the alias/ prefix (aws/ is reserved)",
        ),
        max_age_days=_int(o.sub("maxAgeDays"), o.get("maxAgeDays", aws.KEY_MAX_AGE_DAYS), 1, 3653),
    )


def _network(path: str, raw: Any) -> NetworkConfig:
    o = _Obj(path, raw, NETWORK_KEYS)
    o.require("allowedCidrs")
    allowed = []
    for p, v in o.items("allowedCidrs"):
        block = cidr(p, v)
        if ipaddress.ip_network(block).prefixlen == 0:
            raise ConfigError(p, v, "opens SMTP to the whole internet; list the networks that may send")
        allowed.append(block)
    if not allowed:
        raise ConfigError(o.sub("allowedCidrs"), [], "needs at least one network")
    ports = []
    for p, v in o.items("ports", SMTP_PORTS):
        port = _int(p, v, 1, 65535)
        if port not in SMTP_PORTS:
            raise ConfigError(p, v, f"must be an SMTP submission port ({', '.join(map(str, SMTP_PORTS))})")
        ports.append(port)
    o.require("subnetIds")
    subnets = tuple(
        _str(p, v, pattern=r"subnet-[0-9a-f]{8,17}", what="a subnet id (subnet-...)") for p, v in o.items("subnetIds")
    )
    if not subnets:
        raise ConfigError(o.sub("subnetIds"), [], "needs at least one subnet")
    return NetworkConfig(
        vpc_id=_str(o.sub("vpcId"), o.require("vpcId"), pattern=r"vpc-[0-9a-f]{8,17}", what="a VPC id (vpc-...)"),
        subnet_ids=subnets,
        vpc_cidr=cidr(o.sub("vpcCidr"), o.require("vpcCidr")),
        allowed_cidrs=tuple(allowed),
        ports=tuple(ports),
    )


def _compliance(path: str, raw: Any) -> ComplianceConfig:
    o = _Obj(path, raw, COMPLIANCE_KEYS)
    address = _str(o.sub("postalAddress"), o.require("postalAddress"), what="the sender's physical postal address (CAN-SPAM)")
    if len(address.strip()) < 10:
        raise ConfigError(o.sub("postalAddress"), address, "must be a full postal address (CAN-SPAM)")
    retention = _int(o.sub("logRetentionDays"), o.get("logRetentionDays", 365), 1, LOG_RETENTION_DAYS[-1])
    if retention not in LOG_RETENTION_DAYS:
        near = min(LOG_RETENTION_DAYS, key=lambda d: (abs(d - retention), d))
        raise ConfigError(
            o.sub("logRetentionDays"),
            o.get("logRetentionDays"),
            f"is not a retention CloudWatch Logs accepts (the nearest is {near}; allowed: {', '.join(map(str, LOG_RETENTION_DAYS))})",
        )
    return ComplianceConfig(
        postal_address=address,
        unsubscribe_url=https_url(o.sub("unsubscribeUrl"), o.require("unsubscribeUrl")),
        one_click_unsubscribe=_bool(o.sub("oneClickUnsubscribe"), o.get("oneClickUnsubscribe", True)),
        allowed_regions=tuple(region_name(p, v) for p, v in o.items("allowedRegions")),
        log_retention_days=retention,
        **_privacy(o),
    )


def _privacy(o: _Obj) -> dict[str, Any]:
    """The lawful basis, the audience and the CCPA opt-out URL (standards/privacy.py)."""
    basis = o.get("lawfulBasis")
    if basis is not None and basis not in privacy.LAWFUL_BASES:
        raise ConfigError(
            o.sub("lawfulBasis"), basis, f"must be one of {', '.join(privacy.LAWFUL_BASES)} ({privacy.LAWFUL_BASIS_RULE})"
        )
    audiences: list[str] = []
    for p, v in o.items("audiences"):
        if not privacy.is_audience(v):
            raise ConfigError(p, v, "must be EU, EEA or an ISO 3166 code such as DE or US-CA")
        if v in audiences:
            raise ConfigError(p, v, "lists an audience twice")
        audiences.append(v)
    url = https_url(o.sub("ccpaOptOutUrl"), o.get("ccpaOptOutUrl")) if o.has("ccpaOptOutUrl") else None
    if url is None and privacy.needs_ccpa_opt_out(audiences):
        raise ConfigError(
            o.sub("audiences"),
            audiences,
            f'includes California: record the "Do Not Sell or Share" page as ccpaOptOutUrl ({privacy.CCPA_RULE})',
        )
    return {"lawful_basis": basis, "audiences": tuple(audiences), "ccpa_opt_out_url": url}


def _relay(path: str, raw: Any) -> RelayConfig:
    o = _Obj(path, raw, RELAY_KEYS)
    ips = []
    for p, v in o.items("senderIps"):
        try:
            ips.append(str(ipaddress.ip_address(str(v))))
        except ValueError:
            raise ConfigError(p, v, "must be an IP address the relay sends from") from None
    helo = o.get("heloName")
    if helo is not None:
        helo = domain_name(o.sub("heloName"), helo)
    zones = []
    for p, v in o.items("dnsbls"):
        try:
            zones.append(dnsbl.validate_zone(v))
        except StandardError as exc:
            raise ConfigError(p, v, _standard_reason(exc)) from None
    return RelayConfig(
        max_delivery_seconds=_int(o.sub("maxDeliverySeconds"), o.get("maxDeliverySeconds", 50400), 300, 50400),
        sender_ips=tuple(ips),
        helo_name=helo,
        dnsbls=tuple(zones) if o.has("dnsbls") else dnsbl.DEFAULT_ZONES,
    )


def _events(path: str, raw: Any) -> EventsConfig:
    o = _Obj(path, raw, EVENTS_KEYS)
    t = _Obj(o.sub("tracking"), o.get("tracking", {}), TRACKING_KEYS)
    track_open = _bool(t.sub("open"), t.get("open", False))
    track_click = _bool(t.sub("click"), t.get("click", False))
    consent = _bool(t.sub("consentRecorded"), t.get("consentRecorded", False))
    if (track_open or track_click) and not consent:
        which = "open" if track_open else "click"
        raise ConfigError(
            t.sub(which),
            True,
            "open/click tracking processes personal data: record the consent basis first "
            "(mailinfra.events.tracking.consentRecorded: true)",
        )
    return EventsConfig(
        track_open=track_open,
        track_click=track_click,
        consent_recorded=consent,
        archive_retention_days=_int(o.sub("archiveRetentionDays"), o.get("archiveRetentionDays", 365), 1, 3653),
    )


def _audit(path: str, raw: Any) -> AuditConfig:
    o = _Obj(path, raw, AUDIT_KEYS)
    base = AuditConfig()
    trail = o.get("organizationTrailArn")
    return AuditConfig(
        organization_trail_arn=None
        if trail is None
        else _str(o.sub("organizationTrailArn"), trail, test=aws.is_cloudtrail_arn, what="a CloudTrail trail ARN"),
        **{
            attr: _bool(o.sub(key), o.get(key, getattr(base, attr)))
            for key, attr in (
                ("dataEvents", "data_events"),
                ("guardDuty", "guard_duty"),
                ("configRecorder", "config_recorder"),
                ("dnsQueryLogging", "dns_query_logging"),
                ("flowLogs", "flow_logs"),
                ("operators", "operators"),
            )
        },
    )


def _percent(path: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigError(path, value, "must be a percentage such as 2.5")
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(path, value, "must be a percentage such as 2.5") from None
    if not 0 < number < 100:
        raise ConfigError(path, value, "must be a percentage above 0 and below 100")
    return number


def _reputation(path: str, raw: Any) -> ReputationConfig:
    o = _Obj(path, raw, REPUTATION_KEYS)
    base = ReputationConfig()
    levels: dict[str, float] = {}
    for rate in ("bounce", "complaint"):
        review = aws.SES_REVIEW_THRESHOLDS[rate]
        warning = _percent(o.sub(f"{rate}Warning"), o.get(f"{rate}Warning", getattr(base, f"{rate}_warning")))
        critical = _percent(o.sub(f"{rate}Critical"), o.get(f"{rate}Critical", getattr(base, f"{rate}_critical")))
        if critical >= review:
            raise ConfigError(o.sub(f"{rate}Critical"), critical, f"must be below SES's {rate} review threshold of {review} %")
        if warning >= critical:
            raise ConfigError(o.sub(f"{rate}Warning"), warning, f"must be below {rate}Critical ({critical} %)")
        levels[f"{rate}_warning"], levels[f"{rate}_critical"] = warning, critical
    return ReputationConfig(**levels)


def _reports(path: str, raw: Any, zones: Mapping[str, ZoneConfig], region: str) -> ReportsConfig | None:
    o = _Obj(path, raw, REPORTS_KEYS)
    if not _bool(o.sub("enabled"), o.get("enabled", False)):
        return None
    default = intake.default_domain(next(iter(zones)))
    domain = domain_name(o.sub("domain"), o.get("domain", default))
    zone = zone_for(domain, zones)
    if zone is None:
        raise ConfigError(o.sub("domain"), domain, "must be in a zone under mailinfra:zones (its MX is declared there)")
    if not aws.is_ses_receiving_region(region):
        raise ConfigError(
            o.sub("enabled"),
            True,
            f"Amazon SES does not receive email in aws:region {region}; "
            "see the README's report intake and its residency trade-off",
        )
    return ReportsConfig(
        domain=domain,
        zone=zone,
        retention_days=_int(o.sub("retentionDays"), o.get("retentionDays", 365), 1, 3653),
    )


def _quotas(path: str, raw: Any) -> dict[str, int]:
    """Quota values AWS granted the account (standards/quotas.py checks each one)."""
    o = _Obj(path, raw, QUOTAS_KEYS)
    out: dict[str, int] = {}
    for key, value in o.raw.items():
        try:
            out[key] = quotas.check_value(key, value)
        except quotas.QuotaError as exc:
            raise ConfigError(o.sub(key), value, _standard_reason(exc)) from None
    return out


STACK_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}(/[A-Za-z0-9_.-]{1,100}){0,2}\Z")  # [org/[project/]]stack


def _fleet(path: str, raw: Any) -> FleetConfig:
    o = _Obj(path, raw, FLEET_KEYS)
    role = _choice(o.sub("role"), o.require("role"), _fleet_model.ROLES)
    if role == "core":
        for key in FLEET_KEYS[1:]:
            if o.has(key):
                raise ConfigError(o.sub(key), o.get(key), "is only for a shard (mailinfra:fleet.role is core)")
        return FleetConfig(role="core")
    core = _str(
        o.sub("core"), o.require("core"), pattern=STACK_NAME.pattern, what="the core's stack name ([org/[project/]]stack)"
    )
    shards = _int(o.sub("shards"), o.require("shards"), 1, _fleet_model.MAX_SHARDS)
    shard = _int(o.sub("shard"), o.require("shard"), 0, shards - 1)
    select = _choice(o.sub("select"), o.get("select", "list"), _fleet_model.SELECTIONS)
    return FleetConfig(role="shard", core=core, shard=shard, shards=shards, select=select)


def _fleet_limits(o: _Obj, fleet: FleetConfig, zones: Mapping[str, ZoneConfig]) -> None:
    """What a fleet's stacks cannot declare: the report intake (SES has one active receipt
    rule set per region), and in a shard what is the core's (zone DNSSEC, the key store)."""
    reports = o.get("reports", {})
    if isinstance(reports, Mapping) and reports.get("enabled") not in (None, False, "false"):
        raise ConfigError(
            f"{o.sub('reports')}.enabled", reports.get("enabled"), "is not supported in a sharded fleet (README 'Sharded fleets')"
        )
    if fleet.role == "core":
        if o.has("domains"):
            raise ConfigError(
                o.sub("domains"), o.get("domains"), "a fleet core holds no sending domains; list them in the shards"
            )
        return
    for zone in zones.values():
        if zone.dnssec:
            raise ConfigError(f"{o.sub('zones')}.{zone.name}.dnssec", True, "DNSSEC signs the whole zone: enable it on the core")
    keys = o.get("keys", {})
    if isinstance(keys, Mapping) and keys.get("perDomain") not in (None, False, "false"):
        raise ConfigError(f"{o.sub('keys')}.perDomain", keys.get("perDomain"), "a shard's secrets are under the core's key")


def _report_defaults(raw: Any, reports: ReportsConfig | None) -> Any:
    """A domain's DMARC rua and TLS-RPT rua default to the stack's report intake."""
    if reports is None or not isinstance(raw, Mapping):
        return raw
    out = dict(raw)
    for key, address in (("dmarc", reports.dmarc_address), ("tlsRpt", reports.tls_rpt_address)):
        section = out.get(key)
        if section is None:
            section = {}
        if isinstance(section, Mapping) and section.get("rua") is None:
            out[key] = {**section, "rua": [f"mailto:{address}"]}
    return out


def parse_config(raw: Mapping[str, Any], *, stack: str, region: str | None, secret_keys: Iterable[str] = ()) -> StackConfig:
    """Validate the ``mailinfra:*`` keys (without the namespace) of one stack.

    ``secret_keys``: full config keys (``mailinfra:compliance``, ``aws:region``) whose value
    is or holds a ``secure:`` value; an error under one of them never shows the value.
    """
    secret = frozenset(secret_keys)
    try:
        cfg = _parse(raw, stack=stack, region=region)
    except ConfigError as exc:
        if not exc.secret and _under_secret(exc.path, secret):
            raise exc.hidden() from None
        raise
    return StackConfig(**{**cfg.__dict__, "secret_keys": secret})


def _parse(raw: Mapping[str, Any], *, stack: str, region: str | None) -> StackConfig:
    p = NAMESPACE
    o = _Obj(p, raw, TOP_KEYS)
    env_default = stack if stack in ENVIRONMENTS else None
    env_raw = o.get("environment", env_default)
    if env_raw is None:
        raise ConfigError(o.sub("environment"), None, f"is required when the stack name is not one of {', '.join(ENVIRONMENTS)}")
    environment = _choice(o.sub("environment"), env_raw, ENVIRONMENTS)
    if region is None:
        raise ConfigError("aws:region", None, "is required (every resource's region is pinned)")
    region = region_name("aws:region", region)

    zones_raw = o.require("zones")
    if not isinstance(zones_raw, Mapping) or not zones_raw:
        raise ConfigError(o.sub("zones"), zones_raw, "must map each zone name to {provider, zoneId}")
    zones = {}
    for zname, zraw in zones_raw.items():
        name = domain_name(f"{o.sub('zones')}.{zname}", zname)
        zones[name] = _zone(f"{o.sub('zones')}.{zname}", name, zraw)

    fleet = _fleet(o.sub("fleet"), o.get("fleet")) if o.has("fleet") else None
    if fleet is not None:
        _fleet_limits(o, fleet, zones)

    defaults = o.get("domainDefaults", {})
    if not isinstance(defaults, Mapping):
        raise ConfigError(o.sub("domainDefaults"), defaults, "must be a mapping")
    if "name" in defaults:
        raise ConfigError(f"{o.sub('domainDefaults')}.name", defaults["name"], "a default cannot set the domain name")
    if fleet is None or fleet.role == "shard":
        o.require("domains")
    domains_raw = o.items("domains")
    if not domains_raw and (fleet is None or fleet.role == "shard"):
        raise ConfigError(o.sub("domains"), [], "needs at least one sending domain")
    reports = _reports(o.sub("reports"), o.get("reports", {}), zones, region)
    domains = tuple(_domain(dp, d, defaults, zones, environment, reports) for dp, d in domains_raw)
    seen: set[str] = set()
    for i, d in enumerate(domains):
        if d.name in seen:
            raise ConfigError(f"{o.sub('domains')}[{i}].name", d.name, "is declared twice")
        seen.add(d.name)
    _same_smtp_per_system(o.sub("domains"), domains)
    indexes = tuple(range(len(domains)))
    if fleet is not None and fleet.select == "hash":
        indexes = tuple(i for i, d in enumerate(domains) if _fleet_model.shard_of(d.name, fleet.shards) == fleet.shard)
        if not indexes:
            raise ConfigError(
                o.sub("fleet.shard"), fleet.shard, f"no domain of mailinfra:domains hashes to it (of {fleet.shards} shards)"
            )
        domains = tuple(domains[i] for i in indexes)

    compliance = _compliance(o.sub("compliance"), o.require("compliance"))
    if compliance.allowed_regions and region not in compliance.allowed_regions:
        raise ConfigError(
            "aws:region", region, f"is not in mailinfra:compliance.allowedRegions ({', '.join(compliance.allowed_regions)})"
        )
    non_sending = tuple(domain_name(np, v) for np, v in o.items("nonSendingNames"))
    for i, n in enumerate(non_sending):
        if n in seen:
            raise ConfigError(f"{o.sub('nonSendingNames')}[{i}]", n, "is also a sending domain")
        if zone_for(n, zones) is None:
            raise ConfigError(f"{o.sub('nonSendingNames')}[{i}]", n, "is in no zone under mailinfra:zones")

    return StackConfig(
        environment=environment,
        region=region,
        owner=_str(o.sub("owner"), o.require("owner"), pattern=r"[\w.@+-]{1,128}", what="an owner name (team or address)"),
        data_classification=_choice(
            o.sub("dataClassification"),
            o.get("dataClassification", "confidential"),
            ("public", "internal", "confidential", "restricted"),
        ),
        account_id=_str(
            o.sub("accountId"), o.get("accountId", "123456789012"), test=aws.is_account_id, what="a 12-digit AWS account id"
        ),
        domains=domains,
        keys=_keys(o.sub("keys"), o.require("keys"), environment),
        compliance=compliance,
        network=_network(o.sub("network"), o.get("network")) if o.has("network") else None,
        relay=_relay(o.sub("relay"), o.get("relay", {})),
        events=_events(o.sub("events"), o.get("events", {})),
        reputation=_reputation(o.sub("reputation"), o.get("reputation", {})),
        reports=reports,
        audit=_audit(o.sub("audit"), o.get("audit", {})),
        zones=tuple(zones.values()),
        non_sending_names=non_sending,
        quotas=_quotas(o.sub("quotas"), o.get("quotas", {})),
        fleet=fleet,
        mta_sts_hosting=_choice(
            o.sub("mtaStsHosting"), o.get("mtaStsHosting", "own" if fleet is None else "shared"), MTA_STS_HOSTINGS
        ),
        domain_indexes=indexes,
    )


def _decode(value: Any) -> Any:
    """Config values arrive as strings; objects and lists are JSON-encoded."""
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in "[{" or text in ("true", "false"):
            try:
                return json.loads(text)
            except (ValueError, RecursionError):  # RecursionError: nested too deep to decode
                return value
    return value


def _engine_config() -> dict[str, Any]:
    from pulumi.runtime import config as rc

    merged: dict[str, Any] = {}
    merged.update(rc.get_config_env())
    merged.update(rc.CONFIG.get())
    return merged


def all_namespace_values(namespace: str = NAMESPACE) -> dict[str, Any]:
    """Every ``<namespace>:<key>`` value the running program was given, decoded."""
    prefix = namespace + ":"
    return {k[len(prefix) :]: _decode(v) for k, v in _engine_config().items() if k.startswith(prefix)}


def secret_config_keys() -> frozenset[str]:
    """The config keys the engine marked secret (``secure:`` values in the stack file)."""
    from pulumi.runtime import config as rc

    keys = set(rc.get_config_secret_keys_env())
    keys.update(k for k in _engine_config() if rc.is_config_secret(k))
    return frozenset(keys)


def load() -> StackConfig:
    """Read and validate the running stack's config (raises ConfigError)."""
    import pulumi

    region = pulumi.Config("aws").get("region")
    return parse_config(all_namespace_values(), stack=pulumi.get_stack(), region=region, secret_keys=secret_config_keys())
