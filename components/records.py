"""Pure builders of the DNS records a sending domain publishes.

Every builder returns :class:`DnsRecord` values composed from the standards package
(the single source of truth shared with the policy pack and ``mailinfra verify``), so a
record that builds also parses with those rules and with dnspython.

API (all names lowercase, absolute, without trailing dot):
    DnsRecord(name, type, values, purpose, ttl=3600)            # validated, frozen
    spf_record(domain, *, includes=(), ip4=(), ip6=(), a=False, mx=False,
               all_qualifier="-", redirect=None, ttl=3600) -> DnsRecord
    dkim_record(domain, selector, public_key, key_type="rsa", *, ttl=3600) -> DnsRecord
    easy_dkim_records(domain, tokens, region=None, *, ttl=3600) -> tuple[DnsRecord, ...]   # 3 CNAMEs
    dmarc_record(domain, p, *, sp=None, np=None, adkim=None, aspf=None, rua=(), ruf=(),
                 fo=None, t=None, psd=None, ttl=3600) -> DnsRecord
    dmarc_report_auth_records(domain, dmarc, *, ttl=3600) -> tuple[DnsRecord, ...]
    mta_sts(domain, mode, mx_patterns, max_age, *, ttl=3600) -> MtaSts
    mta_sts_record(domain, policy_text, *, ttl=3600) -> MtaSts  # .record, .policy_text, .policy_id, .policy_url
    tls_rpt_record(domain, rua, *, ttl=3600) -> DnsRecord
    bimi_record(domain, selector, logo, authority, dmarc, *, ttl=3600) -> DnsRecord
    mail_from_records(mail_from_domain, region, *, ttl=3600) -> tuple[DnsRecord, DnsRecord]  # MX, SPF
    null_sender_records(name, *, ttl=3600) -> tuple[DnsRecord, DnsRecord]  # null SPF, DMARC reject
    route53_values(record) -> list[str]       # pulumi-aws route53.Record ``records``
    cloudflare_content(record) -> str         # cloudflare DnsRecord ``content`` (single-value records)
    cloudflare_contents(record) -> list[str]  # one content per value
    mx_priority(record) -> int                # Cloudflare ``priority`` of an MX record
    rdata_texts(record) -> list[str]          # presentation form of each value (zone files)
    route53_txt(value) / cloudflare_txt(value)  # re-exported from the standards' txt module
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import dns.exception
import dns.rdata
import dns.rdataclass
import dns.rdatatype

from mailinfra.policies.mailinfra_policy.providers import CLOUDFLARE, ROUTE53, presentation
from mailinfra.policies.mailinfra_policy.standards import aws, bimi, dkim, dmarc, kinds, mailfrom, mtasts, spf, tlsrpt
from mailinfra.policies.mailinfra_policy.standards._common import is_hostname, normalize_host, organizational_domain
from mailinfra.policies.mailinfra_policy.standards.errors import InputError, StandardError
from mailinfra.policies.mailinfra_policy.standards.txt import cloudflare_txt, route53_txt  # re-exported

__all__ = [
    "MAX_TTL",
    "MIN_TTL",
    "PURPOSES",
    "RECORD_TYPES",
    "DnsRecord",
    "MtaSts",
    "RecordError",
    "bimi_record",
    "cloudflare_content",
    "cloudflare_contents",
    "cloudflare_txt",
    "dkim_record",
    "dmarc_record",
    "dmarc_report_auth_records",
    "easy_dkim_records",
    "mail_from_records",
    "mta_sts",
    "mta_sts_record",
    "mx_priority",
    "null_sender_records",
    "rdata_texts",
    "route53_txt",
    "route53_values",
    "spf_record",
    "tls_rpt_record",
]

# Purposes, their DNS types and owner names: the registry of record kinds.
PURPOSES = kinds.PURPOSES
RECORD_TYPES = tuple(dict.fromkeys(t for k in kinds.KINDS for t in k.rtypes))
# TTL bounds we accept: at least 1 s, at most one day (a sane ceiling for records
# that rotate, such as DKIM selectors and MTA-STS ids; DNS itself allows 2^31-1).
MIN_TTL = 1
MAX_TTL = 86400
DEFAULT_TTL = 3600
SES_MAIL_FROM_SPF = mailfrom.MAIL_FROM_SPF


class RecordError(InputError):
    """A DnsRecord field is invalid; the message names the field and the bad value (exit 2)."""


@dataclass(frozen=True)
class DnsRecord:
    name: str  # FQDN, lowercase, no trailing dot, e.g. "_dmarc.example.com"
    type: str  # "TXT" | "CNAME" | "MX"
    values: tuple[str, ...]  # TXT: full unsplit text; MX: "10 host"; CNAME: target without trailing dot
    purpose: str  # one of PURPOSES
    ttl: int = DEFAULT_TTL

    def __post_init__(self) -> None:
        name = self.name
        if not isinstance(name, str) or name != name.lower() or name.endswith("."):
            raise RecordError(f"DnsRecord.name must be lowercase without a trailing dot (got {name!r})")
        if not is_hostname(name, allow_underscore=True):
            raise RecordError(f"DnsRecord.name is not a valid DNS name (got {name!r})")
        if self.type not in RECORD_TYPES:
            raise RecordError(f"DnsRecord.type must be one of {', '.join(RECORD_TYPES)} (got {self.type!r})")
        if self.purpose not in PURPOSES:
            raise RecordError(f"DnsRecord.purpose is not a known purpose (got {self.purpose!r})")
        kind = kinds.get(self.purpose)
        if self.type not in kind.rtypes:
            raise RecordError(f"DnsRecord {self.purpose} must be {'/'.join(kind.rtypes)} (got {self.type!r})")
        if kinds.match(self.purpose, name) is None:
            raise RecordError(f"DnsRecord {self.purpose} name must be {kind.owner} (got {name!r})")
        if isinstance(self.ttl, bool) or not isinstance(self.ttl, int) or not MIN_TTL <= self.ttl <= MAX_TTL:
            raise RecordError(f"DnsRecord.ttl must be an integer {MIN_TTL}..{MAX_TTL} (got {self.ttl!r})")
        if not isinstance(self.values, tuple) or not self.values:
            raise RecordError(f"DnsRecord.values must be a non-empty tuple (got {self.values!r})")
        if not all(isinstance(v, str) for v in self.values):
            raise RecordError(f"DnsRecord.values must hold strings (got {self.values!r})")
        if len(set(self.values)) != len(self.values):
            raise RecordError(f"DnsRecord.values has duplicates (got {self.values!r})")
        if self.type == "CNAME" and len(self.values) != 1:
            raise RecordError(f"DnsRecord CNAME {name!r} must have exactly one value (got {len(self.values)})")
        for value in self.values:
            self._check_value(value)

    def _check_value(self, value: str) -> None:
        if self.type == "CNAME" and (
            value != value.lower() or value.endswith(".") or not is_hostname(value, allow_underscore=True)
        ):
            raise RecordError(f"DnsRecord CNAME target must be a lowercase host name without trailing dot (got {value!r})")
        if self.type == "MX":
            priority, _, host = value.partition(" ")
            if (
                not (priority.isascii() and priority.isdigit())
                or not 0 <= int(priority) <= 65535
                or str(int(priority)) != priority
            ):
                raise RecordError(f"DnsRecord MX value must be '<priority 0..65535> <host>' (got {value!r})")
            if host != host.lower() or host.endswith(".") or not is_hostname(host):
                raise RecordError(f"DnsRecord MX host must be a lowercase host name without trailing dot (got {value!r})")
        try:
            dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(self.type), presentation(self.type, value))
        except (dns.exception.DNSException, StandardError) as exc:
            raise RecordError(f"DnsRecord {self.type} value for {self.name!r} is not valid rdata: {exc}") from None


def _domain(domain: str) -> str:
    if not isinstance(domain, str) or not is_hostname(domain, allow_underscore=True):
        raise RecordError(f"domain is not a valid DNS name (got {domain!r})")
    return normalize_host(domain)


def spf_record(
    domain: str,
    *,
    includes: Iterable[str] = (),
    ip4: Iterable[str] = (),
    ip6: Iterable[str] = (),
    a: bool = False,
    mx: bool = False,
    all_qualifier: str = "-",
    redirect: str | None = None,
    ttl: int = DEFAULT_TTL,
) -> DnsRecord:
    """The domain's one SPF record (RFC 7208), ``-all`` unless told otherwise."""
    text = spf.build_spf(includes, ip4, ip6, a=a, mx=mx, all_qualifier=all_qualifier, redirect=redirect)
    return DnsRecord(_domain(domain), "TXT", (text,), "spf", ttl)


