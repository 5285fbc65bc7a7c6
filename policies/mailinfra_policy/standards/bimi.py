"""BIMI assertion records (draft-brand-indicators-for-message-identification).

API:
    bimi_name(domain, selector="default") -> "<selector>._bimi.<domain>"
    build_bimi(logo_url: str, authority_url: str | None = None) -> str
        -> "v=BIMI1; l=https://.../logo.svg; a=https://.../vmc.pem"
    parse_bimi(text: str) -> BimiRecord   # v first; l and a https only; l .svg, a .pem;
                                          # empty l= with no a= is a declination record
    requires_enforcing_dmarc = True       # publish only with DMARC quarantine/reject (records.bimi_record)
    dmarc_precondition(record: DmarcRecord) -> list[Problem]   # [] when BIMI may be published
        # codes "bimi-dmarc-not-enforcing" (p), "bimi-dmarc-testing" (t), "bimi-dmarc-subdomain-none" (sp)
    is_bimi(text) -> bool; select(txt_values) -> str   # the one v=BIMI1 record at a name, or BimiError
    check_logo(body: bytes, content_type=None) -> list[Problem]   # image/svg+xml, <= LOGO_MAX_BYTES, check_svg
    check_svg(body: bytes) -> list[Problem]   # SVG Tiny PS basics: version 1.2, baseProfile tiny-ps, <title>,
                                              # no x/y on root, square viewBox, no script/animation/image/external refs
    check_authority(pem: bytes, domain, now) -> list[Problem]     # VMC/CMC: PEM, in date, SAN names the domain
        # codes LOGO_CODES / AUTHORITY_CODES; those in ADVISORY are advice (warn), the rest refusals
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509

from ._common import is_hostname, normal_selector, normalize_host, organizational_domain, parse_tag_list
from ._uris import https_host
from .dmarc import DmarcRecord
from .errors import BimiError, Problem

__all__ = [
    "ADVISORY",
    "AUTHORITY_CODES",
    "CODES",
    "LOGO_CODES",
    "LOGO_CONTENT_TYPE",
    "LOGO_MAX_BYTES",
    "BimiRecord",
    "bimi_name",
    "build_bimi",
    "check_authority",
    "check_logo",
    "check_svg",
    "dmarc_precondition",
    "is_bimi",
    "parse_bimi",
    "requires_enforcing_dmarc",
    "select",
]

requires_enforcing_dmarc = True
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
    lowered = normal_selector(selector)  # the DKIM selector rule (one place: _common)
    if lowered is None:
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


_VERSION = re.compile(r"\s*v\s*=\s*BIMI1\s*(;|\Z)")


def is_bimi(text: str) -> bool:
    """Does this TXT value claim to be a BIMI assertion record (first tag ``v=BIMI1``)?"""
    return isinstance(text, str) and _VERSION.match(text) is not None


def select(txt_values: Iterable[str]) -> str:
    """The BIMI record among the TXT values of ``<selector>._bimi.<domain>``; BimiError when
    there is none, or several (receivers then show no logo)."""
    records = [value for value in txt_values if is_bimi(value)]
    if not records:
        raise BimiError("no BIMI record (no TXT value starts with 'v=BIMI1')")
    if len(records) > 1:
        raise BimiError(f"{len(records)} BIMI records at one name: receivers show no logo")
    return records[0]


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


def dmarc_precondition(record: DmarcRecord) -> list[Problem]:
    """Why the DMARC policy that covers a domain does not allow BIMI ([] when it does).

    The BIMI draft and the receivers that show logos (Gmail, Yahoo, Apple; Mail::BIMI)
    require DMARC at enforcement: p=quarantine or p=reject applied to all mail (RFC
    9989's t=y replaces pct below 100), and no subdomain opt-out (sp=none), since a
    logo for the organisational domain must not show on unprotected subdomains.
    """
    problems: list[Problem] = []
    if record.policy not in ("quarantine", "reject"):
        problems.append(Problem("bimi-dmarc-not-enforcing", f"BIMI needs DMARC quarantine or reject, not p={record.policy}", "p"))
    if record.testing:
        problems.append(Problem("bimi-dmarc-testing", "BIMI needs DMARC applied to all mail, not t=y (testing)", "t"))
    if record.sp == "none":
        problems.append(Problem("bimi-dmarc-subdomain-none", "BIMI needs a DMARC subdomain policy other than sp=none", "sp"))
    return problems


# ---------------------------------------------------------------------------- the logo and the VMC

# BIMI Group guidance ("Creating BIMI SVG logo files"; "Solving SVG issues"): the SVG
# Tiny PS logo is at most 32 kilobytes, 32,768 bytes.
LOGO_MAX_BYTES = 32 * 1024
LOGO_CONTENT_TYPE = "image/svg+xml"
# Up to this many bytes are read of an authority (a VMC/CMC PEM with its chain).
AUTHORITY_MAX_BYTES = 64 * 1024
# id-kp-BrandIndicatorforMessageIdentification: the extended key usage of a VMC/CMC.
BIMI_EKU_OID = "1.3.6.1.5.5.7.3.31"
_SVG_NS = "http://www.w3.org/2000/svg"
_XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
# SVG Tiny PS (draft-svg-tiny-ps-abrotman) removes scripting, animation, multimedia,
# raster images and foreign content from SVG Tiny 1.2.
_FORBIDDEN_ELEMENTS = frozenset(
    {
        "script", "handler", "listener",
        "animate", "animateColor", "animateMotion", "animateTransform", "set", "discard",
        "animation", "audio", "video", "image", "foreignObject", "iframe", "canvas",
    }
)  # fmt: skip
_CSS_URL = re.compile(r"url\(\s*(['\"]?)\s*([^'\")\s]*)", re.IGNORECASE)
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\Z")
# Problem codes of check_logo / check_authority (stable: verify and reports select on them).
LOGO_CODES = (
    "bimi-logo-content-type",
    "bimi-logo-too-large",
    "bimi-logo-not-xml",
    "bimi-svg-root",
    "bimi-svg-version",
    "bimi-svg-profile",
    "bimi-svg-title",
    "bimi-svg-root-xy",
    "bimi-svg-forbidden-element",
    "bimi-svg-external-reference",
    "bimi-svg-viewbox",
    "bimi-svg-not-square",
)
AUTHORITY_CODES = (
    "bimi-vmc-not-pem",
    "bimi-vmc-invalid",
    "bimi-vmc-not-yet-valid",
    "bimi-vmc-expired",
    "bimi-vmc-name",
    "bimi-vmc-eku",
)
# Every code this module reports: dmarc_precondition's, then the logo's and the VMC's.
CODES = ("bimi-dmarc-not-enforcing", "bimi-dmarc-testing", "bimi-dmarc-subdomain-none", *LOGO_CODES, *AUTHORITY_CODES)
# Advice, not a refusal: receivers differ on evidence documents without the BIMI EKU.
ADVISORY = frozenset({"bimi-vmc-eku"})


def _local(tag: object) -> tuple[str, str]:
    """(namespace, local name) of an ElementTree tag."""
    text = tag if isinstance(tag, str) else ""
    if text.startswith("{"):
        ns, _, local = text[1:].partition("}")
        return ns, local
    return "", text


def _external(value: str) -> bool:
    """True if an href or CSS url() target leaves the document (anything but ``#id``)."""
    return not value.strip().startswith("#")


def _parse_xml(body: bytes) -> Any:
    try:
        import defusedxml.ElementTree as safe_et  # type: ignore[import-untyped]
    except ImportError:  # the policy pack does not ship defusedxml; verify depends on it
        safe_et = None
    if safe_et is not None:
        return safe_et.fromstring(body, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    if b"<!ENTITY" in body:
        raise BimiError("entity declarations are not allowed")
    import xml.etree.ElementTree as stdlib_et

    return stdlib_et.fromstring(body)


def check_svg(body: bytes) -> list[Problem]:
    """The SVG Tiny PS profile's basic constraints on a logo ([] when it meets them).

    Root ``<svg>`` in the SVG namespace with ``version="1.2"`` and ``baseProfile="tiny-ps"``,
    a ``<title>`` child, no ``x``/``y`` on the root, a square ``viewBox``; no scripts,
    animation, multimedia, ``<image>`` or ``<foreignObject>``; no reference (href,
    xlink:href, CSS ``url()``, xml-stylesheet) outside the document.
    """
    try:
        root = _parse_xml(body)
    except Exception as exc:  # noqa: BLE001 - defusedxml / expat raise several types for bad input
        return [Problem("bimi-logo-not-xml", f"the logo is not well-formed, safe XML: {type(exc).__name__}: {exc}")]
    ns, local = _local(root.tag)
    if (ns, local) != (_SVG_NS, "svg"):
        return [Problem("bimi-svg-root", f"the root element must be <svg> in the SVG namespace (got {root.tag!r})")]
    problems: list[Problem] = []
    if root.get("version") != "1.2":
        problems.append(Problem("bimi-svg-version", f"<svg version> must be 1.2 (got {root.get('version')!r})", "version"))
    if root.get("baseProfile") != "tiny-ps":
        problems.append(
            Problem("bimi-svg-profile", f"<svg baseProfile> must be tiny-ps (got {root.get('baseProfile')!r})", "baseProfile")
        )
    if not any(_local(child.tag) == (_SVG_NS, "title") for child in root):
        problems.append(Problem("bimi-svg-title", "the <svg> element must have a <title> child (the brand name)", "title"))
    for attr in ("x", "y"):
        if attr in root.attrib:
            problems.append(Problem("bimi-svg-root-xy", f"the <svg> element must not have an {attr}= attribute", attr))
    problems.extend(_viewbox_problems(root.get("viewBox")))
    forbidden: dict[str, None] = {}
    external: dict[str, None] = {}
    for element in root.iter():
        el_ns, el_local = _local(element.tag)
        if el_ns in (_SVG_NS, "") and el_local in _FORBIDDEN_ELEMENTS:
            forbidden[el_local] = None
        for name, value in element.attrib.items():
            if name in ("href", _XLINK_HREF) and _external(value):
                external[f"{el_local} {'xlink:href' if name == _XLINK_HREF else 'href'}={value[:60]!r}"] = None
            for match in _CSS_URL.finditer(value):
                if _external(match.group(2)):
                    external[f"{el_local} {_local(name)[1]}=url({match.group(2)[:60]})"] = None
        if el_local == "style" and element.text:
            if "@import" in element.text:
                external["<style> @import"] = None
            for match in _CSS_URL.finditer(element.text):
                if _external(match.group(2)):
                    external[f"<style> url({match.group(2)[:60]})"] = None
    if b"<?xml-stylesheet" in body:
        external["<?xml-stylesheet?>"] = None
    if forbidden:
        names = ", ".join(f"<{n}>" for n in forbidden)
        problems.append(
            Problem(
                "bimi-svg-forbidden-element",
                f"SVG Tiny PS does not allow {names} (scripts, animation, images)",
                next(iter(forbidden)),
            )
        )
    if external:
        problems.append(
            Problem("bimi-svg-external-reference", f"the logo refers outside itself: {'; '.join(list(external)[:5])}", "href")
        )
    return problems


def _viewbox_problems(viewbox: str | None) -> list[Problem]:
    if viewbox is None:
        return [Problem("bimi-svg-viewbox", "the <svg> element needs a viewBox (a square one)", "viewBox")]
    parts = viewbox.replace(",", " ").split()
    if len(parts) != 4 or not all(_NUMBER.match(p) for p in parts) or float(parts[2]) <= 0 or float(parts[3]) <= 0:
        return [
            Problem(
                "bimi-svg-viewbox", f"viewBox must be 'min-x min-y width height', positive sizes (got {viewbox!r})", "viewBox"
            )
        ]
    if float(parts[2]) != float(parts[3]):
        return [Problem("bimi-svg-not-square", f"the logo must be square (viewBox {viewbox!r})", "viewBox")]
    return []


def check_logo(body: bytes, content_type: str | None = None) -> list[Problem]:
    """A fetched logo: served as image/svg+xml (when ``content_type`` is given), at most
    ``LOGO_MAX_BYTES``, and SVG Tiny PS (``check_svg``). [] when fine."""
    problems: list[Problem] = []
    if content_type is not None:
        media = content_type.split(";", 1)[0].strip().lower()
        if media != LOGO_CONTENT_TYPE:
            problems.append(
                Problem(
                    "bimi-logo-content-type", f"the logo must be served as {LOGO_CONTENT_TYPE} (got {content_type or 'none'!r})"
                )
            )
    if len(body) > LOGO_MAX_BYTES:
        problems.append(
            Problem("bimi-logo-too-large", f"the logo is over {LOGO_MAX_BYTES} bytes (BIMI SVG Tiny PS limit: 32 KiB)")
        )
        return problems  # a truncated read is not worth parsing
    return problems + check_svg(body)


def check_authority(pem: bytes, domain: str, now: datetime) -> list[Problem]:
    """A fetched evidence document (VMC/CMC): PEM certificates, the first (the mark
    certificate) in date at ``now`` and naming ``domain`` or its organisational domain
    in a subjectAltName dNSName; the BIMI EKU is advised (``ADVISORY``). [] when fine.

    The chain to a Mark Verifying Authority's root is not checked (no MVA root store).
    """
    if b"-----BEGIN CERTIFICATE-----" not in pem:
        return [Problem("bimi-vmc-not-pem", "the authority is not a PEM certificate (no BEGIN CERTIFICATE block)")]
    try:
        certs = x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        return [Problem("bimi-vmc-invalid", f"the authority's PEM does not parse as certificates: {exc}")]
    cert = certs[0]
    problems: list[Problem] = []
    if now < cert.not_valid_before_utc:
        problems.append(
            Problem("bimi-vmc-not-yet-valid", f"the mark certificate is valid only from {cert.not_valid_before_utc:%Y-%m-%d}")
        )
    if now > cert.not_valid_after_utc:
        problems.append(Problem("bimi-vmc-expired", f"the mark certificate expired on {cert.not_valid_after_utc:%Y-%m-%d}"))
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [normalize_host(n) for n in san.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        names = []
    wanted = {normalize_host(domain), organizational_domain(domain)}
    if not wanted & set(names):
        problems.append(
            Problem(
                "bimi-vmc-name",
                f"the mark certificate does not name {normalize_host(domain)} (subjectAltName: {', '.join(names) or 'none'})",
            )
        )
    try:
        usages = [u.dotted_string for u in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value]
    except x509.ExtensionNotFound:
        usages = []
    if BIMI_EKU_OID not in usages:
        problems.append(
            Problem("bimi-vmc-eku", f"the certificate lacks the BIMI extended key usage ({BIMI_EKU_OID}): not a VMC/CMC")
        )
    return problems
