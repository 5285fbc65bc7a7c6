"""SMTP TLS Reporting (RFC 8460): the ``_smtp._tls`` TXT record.

API:
    txt_name(domain) -> "_smtp._tls.<domain>"
    build_tlsrpt(rua: Iterable[str]) -> str        # "v=TLSRPTv1; rua=mailto:a@x,https://r.example/tls"
        (a bare address gets "mailto:"; URIs deduplicated; ',', ';' and '!' refused)
    parse_tlsrpt(text: str) -> TlsRptRecord         # v first, rua required, extensions kept
    rua_domains(record) -> list[str]               # hosts of the mailto/https destinations
    check_tlsrpt(text: str) -> list[Problem]        # [] when fine; codes: CODES
    select(txt_values) -> str                       # the one v=TLSRPTv1 record of _smtp._tls.<domain>, or TlsRptError
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ._common import is_ext_name, is_ext_value, normalize_host, parse_tag_list
from ._uris import https_host, mailto_domain
from .errors import Problem, TlsRptError

__all__ = ["CODES", "TlsRptRecord", "build_tlsrpt", "check_tlsrpt", "parse_tlsrpt", "rua_domains", "select", "txt_name"]

# Problem codes of check_tlsrpt (stable: policies, verify and reports select on them).
CODES = ("tls-rpt-syntax",)


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


def _tag_error(tag: str, message: str) -> TlsRptError:
    error = TlsRptError(message)
    error.tag = tag
    return error


def parse_tlsrpt(text: str) -> TlsRptRecord:
    pairs = parse_tag_list(text, TlsRptError, "TLS-RPT")
    if not pairs or pairs[0] != ("v", "TLSRPTv1"):
        first = text.split(";", 1)[0].strip() if isinstance(text, str) else text
        raise _tag_error("v", f"TLS-RPT record must start with 'v=TLSRPTv1' (got {first!r})")
    rua: tuple[str, ...] | None = None
    extensions: list[tuple[str, str]] = []
    for tag, value in pairs[1:]:
        if tag == "rua":
            uris = tuple(part.strip() for part in value.split(","))
            for uri in uris:
                try:
                    _uri_host(uri)
                except TlsRptError as exc:
                    exc.tag = "rua"
                    raise
            rua = uris
        elif tag == "v":
            raise _tag_error("v", "TLS-RPT tag 'v' appears more than once")
        elif is_ext_name(tag) and is_ext_value(value):
            extensions.append((tag, value))
        else:
            raise _tag_error(tag, f"TLS-RPT tag {tag!r} is not valid (got {tag}={value!r})")
    if rua is None:
        raise _tag_error("rua", "TLS-RPT record has no 'rua' tag")
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


def select(txt_values: Iterable[str]) -> str:
    """The TLS-RPT record among the TXT values of ``_smtp._tls.<domain>``; TlsRptError when
    there is none or several (RFC 8460 3: values not starting with ``v=TLSRPTv1`` are
    discarded, and unless exactly one is left the domain has no TLS-RPT)."""
    records = [value for value in txt_values if re.match(r"v=TLSRPTv1\s*(;|\Z)", value.lstrip())]
    if not records:
        raise TlsRptError("no TLS-RPT record (no TXT value starts with 'v=TLSRPTv1')")
    if len(records) > 1:
        raise TlsRptError(f"{len(records)} TLS-RPT records: senders assume the domain has no TLS-RPT (RFC 8460 3)")
    return records[0]


def check_tlsrpt(text: str) -> list[Problem]:
    """Problems with a ``_smtp._tls`` TXT record ([] when fine); codes in ``CODES``."""
    try:
        parse_tlsrpt(text)
    except TlsRptError as exc:
        return [Problem("tls-rpt-syntax", str(exc), exc.tag)]
    return []
