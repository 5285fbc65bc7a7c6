"""BIMI assertion records (draft-brand-indicators-for-message-identification).

API:
    bimi_name(domain, selector="default") -> "<selector>._bimi.<domain>"
    build_bimi(logo_url: str, authority_url: str | None = None) -> str
        -> "v=BIMI1; l=https://.../logo.svg; a=https://.../vmc.pem"
    parse_bimi(text: str) -> BimiRecord   # v first; l and a https only; l .svg, a .pem;
                                          # empty l= with no a= is a declination record
    requires_enforcing_dmarc = True       # publish only with DMARC quarantine/reject (records.bimi_record)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from ._common import is_hostname, normalize_host, parse_tag_list
from ._uris import https_host
from .errors import BimiError

__all__ = ["BimiRecord", "bimi_name", "build_bimi", "parse_bimi", "requires_enforcing_dmarc"]

requires_enforcing_dmarc = True
_SELECTOR = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")
_KNOWN = ("v", "l", "a", "avp")


@dataclass(frozen=True)
class BimiRecord:
    logo: str | None  # None for a declination (l= empty)
    authority: str | None  # VMC/CMC certificate URL, None when absent
    avp: str | None = None  # avatar preference (brand|personal), when present

    @property
    def declined(self) -> bool:
        return self.logo is None


def bimi_name(domain: str, selector: str = "default") -> str:
    lowered = selector.lower() if isinstance(selector, str) else ""
    if not all(_SELECTOR.match(label) for label in lowered.split(".")):
        raise BimiError(f"BIMI selector {selector!r} is not valid: use letters, digits and inner hyphens")
    name = f"{lowered}._bimi.{normalize_host(domain)}"
    if not is_hostname(name, allow_underscore=True):
        raise BimiError(f"BIMI record name {name!r} is not a valid DNS name")
    return name


def _https(tag: str, url: str, suffix: str) -> str:
    if https_host(url) is None:
        raise BimiError(f"BIMI tag '{tag}' must be an https:// URL (got {url!r})")
    if any(c in url for c in ",; "):
        raise BimiError(f"BIMI tag '{tag}' URL contains ',', ';' or a space (got {url!r})")
    if not urlsplit(url).path.lower().endswith(suffix):
        raise BimiError(f"BIMI tag '{tag}' must point to a {suffix} file (got {url!r})")
    return url


def parse_bimi(text: str) -> BimiRecord:
    pairs = parse_tag_list(text, BimiError, "BIMI")
    if not pairs or pairs[0] != ("v", "BIMI1"):
        first = text.split(";", 1)[0].strip() if isinstance(text, str) else text
        raise BimiError(f"BIMI record must start with 'v=BIMI1' (got {first!r})")
    tags = dict(pairs[1:])
    for tag in tags:
        if tag not in _KNOWN or tag == "v":
            raise BimiError(f"BIMI tag {tag!r} is not known (got {tag}={tags[tag]!r})")
    if "l" not in tags:
        raise BimiError("BIMI record has no 'l' tag (logo URL)")
    logo = _https("l", tags["l"], ".svg") if tags["l"] else None
    authority = _https("a", tags["a"], ".pem") if tags.get("a") else None
    avp = tags.get("avp")
    if avp is not None and avp.lower() not in ("brand", "personal"):
        raise BimiError(f"BIMI tag 'avp' must be brand or personal (got {avp!r})")
    if logo is None and authority is not None:
        raise BimiError("BIMI record has an 'a' tag but an empty 'l' tag")
    return BimiRecord(logo, authority, avp.lower() if avp else None)


def build_bimi(logo_url: str, authority_url: str | None = None) -> str:
    parts = ["v=BIMI1", f"l={_https('l', logo_url, '.svg')}"]
    if authority_url is not None:
        parts.append(f"a={_https('a', authority_url, '.pem')}")
    text = "; ".join(parts)
    parse_bimi(text)
    return text
