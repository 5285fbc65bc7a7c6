"""Helpers shared by the standards modules: tag=value lists and host names."""

from __future__ import annotations

import re

import dns.exception
import dns.name

from .errors import StandardError

_TAG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_LDH_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)\Z")


def parse_tag_list(
    text: str, error: type[StandardError], what: str, *, allow_duplicates: bool = False
) -> list[tuple[str, str]]:
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


def normalize_host(host: str) -> str:
    """Lowercase, strip one trailing dot."""
    host = host.strip().lower()
    return host[:-1] if host.endswith(".") else host


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
        check = label.replace("_", "a") if allow_underscore else label
        if not _LDH_LABEL.match(check):
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