def dkim_record(domain: str, selector: str, public_key: object, key_type: str = "rsa", *, ttl: int = DEFAULT_TTL) -> DnsRecord:
    """A DKIM key record at ``<selector>._domainkey.<domain>`` (RSA >= 2048 bits or Ed25519)."""
    name = dkim.dkim_name(selector, _domain(domain))
    return DnsRecord(name, "TXT", (dkim.dkim_txt_from_public_key(public_key, key_type),), "dkim", ttl)


def easy_dkim_records(
    domain: str, tokens: Iterable[str], region: str | None = None, *, ttl: int = DEFAULT_TTL
) -> tuple[DnsRecord, ...]:
    """The three SES Easy DKIM CNAMEs ``<token>._domainkey.<domain>`` -> ``<token>.dkim.amazonses.com``."""
    if isinstance(tokens, str):
        raise RecordError("Easy DKIM tokens must be a list of three tokens, not one string")
    token_list = list(tokens)
    if len(token_list) != 3 or len({t.lower() for t in token_list if isinstance(t, str)}) != 3:
        raise RecordError(f"Easy DKIM needs exactly three distinct tokens (got {len(token_list)})")
    records = []
    for token in token_list:
        name, rtype, target = dkim.easy_dkim_cname(_domain(domain), token, region)
        records.append(DnsRecord(name, rtype, (target,), "easy-dkim", ttl))
    return tuple(records)


