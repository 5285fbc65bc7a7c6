"""DMARC policy records (RFC 9989, which obsoletes RFC 7489; reports: RFC 9990).

Tags: v (first, exactly ``DMARC1``), p, sp, np (none|quarantine|reject), adkim, aspf
(r|s), rua, ruf (comma-separated ``mailto:`` URIs), fo (colon list of 0, 1, d, s),
t (y = testing, n), psd (y|n|u). ``pct``, ``rf`` and ``ri`` were removed by RFC 9989.

API:
    POLICIES = ("none", "quarantine", "reject"); REMOVED_TAGS = ("pct", "rf", "ri")
    NULL_DMARC = "v=DMARC1; p=reject;"
    dmarc_name(domain) -> "_dmarc.<domain>"
    build_dmarc(p, *, sp=None, np=None, adkim=None, aspf=None, rua=(), ruf=(), fo=None,
                t=None, psd=None) -> str
    parse_dmarc(text, *, strict=True) -> DmarcRecord
        strict: unknown tags, removed tags and a missing p raise DmarcError.
        lenient (strict=False, for third-party records): RFC 9989 4.7 - unknown and
        removed tags are ignored and listed in ``unknown_tags`` / ``removed_tags``,
        a missing p reads as none. Syntax errors in known tags raise in both modes.
    is_enforcing(record) -> bool              # p quarantine/reject and not t=y
    policy_at_least(policy, minimum) -> bool  # none < quarantine < reject
    report_domains(record) -> list[str]       # domains of rua + ruf, deduplicated
    organizational_domain(domain) -> str      # offline heuristic, see below (re-exported from _common)
    external_destinations(domain, record) -> list[str]   # report domains outside domain's org domain
    report_auth_record(domain, dest_domain) -> (name, value)  # "<domain>._report._dmarc.<dest>", "v=DMARC1"
    check_dmarc(text, *, min_policy=None) -> list[str]  # problems, [] when fine

The organisational domain is the offline heuristic of ``_common.organizational_domain``
(last two labels, three under ``co.uk``-style ccTLD second levels): RFC 9989's tree
walk needs DNS.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ._common import is_hostname, normalize_host, organizational_domain, parse_tag_list
from ._uris import mailto_domain
from .errors import DmarcError

__all__ = [
    "KNOWN_TAGS",
    "NULL_DMARC",
    "POLICIES",
    "REMOVED_TAGS",
    "DmarcRecord",
    "build_dmarc",
    "check_dmarc",
    "dmarc_name",
    "external_destinations",
    "is_enforcing",
    "organizational_domain",
    "parse_dmarc",
    "policy_at_least",
    "report_auth_record",
    "report_domains",
    "uri_domain",
]

POLICIES = ("none", "quarantine", "reject")
REMOVED_TAGS = ("pct", "rf", "ri")
KNOWN_TAGS = ("v", "p", "sp", "np", "adkim", "aspf", "rua", "ruf", "fo", "t", "psd")
NULL_DMARC = "v=DMARC1; p=reject;"

_FO_VALUES = ("0", "1", "d", "s")
_REPORT_SIZE = re.compile(r"!\d+[kmgt]?\Z", re.I)


@dataclass(frozen=True)
class DmarcRecord:
    p: str | None  # None only in lenient mode when absent
    sp: str | None = None
    np: str | None = None
    adkim: str = "r"
    aspf: str = "r"
    rua: tuple[str, ...] = ()  # URIs as written (without any legacy !size suffix)
    ruf: tuple[str, ...] = ()
    fo: tuple[str, ...] = ("0",)
    t: str = "n"
    psd: str = "u"
    removed_tags: tuple[str, ...] = ()
    unknown_tags: tuple[str, ...] = ()

    @property
    def policy(self) -> str:
        """Effective domain policy (a missing p reads as none, RFC 9989 4.7)."""
        return self.p or "none"

    @property
    def subdomain_policy(self) -> str:
        return self.sp or self.policy

    @property
    def nonexistent_policy(self) -> str:
        return self.np or self.sp or self.policy

    @property
    def testing(self) -> bool:
        return self.t == "y"


def dmarc_name(domain: str) -> str:
    return f"_dmarc.{normalize_host(domain)}"


def _choice(tag: str, value: str, allowed: Iterable[str]) -> str:
    allowed = tuple(allowed)
    lowered = value.lower()
    if lowered not in allowed:
        raise DmarcError(f"DMARC tag '{tag}' must be {', '.join(allowed[:-1])} or {allowed[-1]} (got {value!r})")
    return lowered


def _mailto(tag: str, uri: str) -> str:
    """Validate one report URI; return it without a legacy ``!size`` suffix."""
    size = _REPORT_SIZE.search(uri)
    if size:
        uri = uri[: size.start()]
    if not uri.lower().startswith("mailto:"):
        raise DmarcError(f"DMARC tag '{tag}': report URI {uri!r} must be a mailto: URI")
    if mailto_domain(uri) is None:
        raise DmarcError(f"DMARC tag '{tag}': {uri!r} is not a valid mailto: address")
    return uri


def _uri_list(tag: str, value: str) -> tuple[str, ...]:
    if value.strip() == "":
        raise DmarcError(f"DMARC tag '{tag}' is empty")
    return tuple(_mailto(tag, part.strip()) for part in value.split(","))


def _fo(value: str) -> tuple[str, ...]:
    items = tuple(item.strip().lower() for item in value.split(":"))
    for item in items:
        if item not in _FO_VALUES:
            raise DmarcError(f"DMARC tag 'fo' has unknown option {item!r} (allowed: 0, 1, d, s)")
    if len(set(items)) != len(items):
        raise DmarcError(f"DMARC tag 'fo' repeats an option (got {value!r})")
    return items


def uri_domain(uri: str) -> str:
    """The domain of a ``mailto:`` report URI, lowercase."""
    size = _REPORT_SIZE.search(uri)
    domain = mailto_domain(uri[: size.start()] if size else uri)
    if domain is None:
        raise DmarcError(f"DMARC report URI {uri!r} is not a valid mailto: address")
    return domain


def parse_dmarc(text: str, *, strict: bool = True) -> DmarcRecord:
    """Parse a DMARC record; DmarcError names the tag and the bad value."""
    if not isinstance(text, str):
        raise DmarcError(f"DMARC record must be a str (got {type(text).__name__})")
    pairs = parse_tag_list(text, DmarcError, "DMARC")
    if not pairs or pairs[0][0] != "v" or pairs[0][1] != "DMARC1":
        first = text.split(";", 1)[0].strip()
        raise DmarcError(f"DMARC record must start with 'v=DMARC1' (got {first!r})")
    values: dict[str, object] = {}
    removed: list[str] = []
    unknown: list[str] = []
    for raw_tag, value in pairs[1:]:
        tag = raw_tag.lower()
        if tag in REMOVED_TAGS:
            if strict:
                raise DmarcError(
                    f"DMARC tag '{tag}' was removed by RFC 9989 (pct, rf and ri are gone) (got '{raw_tag}={value}')"
                )
            removed.append(tag)
            continue
        if tag not in KNOWN_TAGS or tag == "v":
            if strict:
                raise DmarcError(f"DMARC tag '{raw_tag}' is not an RFC 9989 tag (got '{raw_tag}={value}')")
            unknown.append(raw_tag)
            continue
        if tag in ("p", "sp", "np"):
            values[tag] = _choice(tag, value, POLICIES)
        elif tag in ("adkim", "aspf"):
            values[tag] = _choice(tag, value, ("r", "s"))
        elif tag == "t":
            values[tag] = _choice(tag, value, ("y", "n"))
        elif tag == "psd":
            values[tag] = _choice(tag, value, ("y", "n", "u"))
        elif tag in ("rua", "ruf"):
            values[tag] = _uri_list(tag, value)
        else:  # fo
            values[tag] = _fo(value)
    if "p" not in values and strict:
        raise DmarcError("DMARC record has no 'p' tag (none, quarantine or reject)")
    return DmarcRecord(
        p=values.get("p"),  # type: ignore[arg-type]
        removed_tags=tuple(removed),
        unknown_tags=tuple(unknown),
        **{k: v for k, v in values.items() if k != "p"},  # type: ignore[arg-type]
    )


def build_dmarc(
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
) -> str:
    """Build ``v=DMARC1; p=...; ...`` (tags in RFC order, report URIs deduplicated).

    ``rua``/``ruf`` take ``mailto:`` URIs or bare addresses (``mailto:`` is added).
    """
    if isinstance(rua, str) or isinstance(ruf, str):
        raise DmarcError("DMARC rua and ruf must be lists of URIs, not one string")
    parts = ["v=DMARC1", f"p={_choice('p', p, POLICIES)}"]
    for tag, value, allowed in (
        ("sp", sp, POLICIES),
        ("np", np, POLICIES),
        ("adkim", adkim, ("r", "s")),
        ("aspf", aspf, ("r", "s")),
    ):
        if value is not None:
            parts.append(f"{tag}={_choice(tag, value, allowed)}")
    for tag, uris in (("rua", rua), ("ruf", ruf)):
        cleaned: list[str] = []
        for uri in uris:
            full = uri if uri.lower().startswith("mailto:") else f"mailto:{uri}"
            if "," in full or "!" in full or ";" in full or " " in full:
                raise DmarcError(f"DMARC tag '{tag}': report URI {uri!r} contains ',', '!', ';' or a space")
            _mailto(tag, full)
            if full not in cleaned:
                cleaned.append(full)
        if cleaned:
            parts.append(f"{tag}={','.join(cleaned)}")
    if fo is not None:
        parts.append(f"fo={':'.join(_fo(fo))}")
    if t is not None:
        parts.append(f"t={_choice('t', t, ('y', 'n'))}")
    if psd is not None:
        parts.append(f"psd={_choice('psd', psd, ('y', 'n', 'u'))}")
    text = "; ".join(parts)
    parse_dmarc(text)
    return text


def policy_at_least(policy: str, minimum: str) -> bool:
    """True if ``policy`` is at least as strict as ``minimum`` (none < quarantine < reject)."""
    return POLICIES.index(_choice("p", policy, POLICIES)) >= POLICIES.index(_choice("p", minimum, POLICIES))


def is_enforcing(record: DmarcRecord) -> bool:
    """p=quarantine or p=reject, and not in testing mode (t=y)."""
    return record.policy in ("quarantine", "reject") and not record.testing


def report_domains(record: DmarcRecord) -> list[str]:
    out: list[str] = []
    for uri in (*record.rua, *record.ruf):
        domain = uri_domain(uri)
        if domain not in out:
            out.append(domain)
    return out


def external_destinations(domain: str, record: DmarcRecord) -> list[str]:
    """Report domains outside ``domain``'s organisational domain (they need authorisation)."""
    own = organizational_domain(domain)
    return [d for d in report_domains(record) if organizational_domain(d) != own]


