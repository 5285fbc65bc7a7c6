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
    report_authorisation(txt_values) -> str | None  # the authorising value among that name's TXT values
    is_dmarc(text) -> bool; select(txt_values) -> str  # the one DMARC record of _dmarc.<domain>, or DmarcError
    check_dmarc(text, *, min_policy=None) -> list[Problem]  # [] when fine; codes: CODES
    ALIGNMENT_MODES = ("r", "s")              # adkim / aspf: relaxed (RFC 9989 default) or strict
    spf_alignment_problem(aspf, from_domain, mail_from_domain) -> Problem | None
        # code "dmarc-spf-never-aligns": SPF under that aspf can never align for that pair
    identifier_aligned(mode, from_domain, auth_domain) -> bool
        # RFC 9989 4.4: a DKIM d= (adkim) or MAIL FROM domain (aspf) aligns with From

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
from .errors import DmarcError, Problem

__all__ = [
    "ALIGNMENT_MODES",
    "CODES",
    "KNOWN_TAGS",
    "NULL_DMARC",
    "POLICIES",
    "REMOVED_TAGS",
    "DmarcRecord",
    "build_dmarc",
    "check_dmarc",
    "dmarc_name",
    "external_destinations",
    "is_dmarc",
    "identifier_aligned",
    "is_enforcing",
    "organizational_domain",
    "parse_dmarc",
    "policy_at_least",
    "report_auth_record",
    "report_authorisation",
    "report_domains",
    "select",
    "spf_alignment_problem",
    "uri_domain",
]

POLICIES = ("none", "quarantine", "reject")
ALIGNMENT_MODES = ("r", "s")
REMOVED_TAGS = ("pct", "rf", "ri")
KNOWN_TAGS = ("v", "p", "sp", "np", "adkim", "aspf", "rua", "ruf", "fo", "t", "psd")
NULL_DMARC = "v=DMARC1; p=reject;"
NO_POLICY_MESSAGE = "DMARC record has no 'p' tag (none, quarantine or reject)"
# Problem codes of check_dmarc (stable: policies, verify and reports select on them).
CODES = (
    "dmarc-syntax",
    "dmarc-removed-tag",
    "dmarc-unknown-tag",
    "dmarc-no-policy",
    "dmarc-weak-policy",
    "dmarc-weak-subdomain-policy",
    "dmarc-weak-nonexistent-policy",
    "dmarc-testing",
    "dmarc-no-rua",
    "dmarc-spf-never-aligns",
)
_WEAK_CODES = {"p": "dmarc-weak-policy", "sp": "dmarc-weak-subdomain-policy", "np": "dmarc-weak-nonexistent-policy"}

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


def _tag_value(tag: str, value: str) -> object:
    if tag in ("p", "sp", "np"):
        return _choice(tag, value, POLICIES)
    if tag in ("adkim", "aspf"):
        return _choice(tag, value, ("r", "s"))
    if tag == "t":
        return _choice(tag, value, ("y", "n"))
    if tag == "psd":
        return _choice(tag, value, ("y", "n", "u"))
    if tag in ("rua", "ruf"):
        return _uri_list(tag, value)
    return _fo(value)


def _tagged(error: DmarcError, tag: str) -> DmarcError:
    error.tag = tag
    return error


def _removed_message(tag: str) -> str:
    return f"DMARC tag '{tag}' was removed by RFC 9989 (pct, rf and ri are gone)"


def _unknown_message(tag: str) -> str:
    return f"DMARC tag '{tag}' is not an RFC 9989 tag"


def parse_dmarc(text: str, *, strict: bool = True) -> DmarcRecord:
    """Parse a DMARC record; DmarcError names the tag and the bad value."""
    if not isinstance(text, str):
        raise DmarcError(f"DMARC record must be a str (got {type(text).__name__})")
    pairs = parse_tag_list(text, DmarcError, "DMARC")
    if not pairs or pairs[0][0] != "v" or pairs[0][1] != "DMARC1":
        first = text.split(";", 1)[0].strip()
        raise _tagged(DmarcError(f"DMARC record must start with 'v=DMARC1' (got {first!r})"), "v")
    values: dict[str, object] = {}
    removed: list[str] = []
    unknown: list[str] = []
    for raw_tag, value in pairs[1:]:
        tag = raw_tag.lower()
        if tag in REMOVED_TAGS:
            if strict:
                raise _tagged(DmarcError(f"{_removed_message(tag)} (got '{raw_tag}={value}')"), tag)
            removed.append(tag)
            continue
        if tag not in KNOWN_TAGS or tag == "v":
            if strict:
                raise _tagged(DmarcError(f"{_unknown_message(raw_tag)} (got '{raw_tag}={value}')"), raw_tag)
            unknown.append(raw_tag)
            continue
        try:
            values[tag] = _tag_value(tag, value)
        except DmarcError as exc:
            exc.tag = tag
            raise
    if "p" not in values and strict:
        raise _tagged(DmarcError(NO_POLICY_MESSAGE), "p")
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


