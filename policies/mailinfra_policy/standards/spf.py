"""SPF records (RFC 7208): build, parse, check.

API:
    MAX_DNS_LOOKUPS = 10; MAX_VOID_LOOKUPS = 2; RECOMMENDED_MAX_BYTES = 450
    NULL_SPF = "v=spf1 -all"
    build_spf(includes=(), ip4=(), ip6=(), a=False, mx=False, all_qualifier="-", redirect=None) -> str
    parse_spf(text: str) -> SpfRecord           # strict; SpfError names the term and the bad value
    is_spf(text: str) -> bool                   # does this TXT value claim to be SPF (v=spf1)?
    is_null_spf(text: str) -> bool              # exactly '-all': the name never sends
    spf_records(txt_values: Iterable[str]) -> list[str]   # the SPF values among a name's TXT values
    count_dns_lookups(record: SpfRecord) -> int # include, a, mx, ptr, exists, redirect
    all_qualifier(record: SpfRecord) -> str | None        # qualifier of "all", None if absent
    includes(record) -> list[str]; redirect(record) -> str | None
    effective_redirect(record) -> str | None   # the redirect= that applies (none with an 'all')
    mx_address_problem(term, mx_hosts: int) -> Problem | None   # over MAX_ADDRESS_LOOKUPS (10) MX hosts
    select(txt_values) -> str                   # the one SPF record of a name, or SpfError (none / several)
    self_reference_problem(domain, record) -> Problem | None   # include:/redirect= of the domain itself (a loop)
    check_spf(text: str, *, require_fail_all: bool = True) -> list[Problem]   # [] if fine; codes: CODES

A record whose own DNS-querying terms exceed 10 is rejected by ``parse_spf`` (a
permerror at every receiver); the live include tree and void lookups are walked by
``mailinfra verify`` with these limits. ``redirect=`` counts as a lookup only when the
record has no ``all`` (RFC 7208 6.1: it is ignored otherwise).
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

from ._common import is_hostname, is_top_label, normalize_host
from .errors import Problem, SpfError

__all__ = [
    "CODES",
    "MAX_ADDRESS_LOOKUPS",
    "MAX_DNS_LOOKUPS",
    "MAX_VOID_LOOKUPS",
    "NULL_SPF",
    "RECOMMENDED_MAX_BYTES",
    "SpfMechanism",
    "SpfModifier",
    "SpfRecord",
    "all_qualifier",
    "build_spf",
    "check_spf",
    "count_dns_lookups",
    "effective_redirect",
    "includes",
    "is_null_spf",
    "is_spf",
    "mx_address_problem",
    "parse_spf",
    "redirect",
    "select",
    "self_reference_problem",
    "spf_records",
]

MAX_DNS_LOOKUPS = 10
MAX_VOID_LOOKUPS = 2
MAX_ADDRESS_LOOKUPS = 10  # RFC 7208 4.6.4: MX hosts (or PTR names) looked up per mx (ptr) term
RECOMMENDED_MAX_BYTES = 450  # RFC 7208 3.4: keep the answer within a 512-byte UDP reply
NULL_SPF = "v=spf1 -all"
# Problem codes of check_spf (stable: policies, verify and reports select on them).
CODES = (
    "spf-syntax",
    "spf-too-many-lookups",
    "spf-not-fail-all",
    "spf-permissive-all",
    "spf-ptr",
    "spf-terms-after-all",
    "spf-too-long",
    "spf-mx-too-many-hosts",
    "spf-self-reference",
)

QUALIFIERS = ("+", "-", "~", "?")
MECHANISMS = ("all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists")
LOOKUP_MECHANISMS = frozenset({"include", "a", "mx", "ptr", "exists"})
_DOMAIN_REQUIRED = frozenset({"include", "exists"})
_DOMAIN_OPTIONAL = frozenset({"a", "mx", "ptr"})

_MODIFIER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*\Z")
_MECH_SPLIT = re.compile(r"([A-Za-z0-9]+)(.*)\Z", re.S)
_MACRO_EXPAND = re.compile(r"%\{([slodiphcrtvSLODIPHCRTV])(\d*)(r?)([.\-+,/_=]*)\}")
_DUAL_CIDR = re.compile(r"(?:/(0|[1-9]\d?))?(?://(0|[1-9]\d{0,2}))?\Z")


@dataclass(frozen=True)
class SpfMechanism:
    qualifier: str  # "+", "-", "~" or "?" ("+" when omitted)
    name: str  # lowercase mechanism name
    value: str | None  # domain-spec or network; None when absent
    cidr4: int | None = None
    cidr6: int | None = None

    def __str__(self) -> str:
        text = ("" if self.qualifier == "+" else self.qualifier) + self.name
        if self.value is not None:
            text += ":" + self.value
        if self.name in ("a", "mx"):
            if self.cidr4 is not None:
                text += f"/{self.cidr4}"
            if self.cidr6 is not None:
                text += f"//{self.cidr6}"
        return text


@dataclass(frozen=True)
class SpfModifier:
    name: str  # lowercase
    value: str

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


@dataclass(frozen=True)
class SpfRecord:
    terms: tuple[SpfMechanism | SpfModifier, ...]

    @property
    def mechanisms(self) -> tuple[SpfMechanism, ...]:
        return tuple(t for t in self.terms if isinstance(t, SpfMechanism))

    @property
    def modifiers(self) -> tuple[SpfModifier, ...]:
        return tuple(t for t in self.terms if isinstance(t, SpfModifier))

    def __str__(self) -> str:
        return " ".join(["v=spf1", *(str(t) for t in self.terms)])


def _check_macro_string(value: str, term: str, *, exp: bool = False) -> None:
    i = 0
    while i < len(value):
        char = value[i]
        if char == "%":
            nxt = value[i + 1 : i + 2]
            if nxt in ("%", "_", "-"):
                i += 2
                continue
            match = _MACRO_EXPAND.match(value, i)
            if not match:
                raise SpfError(f"SPF term {term!r}: bad macro at {value[i : i + 12]!r}")
            if match.group(1).lower() in "crt" and not exp:
                raise SpfError(f"SPF term {term!r}: macro letter {match.group(1)!r} is only allowed in exp text")
            i = match.end()
            continue
        if not (0x21 <= ord(char) <= 0x7E):
            raise SpfError(f"SPF term {term!r}: character {char!r} is not allowed")
        i += 1


def _check_domain_spec(spec: str, term: str) -> None:
    if not spec:
        raise SpfError(f"SPF term {term!r}: empty domain")
    _check_macro_string(spec, term)
    if "%" in spec:
        if spec.endswith("}"):
            return  # domain-end is a macro-expand
        tail = spec.rstrip(".").rsplit(".", 1)
        if len(tail) == 2 and is_top_label(tail[1]):
            return
        raise SpfError(f"SPF term {term!r}: domain {spec!r} does not end in a top-level label or a macro")
    if not is_hostname(spec, allow_underscore=True):
        raise SpfError(f"SPF term {term!r}: {spec!r} is not a valid domain name")
    if not is_top_label(normalize_host(spec).rsplit(".", 1)[-1]):
        raise SpfError(f"SPF term {term!r}: domain {spec!r} does not end in a top-level label")


def _parse_network(name: str, rest: str, term: str) -> tuple[str, int | None]:
    if not rest.startswith(":") or len(rest) == 1:
        raise SpfError(f"SPF term {term!r}: {name} needs ':<network>'")
    network = rest[1:]
    address, slash, prefix_text = network.partition("/")
    prefix: int | None = None
    max_prefix = 32 if name == "ip4" else 128
    if slash:
        if not re.fullmatch(r"0|[1-9]\d{0,2}", prefix_text) or int(prefix_text) > max_prefix:
            raise SpfError(f"SPF term {term!r}: bad {name} CIDR length {prefix_text!r} (0..{max_prefix})")
        prefix = int(prefix_text)
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        raise SpfError(f"SPF term {term!r}: {address!r} is not an {name} address") from None
    if (name == "ip4") != (parsed.version == 4):
        raise SpfError(f"SPF term {term!r}: {address!r} is not an {name} address")
    return network, prefix


def _parse_mechanism(term: str) -> SpfMechanism:
    qualifier = "+"
    body = term
    if body[0] in QUALIFIERS:
        qualifier, body = body[0], body[1:]
    match = _MECH_SPLIT.match(body)
    if not match:
        raise SpfError(f"SPF term {term!r} is not a mechanism or modifier")
    name, rest = match.group(1).lower(), match.group(2)
    if name not in MECHANISMS:
        raise SpfError(f"SPF term {term!r}: unknown mechanism {match.group(1)!r}")
    if name == "all":
        if rest:
            raise SpfError(f"SPF term {term!r}: 'all' takes no argument")
        return SpfMechanism(qualifier, name, None)
    if name in ("ip4", "ip6"):
        network, prefix = _parse_network(name, rest, term)
        if name == "ip4":
            return SpfMechanism(qualifier, name, network, cidr4=prefix)
        return SpfMechanism(qualifier, name, network, cidr6=prefix)
    domain: str | None = None
    cidr4 = cidr6 = None
    if name in ("a", "mx"):
        # a[:domain][/cidr4][//cidr6]; the CIDR part never contains ':' or '%'.
        cidr_match = re.search(r"(/[^:%/]*)?(//[^:%/]*)?\Z", rest)
        cidr_text = cidr_match.group(0) if cidr_match else ""
        head = rest[: len(rest) - len(cidr_text)]
        if cidr_text:
            dual = _DUAL_CIDR.match(cidr_text)
            if not dual or (dual.group(1) and int(dual.group(1)) > 32) or (dual.group(2) and int(dual.group(2)) > 128):
                raise SpfError(f"SPF term {term!r}: bad CIDR length {cidr_text!r}")
            cidr4 = int(dual.group(1)) if dual.group(1) else None
            cidr6 = int(dual.group(2)) if dual.group(2) else None
        rest = head
    if rest:
        if not rest.startswith(":"):
            raise SpfError(f"SPF term {term!r}: unknown mechanism {body!r}")
        domain = rest[1:]
        _check_domain_spec(domain, term)
    elif name in _DOMAIN_REQUIRED:
        raise SpfError(f"SPF term {term!r}: {name} needs ':<domain>'")
    return SpfMechanism(qualifier, name, domain, cidr4, cidr6)


def _parse_modifier(term: str) -> SpfModifier:
    name, _, value = term.partition("=")
    if not _MODIFIER_NAME.match(name):
        raise SpfError(f"SPF term {term!r}: bad modifier name {name!r}")
    lname = name.lower()
    if lname in ("redirect", "exp"):
        _check_domain_spec(value, term)
    else:
        _check_macro_string(value, term)
    return SpfModifier(lname, value)


def is_spf(text: str) -> bool:
    """True if the TXT value starts with the SPF version (RFC 7208 4.5: ``v=spf1`` then space or end)."""
    lowered = text.lower()
    return lowered == "v=spf1" or lowered.startswith("v=spf1 ")


def is_null_spf(text: str) -> bool:
    """True for a null SPF record: ``-all`` and nothing else (a name that never sends)."""
    if not is_spf(text):
        return False
    try:
        terms = _parse_terms(text).terms
    except SpfError:
        return False
    return len(terms) == 1 and isinstance(terms[0], SpfMechanism) and str(terms[0]) == "-all"


def spf_records(txt_values: Iterable[str]) -> list[str]:
    """The SPF records among one name's TXT values (more than one is a permerror)."""
    return [value for value in txt_values if is_spf(value)]