def report_auth_record(domain: str, dest_domain: str) -> tuple[str, str]:
    """External report authorisation (RFC 9990): ``<domain>._report._dmarc.<dest>`` = ``v=DMARC1``."""
    name = f"{normalize_host(domain)}._report._dmarc.{normalize_host(dest_domain)}"
    if not is_hostname(name, allow_underscore=True):
        raise DmarcError(f"DMARC report authorisation name {name!r} is not a valid DNS name")
    return name, "v=DMARC1"


def check_dmarc(text: str, *, min_policy: str | None = None) -> list[str]:
    """Problems with a DMARC record we publish ([] when fine)."""
    try:
        record = parse_dmarc(text)
    except DmarcError as exc:
        return [str(exc)]
    problems: list[str] = []
    if min_policy is not None:
        for tag, value in (("p", record.policy), ("sp", record.subdomain_policy), ("np", record.nonexistent_policy)):
            if not policy_at_least(value, min_policy):
                problems.append(f"DMARC tag '{tag}' is {value!r}, weaker than the required {min_policy!r}")
        if record.testing and min_policy != "none":
            problems.append("DMARC tag 't=y' puts the policy in testing mode; receivers apply one level less")
    if not record.rua:
        problems.append("DMARC record has no 'rua' (no aggregate reports)")
    return problems