_VERSION = re.compile(r"\s*v\s*=\s*DMARC1\s*(;|\Z)", re.I)


def is_dmarc(text: str) -> bool:
    """Does this TXT value claim to be DMARC (its first tag ``v=DMARC1``)?"""
    return isinstance(text, str) and _VERSION.match(text) is not None


def select(txt_values: Iterable[str]) -> str:
    """The DMARC record among the TXT values of ``_dmarc.<domain>``; DmarcError when there
    is none, or several (receivers then apply no policy)."""
    records = [value for value in txt_values if is_dmarc(value)]
    if not records:
        raise DmarcError("no DMARC record (no TXT value starts with 'v=DMARC1')")
    if len(records) > 1:
        raise DmarcError(f"{len(records)} DMARC records at one name: receivers apply no policy")
    return records[0]


def report_authorisation(txt_values: Iterable[str]) -> str | None:
    """The value that authorises reports at ``report_auth_record``'s name (a record
    starting with ``v=DMARC1``, RFC 9990), or None."""
    return next((value for value in txt_values if is_dmarc(value)), None)


def check_dmarc(text: str, *, min_policy: str | None = None) -> list[Problem]:
    """Problems with a DMARC record we publish ([] when fine); codes in ``CODES``.

    Read leniently (RFC 9989 4.7), so a removed or unknown tag is one problem each and
    the rest of the record is still judged; other syntax errors are ``dmarc-syntax``.
    """
    try:
        record = parse_dmarc(text, strict=False)
    except DmarcError as exc:
        return [Problem("dmarc-syntax", str(exc), exc.tag)]
    problems = [Problem("dmarc-removed-tag", _removed_message(tag), tag) for tag in record.removed_tags]
    problems += [Problem("dmarc-unknown-tag", _unknown_message(tag), tag) for tag in record.unknown_tags]
    if record.p is None:
        problems.append(Problem("dmarc-no-policy", NO_POLICY_MESSAGE, "p"))
    if min_policy is not None:
        for tag, value in (("p", record.policy), ("sp", record.subdomain_policy), ("np", record.nonexistent_policy)):
            if not policy_at_least(value, min_policy):
                message = f"DMARC tag '{tag}' is {value!r}, weaker than the required {min_policy!r}"
                problems.append(Problem(_WEAK_CODES[tag], message, tag))
        if record.testing and min_policy != "none":
            message = "DMARC tag 't=y' puts the policy in testing mode; receivers apply one level less"
            problems.append(Problem("dmarc-testing", message, "t"))
    if not record.rua:
        problems.append(Problem("dmarc-no-rua", "DMARC record has no 'rua' (no aggregate reports)", "rua"))
    return problems


def spf_alignment_problem(aspf: str, from_domain: str, mail_from_domain: str) -> Problem | None:
    """Why SPF can never align under ``aspf`` for mail From ``from_domain`` with this MAIL FROM.

    SPF aligns (RFC 9989 4.4.2) when the MAIL FROM domain equals the From domain
    (strict, ``s``) or shares its organisational domain (relaxed, ``r``). SES's custom
    MAIL FROM is always a subdomain (``bounce.<domain>``), so ``aspf=s`` never aligns
    with it: DMARC then rests on DKIM alone. None when alignment is possible.
    """
    mode = _choice("aspf", aspf, ALIGNMENT_MODES)
    sender, envelope = normalize_host(from_domain), normalize_host(mail_from_domain)
    if mode == "s" and envelope != sender:
        return Problem(
            "dmarc-spf-never-aligns",
            f"strict SPF alignment (aspf=s) never aligns: the MAIL FROM domain {envelope} is not "
            f"the From domain {sender}; use aspf=r (relaxed, the RFC 9989 default)",
            "aspf",
        )
    if mode == "r" and organizational_domain(envelope) != organizational_domain(sender):
        return Problem(
            "dmarc-spf-never-aligns",
            f"SPF never aligns: the MAIL FROM domain {envelope} is outside the organisational "
            f"domain {organizational_domain(sender)} of the From domain {sender}",
            "aspf",
        )
    return None


def identifier_aligned(mode: str, from_domain: str, auth_domain: str) -> bool:
    """Does ``auth_domain`` (a DKIM ``d=`` under adkim, a MAIL FROM domain under aspf) align
    with the From domain (RFC 9989 4.4)? Strict (``s``): the same name; relaxed (``r``):
    the same organisational domain (``organizational_domain``, the offline heuristic)."""
    mode = _choice("alignment mode", mode, ALIGNMENT_MODES)
    sender, auth = normalize_host(from_domain), normalize_host(auth_domain)
    if mode == "s":
        return sender == auth
    return organizational_domain(sender) == organizational_domain(auth)
