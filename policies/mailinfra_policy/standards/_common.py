"""Helpers shared by the standards modules: tag=value lists and host names."""

from __future__ import annotations

import re
from collections.abc import Iterable

import dns.exception
import dns.name

from .errors import StandardError

# The deployment stages every layer knows (config presets, key policy, policy levels).
ENVIRONMENTS = ("dev", "staging", "prod")

_TAG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_LDH_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)\Z")
# RFC 8461 (sts-ext-name/-value, policy-ext-name) and RFC 8460 (tlsrpt-ext-name/-value) share this grammar.
_EXT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}\Z")
_EXT_VALUE = re.compile(r"[\x21-\x3a\x3c\x3e-\x7e]+\Z")


def parse_tag_list(text: str, error: type[StandardError], what: str, *, allow_duplicates: bool = False) -> list[tuple[str, str]]:
    """Split ``tag=value; tag=value[;]`` (RFC 6376 3.2) into (tag, value) pairs.

    Tag names keep their case; whitespace around names and values is dropped.
    Duplicate tags raise ``error`` unless ``allow_duplicates``.
    """
    if not isinstance(text, str):
        raise error(f"{what} record must be a str (got {type(text).__name__})")
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    parts = text.split(";")
    if parts and parts[-1].strip() == "":
        parts = parts[:-1]
    for part in parts:
        if part.strip() == "":
            raise error(f"{what} record has an empty tag between ';' separators: {text!r}")
        if "=" not in part:
            raise error(f"{what} tag {part.strip()!r} has no '='")
        name, _, value = part.partition("=")
        name, value = name.strip(), value.strip()
        if not _TAG_NAME.match(name):
            raise error(f"{what} tag name {name!r} is not valid")
        if name in seen and not allow_duplicates:
            raise error(f"{what} tag {name!r} appears more than once")
        seen.add(name)
        pairs.append((name, value))
    return pairs


def is_ext_name(name: str) -> bool:
    """An extension name of MTA-STS (RFC 8461 3.1, 3.2) and TLS-RPT (RFC 8460 3) records."""
    return bool(_EXT_NAME.match(name))


def is_ext_value(value: str) -> bool:
    """An extension value of MTA-STS and TLS-RPT TXT records (printable ASCII but ``;`` and ``=``)."""
    return bool(_EXT_VALUE.match(value))


def normalize_host(host: str) -> str:
    """Lowercase, strip one trailing dot."""
    host = host.strip().lower()
    return host[:-1] if host.endswith(".") else host


def is_ldh_label(label: object) -> bool:
    """One lowercase LDH label (RFC 1123 2.1): 1..63 of ``a-z 0-9 -``, no leading or trailing ``-``."""
    return isinstance(label, str) and bool(_LDH_LABEL.match(label))


def is_top_label(label: object) -> bool:
    """A top-level label: LDH, not all-numeric (RFC 3696 2; RFC 7208's ``toplabel``); any case."""
    return isinstance(label, str) and is_ldh_label(label.lower()) and not label.isdigit()


def normal_selector(selector: object, *, max_length: int = 63 * 3) -> str | None:
    """A DKIM or BIMI selector, lowercased: dot-separated LDH labels (RFC 6376 3.1, whose
    ``selector`` BIMI reuses), at most ``max_length`` characters; None if it is not one."""
    if not isinstance(selector, str) or not selector:
        return None
    lowered = selector.lower()
    if len(lowered) > max_length or not all(is_ldh_label(label) for label in lowered.split(".")):
        return None
    return lowered


def is_hostname(host: str, *, min_labels: int = 2, allow_underscore: bool = False) -> bool:
    """True if ``host`` (no trailing dot needed) is a valid DNS name of LDH labels.

    At least ``min_labels`` labels, each 1..63 bytes, total <= 253; the last label is
    not all-numeric. ``allow_underscore`` admits ``_`` (service labels such as ``_dmarc``).
    """
    if not isinstance(host, str) or not host:
        return False
    name = normalize_host(host)
    if not name or ".." in name:
        return False
    try:
        dns.name.from_text(name)
    except (dns.exception.DNSException, UnicodeError):
        return False
    if len(name) > 253:
        return False
    labels = name.split(".")
    if len(labels) < min_labels:
        return False
    for label in labels:
        if not is_ldh_label(label.replace("_", "a") if allow_underscore else label):
            return False
    return not labels[-1].isdigit()


# Second-level labels that ccTLD registries commonly register under (co.uk, com.au, ...).
_CC_SECOND_LEVEL = frozenset({"ac", "co", "com", "edu", "gov", "go", "ltd", "ne", "net", "or", "org", "plc"})


def organizational_domain(domain: str) -> str:
    """Offline organisational-domain heuristic (documented approximation).

    RFC 9989 finds the organisational domain with a DNS tree walk (``psd=`` tags); offline
    we take the last two labels, or the last three when the name sits under a
    two-letter country code with a common registry second level (``example.co.uk``,
    ``example.com.au``). dnspython ships no Public Suffix List.
    """
    labels = normalize_host(domain).split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _CC_SECOND_LEVEL:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def in_zone(name: str, zone: str) -> bool:
    """True if ``name`` is ``zone`` or a name under it (both lowercase, no trailing dot)."""
    return name == zone or name.endswith("." + zone)


class ZoneSet:
    """Zones to find names in, normalised once: a lookup walks the name's own suffixes
    (a few labels) instead of every zone (thousands in a fleet)."""

    def __init__(self, zones: Iterable[str]) -> None:
        self._zones = frozenset(normalize_host(z) for z in zones)

    def find(self, name: str) -> str | None:
        """The longest zone that ``name`` is, or is under; None if there is none."""
        name = normalize_host(name)
        while True:
            if name in self._zones:
                return name
            dot = name.find(".")
            if dot < 0:
                return None
            name = name[dot + 1 :]


def zone_for(name: str, zones: Iterable[str] | ZoneSet) -> str | None:
    """The longest of ``zones`` that ``name`` is in (the zone that holds it), or None.
    Pass a :class:`ZoneSet` when looking up many names in the same zones."""
    return (zones if isinstance(zones, ZoneSet) else ZoneSet(zones)).find(name)