def dmarc_record(
    domain: str,
    p: str,
    *,
    sp: str | None = None,
    np: str | None = None,
    adkim: str | None = None,
    aspf: str | None = None,
    rua: Iterable[str] = (),
    ruf: Iterable[str] = (),
    fo: str | None = None,
    t: str | None = None,
    psd: str | None = None,
    ttl: int = DEFAULT_TTL,
) -> DnsRecord:
    """The DMARC record at ``_dmarc.<domain>`` (RFC 9989: no pct/rf/ri)."""
    text = dmarc.build_dmarc(p, sp=sp, np=np, adkim=adkim, aspf=aspf, rua=rua, ruf=ruf, fo=fo, t=t, psd=psd)
    return DnsRecord(dmarc.dmarc_name(_domain(domain)), "TXT", (text,), "dmarc", ttl)


def _dmarc_text(value: DnsRecord | str | dmarc.DmarcRecord) -> dmarc.DmarcRecord:
    if isinstance(value, dmarc.DmarcRecord):
        return value
    if isinstance(value, DnsRecord):
        if value.purpose not in ("dmarc", "null-dmarc"):
            raise RecordError(f"expected a DMARC record, got purpose {value.purpose!r} at {value.name!r}")
        return dmarc.parse_dmarc(value.values[0])
    return dmarc.parse_dmarc(value)


def dmarc_report_auth_records(
    domain: str, dmarc_value: DnsRecord | str | dmarc.DmarcRecord, *, ttl: int = DEFAULT_TTL
) -> tuple[DnsRecord, ...]:
    """One ``<domain>._report._dmarc.<dest>`` = ``v=DMARC1`` per external report destination.

    These live in the destination's zone: publish them there, or have its owner do it.
    """
    domain = _domain(domain)
    record = _dmarc_text(dmarc_value)
    out = []
    for dest in dmarc.external_destinations(domain, record):
        name, value = dmarc.report_auth_record(domain, dest)
        out.append(DnsRecord(name, "TXT", (value,), "dmarc-report-auth", ttl))
    return tuple(out)


@dataclass(frozen=True)
class MtaSts:
    """The MTA-STS TXT record and the policy it announces, built together."""

    record: DnsRecord  # TXT at _mta-sts.<domain>: "v=STSv1; id=<policy_id>"
    policy_text: str  # served at policy_url, CRLF lines
    policy_id: str  # derived from policy_text
    policy_host: str  # mta-sts.<domain>
    policy_url: str  # https://mta-sts.<domain>/.well-known/mta-sts.txt


def mta_sts_record(domain: str, policy_text: str, *, ttl: int = DEFAULT_TTL) -> MtaSts:
    """The ``_mta-sts`` TXT whose id is derived from ``policy_text`` (validated first)."""
    domain = _domain(domain)
    mtasts.parse_policy(policy_text)
    policy_id = mtasts.policy_id(policy_text)
    record = DnsRecord(mtasts.txt_name(domain), "TXT", (mtasts.build_txt(policy_id),), "mta-sts", ttl)
    return MtaSts(record, policy_text, policy_id, mtasts.policy_host(domain), mtasts.policy_url(domain))


def mta_sts(domain: str, mode: str, mx_patterns: Iterable[str], max_age: int, *, ttl: int = DEFAULT_TTL) -> MtaSts:
    """Build the policy (RFC 8461) and its TXT record in one step."""
    return mta_sts_record(domain, mtasts.build_policy(mode, mx_patterns, max_age), ttl=ttl)