def _parse_terms(text: str) -> SpfRecord:
    """The syntax of one SPF record (no lookup budget); SpfError names the bad term in ``tag``."""
    if not isinstance(text, str):
        raise SpfError(f"SPF record must be a str (got {type(text).__name__})")
    return _parse_text(text)


@functools.lru_cache(maxsize=4096)
def _parse_text(text: str) -> SpfRecord:
    """Cached: a fleet's records are mostly the same few texts, and the result is frozen
    (an error is raised afresh each time, never cached)."""
    if not is_spf(text):
        error = SpfError(f"SPF record must start with 'v=spf1': {text[:40]!r}")
        error.tag = "v"
        raise error
    for index, char in enumerate(text):
        if char != " " and not (0x21 <= ord(char) <= 0x7E):
            raise SpfError(f"SPF record has character {char!r} at index {index} (only printable ASCII and space)")
    terms: list[SpfMechanism | SpfModifier] = []
    seen_modifiers: set[str] = set()
    for term in text.split(" ")[1:]:
        if term == "":
            continue  # RFC 7208 allows any run of spaces between terms
        try:
            head = re.match(r"[A-Za-z][A-Za-z0-9_.-]*=", term)
            if head:
                modifier = _parse_modifier(term)
                if modifier.name in ("redirect", "exp") and modifier.name in seen_modifiers:
                    raise SpfError(f"SPF modifier {modifier.name!r} appears more than once")
                seen_modifiers.add(modifier.name)
                terms.append(modifier)
            else:
                terms.append(_parse_mechanism(term))
        except SpfError as exc:
            exc.tag = term
            raise
    return SpfRecord(tuple(terms))


