"""DNS blocklists (RFC 5782) and forward-confirmed reverse DNS for sending IPs.

API:
    DEFAULT_ZONES = ("zen.spamhaus.org", "bl.spamcop.net")   # mailinfra.relay.dnsbls default
    query_name(ip, zone) -> str          # "10.2.0.192.zen.spamhaus.org"; IPv6 as 32 nibbles (RFC 5782 2.4)
    reverse_name(ip) -> str              # "10.2.0.192.in-addr.arpa" / nibbles ".ip6.arpa" (PTR owner)
    classify(addresses) -> (verdict, codes)
        verdict: "listed" | "unknown"; codes: the A values that decided it
    validate_zone(zone) -> str           # a DNSBL zone name, lowercase, or DnsblError

RFC 5782 2.1/2.3: a listed IP has an A record 127.0.0.2-127.0.0.255 at its query name
(NXDOMAIN: not listed). Values outside 127/8 are no listing (a wildcarding resolver or a
hijacked answer). Spamhaus answers 127.255.255.252 (typo in the query), .254 (queried
through a public/open resolver) and .255 (too many queries): errors, not listings, so
the whole 127.255.255.0/24 reads as "unknown".
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from ._common import is_hostname, normalize_host
from .errors import StandardError

__all__ = ["DEFAULT_ZONES", "DnsblError", "classify", "query_name", "reverse_name", "validate_zone"]

DEFAULT_ZONES = ("zen.spamhaus.org", "bl.spamcop.net")

_LISTING = ipaddress.ip_network("127.0.0.0/8")
_ERROR_CODES = ipaddress.ip_network("127.255.255.0/24")


class DnsblError(StandardError):
    """A DNSBL zone name or a queried IP is not usable."""


def _ip(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(str(ip).strip())
    except ValueError:
        raise DnsblError(f"{ip!r} is not an IP address") from None


def _reversed_labels(ip: str) -> str:
    addr = _ip(ip)
    if isinstance(addr, ipaddress.IPv4Address):
        return ".".join(reversed(str(addr).split(".")))
    return ".".join(reversed(addr.exploded.replace(":", "")))


def reverse_name(ip: str) -> str:
    """The PTR owner name of ``ip`` (in-addr.arpa, or nibbles under ip6.arpa)."""
    suffix = "in-addr.arpa" if isinstance(_ip(ip), ipaddress.IPv4Address) else "ip6.arpa"
    return f"{_reversed_labels(ip)}.{suffix}"


def validate_zone(zone: str) -> str:
    if not isinstance(zone, str) or not is_hostname(zone):
        raise DnsblError(f"{zone!r} is not a DNSBL zone name (a DNS name such as zen.spamhaus.org)")
    return normalize_host(zone)


def query_name(ip: str, zone: str) -> str:
    """Where ``ip`` is looked up in the list ``zone`` (RFC 5782 2.1, IPv6 2.4)."""
    return f"{_reversed_labels(ip)}.{validate_zone(zone)}"


def classify(addresses: Iterable[str]) -> tuple[str, tuple[str, ...]]:
    """The A values at a query name -> ("listed", codes) or ("unknown", codes)."""
    listed, unknown = [], []
    for value in addresses:
        try:
            addr = ipaddress.ip_address(value)
        except ValueError:
            unknown.append(value)
            continue
        if addr.version == 4 and addr in _LISTING and addr not in _ERROR_CODES and int(addr) & 0xFFFFFF >= 2:
            listed.append(value)
        else:
            unknown.append(value)
    if listed:
        return "listed", tuple(listed)
    return "unknown", tuple(unknown)
