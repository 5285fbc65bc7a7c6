"""SMTP TLS Reporting (RFC 8460): the ``_smtp._tls`` TXT record.

API:
    txt_name(domain) -> "_smtp._tls.<domain>"
    build_tlsrpt(rua: Iterable[str]) -> str        # "v=TLSRPTv1; rua=mailto:a@x,https://r.example/tls"
        (a bare address gets "mailto:"; URIs deduplicated; ',', ';' and '!' refused)
    parse_tlsrpt(text: str) -> TlsRptRecord         # v first, rua required, extensions kept
    rua_domains(record) -> list[str]               # hosts of the mailto/https destinations
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ._common import normalize_host, parse_tag_list
from ._uris import https_host, mailto_domain
from .errors import TlsRptError

__all__ = ["TlsRptRecord", "build_tlsrpt", "parse_tlsrpt", "rua_domains", "txt_name"]

_EXT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}\Z")
_EXT_VALUE = re.compile(r"[\x21-\x3a\x3c\x3e-\x7e]+\Z")


@dataclass(frozen=True)
class TlsRptRecord:
    rua: tuple[str, ...]
    extensions: tuple[tuple[str, str], ...] = ()


def txt_name(domain: str) -> str:
    return f"_smtp._tls.{normalize_host(domain)}"


def _uri_host(uri: str) -> str:
    host = mailto_domain(uri) if uri.lower().startswith("mailto:") else https_host(uri)
    if host is None:
        raise TlsRptError(f"TLS-RPT tag 'rua': {uri!r} is not a valid mailto: or https: URI")
    return host


def parse_tlsrpt(text: str) -> TlsRptRecord:
    pairs = parse_tag_list(text, TlsRptError, "TLS-RPT")
    if not pairs or pairs[0] != ("v", "TLSRPTv1"):
        first = text.split(";", 1)[0].strip() if isinstance(text, str) else text
        raise TlsRptError(f"TLS-RPT record must start with 'v=TLSRPTv1' (got {first!r})")
    rua: tuple[str, ...] | None = None
    extensions: list[tuple[str, str]] = []
    for tag, value in pairs[1:]:
        if tag == "rua":
            uris = tuple(part.strip() for part in value.split(","))
            for uri in uris:
                _uri_host(uri)
            rua = uris
        elif tag == "v":
            raise TlsRptError("TLS-RPT tag 'v' appears more than once")
        elif _EXT_NAME.match(tag) and _EXT_VALUE.match(value):
            extensions.append((tag, value))
        else:
            raise TlsRptError(f"TLS-RPT tag {tag!r} is not valid (got {tag}={value!r})")
    if rua is None:
        raise TlsRptError("TLS-RPT record has no 'rua' tag")
    return TlsRptRecord(rua, tuple(extensions))


def build_tlsrpt(rua: Iterable[str]) -> str:
    if isinstance(rua, str):
        raise TlsRptError("TLS-RPT rua must be a list of URIs, not one string")
    uris: list[str] = []
    for uri in rua:
        if not isinstance(uri, str):
            raise TlsRptError(f"TLS-RPT rua entries must be str (got {type(uri).__name__})")
        full = uri if re.match(r"(?i)(mailto|https):", uri) else f"mailto:{uri}"
        if any(c in full for c in ",;! "):
            raise TlsRptError(f"TLS-RPT tag 'rua': URI {uri!r} contains ',', ';', '!' or a space")
        _uri_host(full)
        if full not in uris:
            uris.append(full)
    if not uris:
        raise TlsRptError("TLS-RPT record needs at least one rua URI")
    text = f"v=TLSRPTv1; rua={','.join(uris)}"
    parse_tlsrpt(text)
    return text


def rua_domains(record: TlsRptRecord) -> list[str]:
    out: list[str] = []
    for uri in record.rua:
        host = _uri_host(uri)
        if host not in out:
            out.append(host)
    return out