def _lookup_problem(record: SpfRecord) -> Problem | None:
    lookups = count_dns_lookups(record)
    if lookups > MAX_DNS_LOOKUPS:
        message = f"SPF record has {lookups} DNS-querying terms, over the limit of {MAX_DNS_LOOKUPS}"
        return Problem("spf-too-many-lookups", message)
    return None


def parse_spf(text: str) -> SpfRecord:
    """Parse one SPF record strictly; raise SpfError naming the bad term.

    Over ``MAX_DNS_LOOKUPS`` querying terms is refused too (a permerror at every receiver).
    """
    record = _parse_terms(text)
    problem = _lookup_problem(record)
    if problem is not None:
        raise SpfError(str(problem))
    return record


def count_dns_lookups(record: SpfRecord) -> int:
    """DNS-querying terms of this record itself (not of its includes): RFC 7208 4.6.4."""
    count = sum(1 for m in record.mechanisms if m.name in LOOKUP_MECHANISMS)
    if effective_redirect(record) is not None:
        count += 1
    return count


def all_qualifier(record: SpfRecord) -> str | None:
    """The qualifier of the first ``all`` mechanism, or None without one."""
    for mechanism in record.mechanisms:
        if mechanism.name == "all":
            return mechanism.qualifier
    return None


def includes(record: SpfRecord) -> list[str]:
    """Domains of the include mechanisms, in order."""
    return [m.value for m in record.mechanisms if m.name == "include" and m.value]


