"""URI checks shared by DMARC, TLS-RPT and BIMI."""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from ._common import is_hostname, normalize_host

_LOCAL_PART = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+\Z")
_URI_CHARS = re.compile(r"[\x21-\x7e]+\Z")


def address_domain(address: object) -> str | None:
    """Domain of a plain email address ``local@domain`` (the one address rule: printable
    ASCII, an RFC 5322 atext/dot local part, a host name domain), lowercase; None if invalid."""
    if not isinstance(address, str) or not _URI_CHARS.match(address):
        return None
    local, at, domain = address.rpartition("@")
    if not at or not local or not _LOCAL_PART.match(local) or not is_hostname(domain):
        return None
    return normalize_host(domain)


def mailto_domain(uri: str) -> str | None:
    """Domain of a valid ``mailto:local@domain`` URI, lowercase; None if invalid."""
    if not uri.lower().startswith("mailto:") or not _URI_CHARS.match(uri):
        return None
    return address_domain(unquote(uri[len("mailto:") :].split("?", 1)[0]))


def https_host(uri: str) -> str | None:
    """Host of a valid ``https://host[:port]/...`` URI (no credentials), lowercase; None if invalid."""
    if not _URI_CHARS.match(uri):
        return None
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return None
    del port
    if parts.scheme.lower() != "https" or parts.username or parts.password or not parts.hostname:
        return None
    if not is_hostname(parts.hostname):
        return None
    return normalize_host(parts.hostname)