def tls_rpt_record(domain: str, rua: Iterable[str], *, ttl: int = DEFAULT_TTL) -> DnsRecord:
    """``_smtp._tls.<domain>`` = ``v=TLSRPTv1; rua=...`` (RFC 8460)."""
    return DnsRecord(tlsrpt.txt_name(_domain(domain)), "TXT", (tlsrpt.build_tlsrpt(rua),), "tls-rpt", ttl)


def bimi_record(
    domain: str,
    selector: str,
    logo: str,
    authority: str | None,
    dmarc_value: DnsRecord | str | dmarc.DmarcRecord,
    *,
    ttl: int = DEFAULT_TTL,
) -> DnsRecord:
    """``<selector>._bimi.<domain>`` = ``v=BIMI1; l=...; a=...``, only under an enforcing DMARC.

    The DMARC passed must meet ``bimi.dmarc_precondition`` (quarantine or reject, not
    t=y, sp not none); a DnsRecord must sit at ``_dmarc.<domain>`` or
    ``_dmarc.<organisational domain>``.
    """
    domain = _domain(domain)
    if isinstance(dmarc_value, DnsRecord):
        allowed = {dmarc.dmarc_name(domain), dmarc.dmarc_name(organizational_domain(domain))}
        if dmarc_value.name not in allowed:
            raise RecordError(f"BIMI for {domain!r} needs the DMARC record of {domain!r}, got {dmarc_value.name!r}")
    problems = bimi.dmarc_precondition(_dmarc_text(dmarc_value))
    if problems:
        raise RecordError(f"BIMI for {domain!r}: {'; '.join(problems)}")
    return DnsRecord(bimi.bimi_name(domain, selector), "TXT", (bimi.build_bimi(logo, authority),), "bimi", ttl)


def mail_from_records(mail_from_domain: str, region: str, *, ttl: int = DEFAULT_TTL) -> tuple[DnsRecord, DnsRecord]:
    """Custom MAIL FROM for SES: MX ``10 feedback-smtp.<region>.amazonses.com`` and its SPF."""
    name = _domain(mail_from_domain)
    if not aws.is_aws_region(region):
        raise RecordError(f"AWS region is not valid (got {region!r})")
    try:
        mx_value = mailfrom.feedback_mx(region)  # aws.ses_feedback_host: SES regions only
    except aws.AwsError as exc:
        raise RecordError(str(exc)) from None
    mx_record = DnsRecord(name, "MX", (mx_value,), "mail-from-mx", ttl)
    spf_txt = DnsRecord(name, "TXT", (SES_MAIL_FROM_SPF,), "mail-from-spf", ttl)
    return mx_record, spf_txt


def null_sender_records(name: str, *, ttl: int = DEFAULT_TTL) -> tuple[DnsRecord, DnsRecord]:
    """A name that never sends mail: null SPF ``v=spf1 -all`` and ``v=DMARC1; p=reject;``."""
    name = _domain(name)
    return (
        DnsRecord(name, "TXT", (spf.NULL_SPF,), "null-spf", ttl),
        DnsRecord(dmarc.dmarc_name(name), "TXT", (dmarc.NULL_DMARC,), "null-dmarc", ttl),
    )


# The provider forms are the adapters' (mailinfra.policies.mailinfra_policy.providers); these
# helpers keep the builders' API for callers that hold a DnsRecord.


def route53_values(record: DnsRecord) -> list[str]:
    """``records`` for pulumi-aws route53.Record: TXT split by ``""``, MX "prio host", CNAME target."""
    return ROUTE53.resource_values(record.type, record.values)


def cloudflare_contents(record: DnsRecord) -> list[str]:
    """One Cloudflare ``content`` per value: TXT quoted 255-byte strings, MX host only, CNAME target."""
    return CLOUDFLARE.resource_values(record.type, record.values)


def cloudflare_content(record: DnsRecord) -> str:
    """Cloudflare ``content`` of a single-value record (Cloudflare holds one value per record)."""
    if len(record.values) != 1:
        raise RecordError(f"{record.name!r} has {len(record.values)} values; use cloudflare_contents for one record per value")
    return cloudflare_contents(record)[0]


def mx_priority(record: DnsRecord) -> int:
    """The priority of a single-value MX record (Cloudflare ``priority``)."""
    if record.type != "MX" or len(record.values) != 1:
        raise RecordError(f"mx_priority needs a single-value MX record (got {record.type} at {record.name!r})")
    return int(record.values[0].partition(" ")[0])


def rdata_texts(record: DnsRecord) -> list[str]:
    """Presentation form of each value, as in a zone file (absolute names end in '.')."""
    return [presentation(record.type, value) for value in record.values]