def redirect(record: SpfRecord) -> str | None:
    for modifier in record.modifiers:
        if modifier.name == "redirect":
            return modifier.value
    return None


def effective_redirect(record: SpfRecord) -> str | None:
    """The ``redirect=`` target evaluation follows: none when the record has an ``all``
    (RFC 7208 6.1: the modifier is then ignored, and costs no lookup)."""
    target = redirect(record)
    return target if target is not None and all_qualifier(record) is None else None


def mx_address_problem(term: str, mx_hosts: int) -> Problem | None:
    """RFC 7208 4.6.4: evaluating an ``mx`` term looks up at most ``MAX_ADDRESS_LOOKUPS``
    MX hosts' addresses; a name with more MX hosts is a permerror."""
    if mx_hosts > MAX_ADDRESS_LOOKUPS:
        message = f"{term}: {mx_hosts} MX records, over the limit of {MAX_ADDRESS_LOOKUPS} address lookups"
        return Problem("spf-mx-too-many-hosts", message, term)
    return None


def select(txt_values: Iterable[str]) -> str:
    """The SPF record among one name's TXT values (RFC 7208 4.5); SpfError when there is
    none, or more than one (a permerror at every receiver)."""
    records = spf_records(txt_values)
    if not records:
        raise SpfError("no SPF record (no TXT value starts with 'v=spf1')")
    if len(records) > 1:
        raise SpfError(f"{len(records)} SPF records at one name: a permerror at every receiver (RFC 7208 4.5)")
    return records[0]


