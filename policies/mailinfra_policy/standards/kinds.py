"""The registry of record kinds: one row per purpose a published DNS record serves.

Each :class:`Kind` says what the record is (type, owner-name pattern), whose rule it
follows (the standards module), what ``mailinfra verify`` checks on it, and which part
of the stack config it comes from (for report locations). The component builders, the
policy pack's record reader and verify's expectations all classify through here, so
they cannot disagree about what a record is. Adding a kind is one row in ``KINDS``.

Owner patterns are dotted names with ``<placeholder>`` parts: ``<domain>`` is the
domain the record serves (what :func:`classify` returns), any other placeholder
(``<selector>``, ``<token>``, ``<sender>``) is a parameter of the name. A placeholder
spans one or more labels.

Some kinds share a name pattern and type and differ only in value or context:

- ``value``: the standard's own selector decides (``spf.is_spf`` for a TXT at the
  apex, ``mailfrom.is_feedback_mx`` for the SES feedback MX);
- ``refines`` / ``beside``: a record first classified as ``refines`` is this kind when
  a record of purpose ``beside`` serves the same domain (the SPF of a MAIL FROM domain
  sits beside its SES feedback MX; the DMARC of a non-sending name beside its null SPF).
  Only :func:`classify_all`, which sees the whole record set, applies these.

API:
    KINDS: tuple[Kind, ...]; PURPOSES: tuple[str, ...]; OTHER = "other"
    get(purpose) -> Kind                          # UnknownKindError if not registered
    classify(name, rtype, value=None) -> (purpose, domain)    # value: one str or several
    classify_all(records) -> list[(purpose, domain)]          # with the context refinements
    match(purpose, name) -> dict[str, str] | None             # placeholder values, or None
    owner_name(purpose, domain, **params) -> str              # build the owner name
    of_type(rtype) -> tuple[Kind, ...]
    checks(purpose) -> tuple[str, ...]; section(purpose) -> str
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from . import mailfrom, spf
from ._common import is_hostname, normalize_host
from .errors import InputError

__all__ = [
    "KINDS",
    "OTHER",
    "PURPOSES",
    "Kind",
    "UnknownKindError",
    "checks",
    "classify",
    "classify_all",
    "get",
    "match",
    "of_type",
    "owner_name",
    "section",
]

OTHER = "other"  # the purpose of a record no kind claims (a site verification TXT, an A record)
_PLACEHOLDER = re.compile(r"<([a-z]+)>")


class UnknownKindError(InputError):
    """A purpose that is not in the registry."""


@dataclass(frozen=True)
class Kind:
    purpose: str
    rtypes: tuple[str, ...]  # DNS types; the first is the one the builders publish
    owner: str  # owner-name pattern, e.g. "<selector>._domainkey.<domain>"
    standard: str | None  # module under standards/ whose rule the value follows
    checks: tuple[str, ...]  # names of the verify checks that apply
    section: str  # stack config key under "mailinfra:", "domains[]." for per-domain keys
    value: Callable[[str], bool] | None = None  # the standard's selector for a shared pattern
    refines: str | None = None  # see the module doc
    beside: str | None = None
    _regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parts = re.split(r"(<[a-z]+>)", self.owner)
        regex = "".join(f"(?P<{p[1:-1]}>.+)" if _PLACEHOLDER.fullmatch(p) else re.escape(p) for p in parts)
        object.__setattr__(self, "_regex", re.compile(regex + r"\Z"))

    @property
    def rtype(self) -> str:
        return self.rtypes[0]

    @property
    def top_section(self) -> str:
        """The top-level config key: ``domains``, ``nonSendingNames``."""
        return self.section.split(".", 1)[0].removesuffix("[]")

    @property
    def domain_section(self) -> str | None:
        """The key inside one ``domains[]`` entry (``dmarc``, ``dkim.selectors``), if per domain."""
        head, _, rest = self.section.partition(".")
        return rest if head == "domains[]" and rest else None


_D = "domains[]."
# Order matters for classify: the first row whose type, pattern and value selector all
# match wins, so specific patterns come before "<domain>" (which matches any name).
KINDS: tuple[Kind, ...] = (
    Kind("dmarc-report-auth", ("TXT",), "<sender>._report._dmarc.<domain>", "dmarc", ("record",), _D + "dmarc.rua"),
    Kind("dmarc", ("TXT",), "_dmarc.<domain>", "dmarc", ("record", "dmarc"), _D + "dmarc"),
    Kind(
        "null-dmarc",
        ("TXT",),
        "_dmarc.<domain>",
        "dmarc",
        ("record", "dmarc"),
        "nonSendingNames",
        refines="dmarc",
        beside="null-spf",
    ),
    Kind("dkim", ("TXT",), "<selector>._domainkey.<domain>", "dkim", ("record", "dkim-key", "dkim-sign"), _D + "dkim.selectors"),
    Kind("easy-dkim", ("CNAME",), "<token>._domainkey.<domain>", "dkim", ("record", "dkim-key", "dkim-sign"), _D + "dkim"),
    Kind("mta-sts", ("TXT",), "_mta-sts.<domain>", "mtasts", ("record", "mta-sts"), _D + "mtaSts"),
    Kind("mta-sts-host", ("A", "AAAA", "CNAME"), "mta-sts.<domain>", "mtasts", ("record",), _D + "mtaSts"),
    Kind("tls-rpt", ("TXT",), "_smtp._tls.<domain>", "tlsrpt", ("record", "tls-rpt"), _D + "tlsRpt"),
    Kind("bimi", ("TXT",), "<selector>._bimi.<domain>", "bimi", ("record", "bimi"), _D + "bimi"),
    Kind("tlsa", ("TLSA",), "_25._tcp.<domain>", "tlsa", ("record", "dane"), _D + "mxHosts"),  # <domain>: the MX host
    Kind("null-spf", ("TXT",), "<domain>", "spf", ("record", "spf"), "nonSendingNames", value=spf.is_null_spf),
    Kind("spf", ("TXT",), "<domain>", "spf", ("record", "spf"), _D + "spf", value=spf.is_spf),
    Kind(
        "mail-from-spf",
        ("TXT",),
        "<domain>",
        "spf",
        ("record", "spf"),
        _D + "mailFrom",
        value=spf.is_spf,
        refines="spf",
        beside="mail-from-mx",
    ),
    Kind("mail-from-mx", ("MX",), "<domain>", "mailfrom", ("record",), _D + "mailFrom", value=mailfrom.is_feedback_mx),
    Kind("mx", ("MX",), "<domain>", None, ("record", "smtp", "dane"), _D + "mxHosts"),
)

_BY_PURPOSE = {k.purpose: k for k in KINDS}
PURPOSES: tuple[str, ...] = tuple(_BY_PURPOSE)


def get(purpose: str) -> Kind:
    """The kind registered for ``purpose``."""
    try:
        return _BY_PURPOSE[purpose]
    except (KeyError, TypeError):
        raise UnknownKindError(f"record purpose {purpose!r} is not a registered kind") from None


def of_type(rtype: str) -> tuple[Kind, ...]:
    """The kinds a record of DNS type ``rtype`` can be."""
    rtype = rtype.upper()
    return tuple(k for k in KINDS if rtype in k.rtypes)


def checks(purpose: str) -> tuple[str, ...]:
    """The verify checks that apply to records of ``purpose`` (empty for OTHER)."""
    return () if purpose == OTHER else get(purpose).checks


def section(purpose: str) -> str:
    """The stack config key a record of ``purpose`` comes from."""
    return get(purpose).section


def match(purpose: str, name: str) -> dict[str, str] | None:
    """The placeholder values if ``name`` fits the owner pattern of ``purpose``, else None."""
    found = get(purpose)._regex.match(normalize_host(name))
    return found.groupdict() if found else None


def owner_name(purpose: str, domain: str, **params: str) -> str:
    """The owner name of a ``purpose`` record for ``domain`` (``params`` fill the other placeholders)."""
    kind = get(purpose)
    values = {"domain": normalize_host(domain), **{k: normalize_host(v) for k, v in params.items()}}
    wanted = set(_PLACEHOLDER.findall(kind.owner))
    if wanted != set(values):
        raise UnknownKindError(f"{purpose} owner {kind.owner!r} needs {sorted(wanted)} (got {sorted(values)})")
    name = _PLACEHOLDER.sub(lambda m: values[m.group(1)], kind.owner)
    if not is_hostname(name, allow_underscore=True):
        raise UnknownKindError(f"{purpose} owner name {name!r} is not a valid DNS name")
    return name


def _values(value: str | Iterable[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(v for v in value if isinstance(v, str))


def classify(name: str, rtype: str, value: str | Iterable[str] | None = None) -> tuple[str, str]:
    """``(purpose, domain)`` of one record from its owner name, type and (known) values.

    Context refinements (``refines``) are not applied: see :func:`classify_all`. A
    record no kind claims is ``(OTHER, name)``.
    """
    name = normalize_host(name)
    values = _values(value)
    rtype = rtype.upper() if isinstance(rtype, str) else ""
    for kind in KINDS:
        if rtype not in kind.rtypes or kind.refines is not None:
            continue
        found = kind._regex.match(name)
        if found is None:
            continue
        if kind.value is not None and not any(kind.value(v) for v in values):
            continue
        return kind.purpose, found.group("domain")
    return OTHER, name


def classify_all(records: Iterable[tuple[str, str, str | Iterable[str] | None]]) -> list[tuple[str, str]]:
    """:func:`classify` for each ``(name, rtype, value)`` of one record set, then the
    refinements that need the set (MAIL FROM SPF, the DMARC of a non-sending name)."""
    base = [classify(name, rtype, value) for name, rtype, value in records]
    present = set(base)
    out = []
    for purpose, domain in base:
        for kind in KINDS:
            if kind.refines == purpose and kind.beside is not None and (kind.beside, domain) in present:
                purpose = kind.purpose
                break
        out.append((purpose, domain))
    return out
