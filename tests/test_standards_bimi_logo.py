"""standards.bimi: the logo (SVG Tiny PS basics, size, media type) and the VMC/CMC checks,
on bytes as verify fetches them."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from mailinfra.policies.mailinfra_policy.standards import bimi

NOW = dt.datetime.now(dt.timezone.utc)
SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" version="1.2" '
    'baseProfile="tiny-ps" viewBox="0 0 64 64"{root}><title>Brand</title>{body}</svg>'
)


def svg(body: str = "", root: str = "") -> bytes:
    return SVG.format(body=body, root=root).encode()


def codes(problems: list[str]) -> list[str]:
    return [p.code for p in problems]  # type: ignore[attr-defined]


def test_a_plain_tiny_ps_logo_has_no_problem():
    gradient = '<defs><linearGradient id="g"/></defs><rect width="64" height="64" fill="url(#g)"/><use xlink:href="#g"/>'
    assert bimi.check_logo(svg(gradient), "image/svg+xml") == []


@pytest.mark.parametrize(
    "body, root, code",
    [
        ("", ' x="0"', "bimi-svg-root-xy"),
        ("<animate/>", "", "bimi-svg-forbidden-element"),
        ("<foreignObject/>", "", "bimi-svg-forbidden-element"),
        ('<image xlink:href="data:image/png;base64,AAAA"/>', "", "bimi-svg-forbidden-element"),
        ('<a href="https://example.net/"><rect/></a>', "", "bimi-svg-external-reference"),
        ("<rect style=\"fill: url('https://example.net/x.svg#p')\"/>", "", "bimi-svg-external-reference"),
        ("<style>@import 'https://example.net/x.css';</style>", "", "bimi-svg-external-reference"),
    ],
)
def test_profile_violations(body, root, code):
    assert code in codes(bimi.check_svg(svg(body, root)))


def test_root_attributes_title_and_viewbox():
    text = svg().decode()
    assert codes(bimi.check_svg(text.replace('version="1.2"', 'version="1.1"').encode())) == ["bimi-svg-version"]
    assert codes(bimi.check_svg(text.replace("<title>Brand</title>", "").encode())) == ["bimi-svg-title"]
    assert codes(bimi.check_svg(text.replace('viewBox="0 0 64 64"', "").encode())) == ["bimi-svg-viewbox"]
    assert codes(bimi.check_svg(text.replace("0 0 64 64", "0 0 64 32").encode())) == ["bimi-svg-not-square"]
    assert codes(bimi.check_svg(text.replace("0 0 64 64", "0,0,64,abc").encode())) == ["bimi-svg-viewbox"]
    html = b'<html xmlns="http://www.w3.org/1999/xhtml"/>'
    assert codes(bimi.check_svg(html)) == ["bimi-svg-root"]


def test_xml_stylesheet_and_entities():
    styled = b'<?xml-stylesheet href="https://example.net/s.css"?>' + svg()
    assert codes(bimi.check_svg(styled)) == ["bimi-svg-external-reference"]
    bomb = b'<!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa">]>' + svg("<desc>&a;</desc>")
    assert codes(bimi.check_svg(bomb)) == ["bimi-logo-not-xml"]


def test_size_limit_is_32_kib_and_media_type():
    assert bimi.LOGO_MAX_BYTES == 32768
    at_limit = svg("<desc>" + "x" * (bimi.LOGO_MAX_BYTES - len(svg("<desc></desc>"))) + "</desc>")
    assert len(at_limit) == bimi.LOGO_MAX_BYTES and bimi.check_logo(at_limit) == []
    assert codes(bimi.check_logo(at_limit + b" ")) == ["bimi-logo-too-large"]
    assert codes(bimi.check_logo(svg(), "image/png")) == ["bimi-logo-content-type"]
    assert bimi.check_logo(svg(), "Image/SVG+XML; charset=utf-8") == []


def _vmc(names: list[str], before: dt.timedelta, after: dt.timedelta, eku: bool = True) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Brand")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW + before)
        .not_valid_after(NOW + after)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
    )
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage([x509.ObjectIdentifier(bimi.BIMI_EKU_OID)]), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(Encoding.PEM)


def test_authority_dates_names_and_eku():
    day = dt.timedelta(days=1)
    good = _vmc(["example.com"], -day, 365 * day)
    assert bimi.check_authority(good, "example.com", NOW) == []
    assert bimi.check_authority(good, "news.example.com", NOW) == []  # the organisational domain
    assert codes(bimi.check_authority(good, "example.org", NOW)) == ["bimi-vmc-name"]
    assert codes(bimi.check_authority(good, "example.com", NOW + 400 * day)) == ["bimi-vmc-expired"]
    future = _vmc(["example.com"], 2 * day, 365 * day)
    assert codes(bimi.check_authority(future, "example.com", NOW)) == ["bimi-vmc-not-yet-valid"]
    wildcard = _vmc(["*.example.com"], -day, 365 * day)
    assert codes(bimi.check_authority(wildcard, "example.com", NOW)) == ["bimi-vmc-name"]
    plain = _vmc(["example.com"], -day, 365 * day, eku=False)
    assert codes(bimi.check_authority(plain, "example.com", NOW)) == ["bimi-vmc-eku"]
    assert "bimi-vmc-eku" in bimi.ADVISORY
    assert codes(bimi.check_authority(b"\x30\x82", "example.com", NOW)) == ["bimi-vmc-not-pem"]


def test_select_finds_the_one_bimi_record():
    record = "v=BIMI1; l=https://example.com/logo.svg"
    assert bimi.select(["google-site-verification=x", record]) == record
    assert bimi.is_bimi(" v = BIMI1 ;l=") and not bimi.is_bimi("v=BIMI10; l=")
    with pytest.raises(bimi.BimiError, match="no BIMI record"):
        bimi.select(["v=spf1 -all"])
    with pytest.raises(bimi.BimiError, match="2 BIMI records"):
        bimi.select([record, record])