def check_spf(text: str, *, require_fail_all: bool = True) -> list[Problem]:
    """Problems with an SPF record we publish ([] when fine); codes in ``CODES``."""
    try:
        record = _parse_terms(text)
    except SpfError as exc:
        return [Problem("spf-syntax", str(exc), exc.tag)]
    problems: list[Problem] = []
    lookups = _lookup_problem(record)
    if lookups is not None:
        problems.append(lookups)
    qualifier = all_qualifier(record)
    all_term = None if qualifier is None else f"{qualifier}all"  # the qualifier shown, even an implicit '+'
    if require_fail_all and qualifier != "-" and effective_redirect(record) is None:  # a redirect decides instead
        got = "no 'all'" if qualifier is None else f"'{qualifier}all'"
        problems.append(Problem("spf-not-fail-all", f"SPF record must end in '-all' (got {got})", all_term))
    if qualifier in ("+", "?"):
        problems.append(Problem("spf-permissive-all", f"SPF record allows every sender ('{qualifier}all')", all_term))
    for mechanism in record.mechanisms:
        if mechanism.name == "ptr":
            problems.append(Problem("spf-ptr", "SPF mechanism 'ptr' SHOULD NOT be used (RFC 7208 5.5)", str(mechanism)))
            break
    if record.mechanisms and record.mechanisms[-1].name != "all" and qualifier is not None:
        after = record.mechanisms[[m.name for m in record.mechanisms].index("all") + 1]
        problems.append(Problem("spf-terms-after-all", "SPF terms after 'all' are never evaluated", str(after)))
    size = len(text.encode("utf-8"))
    if size > RECOMMENDED_MAX_BYTES:
        problems.append(Problem("spf-too-long", f"SPF record is {size} bytes, over the recommended {RECOMMENDED_MAX_BYTES}"))
    return problems


def _normalize_network(value: str, version: int) -> str:
    label = f"ip{version}"
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise SpfError(f"SPF {label} value {value!r} is not a valid network") from None
    if network.version != version:
        raise SpfError(f"SPF {label} value {value!r} is not an IPv{version} network")
    if "/" in value and ipaddress.ip_interface(value).network.network_address != ipaddress.ip_interface(value).ip:
        raise SpfError(f"SPF {label} value {value!r} has host bits set (use {network})")
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    return str(network)


def _dedupe(items: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def build_spf(
    includes: Iterable[str] = (),
    ip4: Iterable[str] = (),
    ip6: Iterable[str] = (),
    a: bool = False,
    mx: bool = False,
    all_qualifier: str = "-",
    redirect: str | None = None,
) -> str:
    """Build an SPF record: ``v=spf1 [a] [mx] ip4:.. ip6:.. include:.. (-all | redirect=..)``.

    Includes and networks are normalised (lowercase, no trailing dot, canonical CIDR)
    and deduplicated in first-seen order. With ``redirect`` there is no ``all`` (it
    would make the redirect dead). The result is re-parsed, so over 10 lookups raises.
    """
    if isinstance(includes, str) or isinstance(ip4, str) or isinstance(ip6, str):
        raise SpfError("SPF includes, ip4 and ip6 must be lists of strings, not one string")
    if all_qualifier not in QUALIFIERS:
        raise SpfError(f"SPF all qualifier must be one of + - ~ ? (got {all_qualifier!r})")
    terms = ["v=spf1"]
    if a:
        terms.append("a")
    if mx:
        terms.append("mx")
    terms += [f"ip4:{n}" for n in _dedupe(_normalize_network(v, 4) for v in ip4)]
    terms += [f"ip6:{n}" for n in _dedupe(_normalize_network(v, 6) for v in ip6)]
    for domain in _dedupe(normalize_host(d) for d in includes):
        if not is_hostname(domain, allow_underscore=True):
            raise SpfError(f"SPF include domain {domain!r} is not a valid domain name")
        terms.append(f"include:{domain}")
    if redirect is not None:
        target = normalize_host(redirect)
        if not is_hostname(target, allow_underscore=True):
            raise SpfError(f"SPF redirect domain {target!r} is not a valid domain name")
        terms.append(f"redirect={target}")
    else:
        terms.append(("" if all_qualifier == "+" else all_qualifier) + "all")
    text = " ".join(terms)
    parse_spf(text)
    return text


def self_reference_problem(domain: str, record: SpfRecord) -> Problem | None:
    """``include:`` or ``redirect=`` of the record's own domain: evaluation loops until the
    lookup limit and every receiver returns permerror (RFC 7208 4.6.4)."""
    own = normalize_host(domain)
    for term in record.terms:
        target = term.value if isinstance(term, SpfModifier) and term.name == "redirect" else None
        if isinstance(term, SpfMechanism) and term.name == "include":
            target = term.value
        if target is not None and normalize_host(target) == own:
            return Problem("spf-self-reference", f"SPF term '{term}' points at {own} itself: a loop (permerror)", str(term))
    return None
