"""The BIMI live check against real parts: Knot serving the BIMI record, the HTTPS server
of conftest (test CA) serving the logo and a VMC-like certificate made with cryptography.

The good case passes; each fault test breaks one thing.
"""

from __future__ import annotations

import datetime as dt
import gzip
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from mailinfra.verify import Report, VerifyOptions, run_verify
from mailinfra.policies.mailinfra_policy.standards import bimi as bimi_std

from .conftest import DOMAIN, HttpsServer, Pki, make_world, txt_rdata

HOST = f"mta-sts.{DOMAIN}"  # a name the test server's certificate covers
LOGO_PATH = "/bimi/logo.svg"
VMC_PATH = "/bimi/vmc.pem"
BIMI_NAME = f"default._bimi.{DOMAIN}"

GOOD_SVG = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<svg xmlns="http://www.w3.org/2000/svg" version="1.2" baseProfile="tiny-ps" viewBox="0 0 96 96">\n'
    b"  <title>Example Brand</title>\n"
    b'  <rect width="96" height="96" fill="#ffffff"/>\n'
    b'  <circle cx="48" cy="48" r="30" fill="#cc0000"/>\n'
    b"</svg>\n"
)

NOW = dt.datetime.now(dt.timezone.utc)


def vmc(
    names: tuple[str, ...] = (DOMAIN,),
    not_before: dt.datetime = NOW - dt.timedelta(days=1),
    not_after: dt.datetime = NOW + dt.timedelta(days=365),
    eku: bool = True,
) -> bytes:
    """A VMC-like chain (mark certificate + issuer) in PEM, made with cryptography."""
    issuer_key = ec.generate_private_key(ec.SECP256R1())
    issuer_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mailinfra test mark verifying authority")])
    issuer = (
        x509.CertificateBuilder()
        .subject_name(issuer_name)
        .issuer_name(issuer_name)
        .public_key(issuer_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=30))
        .not_valid_after(NOW + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example Brand")]))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
    )
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage([x509.ObjectIdentifier(bimi_std.BIMI_EKU_OID)]), critical=False)
    leaf = builder.sign(issuer_key, hashes.SHA256())
    return leaf.public_bytes(Encoding.PEM) + issuer.public_bytes(Encoding.PEM)


@pytest.fixture
def bimi(knot: Any, pki: Pki, https_server: HttpsServer) -> Any:
    """``bimi(logo=(status, ctype, body), authority=(...) | None, host=HOST) -> Report``."""

    def go(
        logo: tuple[int, str, bytes] = (200, "image/svg+xml", GOOD_SVG),
        authority: tuple[int, str, bytes] | None = (200, "application/pem-certificate-chain", b""),
        host: str = HOST,
        **kw: Any,
    ) -> Report:
        world = make_world(pki)
        base = f"https://{host}:{https_server.port}"
        record = bimi_std.build_bimi(base + LOGO_PATH, base + VMC_PATH if authority is not None else None)
        world.declared.append((BIMI_NAME, "TXT", [record]))
        world.zones[DOMAIN].append(("default._bimi", "TXT", txt_rdata(record)))
        world.zones[DOMAIN].append(("brand", "A", "127.0.0.1"))
        https_server.files[LOGO_PATH] = logo
        if authority is not None:
            status, ctype, body = authority
            https_server.files[VMC_PATH] = (status, ctype, body or vmc())
        server = knot(world.zone_files())
        options: dict[str, Any] = {
            "stack": "test",
            "plan_data": world.plan(),
            "nameservers": (server.nameserver,),
            "ca_file": pki.ca_file,
            "smtp": (),
            "timeout": 2.0,
            "progress": False,
        }
        options.update(kw)
        report, _ = run_verify(VerifyOptions(**options))
        return report

    return go


def check(report: Report, name: str) -> Any:
    found = [c for c in report.checks if c.check == name]
    assert len(found) == 1, report.to_text()
    return found[0]


# ----------------------------------------------------------------------------- pass


def test_good_logo_and_vmc_pass(bimi, https_server):
    report = bimi()
    logo, authority = check(report, "bimi-logo"), check(report, "bimi-authority")
    assert logo.status == "pass", report.to_text()
    assert logo.name == f"https://{HOST}:{https_server.port}{LOGO_PATH}"
    assert logo.found == f"image/svg+xml, {len(GOOD_SVG)} bytes"
    assert authority.status == "pass", report.to_text()
    assert f"names {DOMAIN}" in authority.found
    assert [c.status for c in report.checks if c.check == "record" and c.name == BIMI_NAME] == ["pass"]


def test_content_type_with_parameters_passes(bimi):
    report = bimi(logo=(200, "image/svg+xml; charset=utf-8", GOOD_SVG), authority=None)
    assert check(report, "bimi-logo").status == "pass"
    assert not [c for c in report.checks if c.check == "bimi-authority"]


def test_vmc_naming_the_organisational_domain_passes_for_a_subdomain_record():
    problems = bimi_std.check_authority(vmc(names=(DOMAIN,)), f"news.{DOMAIN}", NOW)
    assert problems == []


# ----------------------------------------------------------------------------- the logo fails


def test_wrong_content_type_fails(bimi):
    logo = check(bimi(logo=(200, "text/html", GOOD_SVG)), "bimi-logo")
    assert logo.status == "fail" and "must be served as image/svg+xml (got 'text/html')" in logo.message


def test_logo_over_32_kib_fails(bimi):
    big = GOOD_SVG.replace(b"<title>", b"<desc>" + b"x" * (32 * 1024) + b"</desc><title>")
    logo = check(bimi(logo=(200, "image/svg+xml", big)), "bimi-logo")
    assert logo.status == "fail" and "over 32768 bytes" in logo.message
    assert logo.found.endswith(f"{bimi_std.LOGO_MAX_BYTES + 1}+ bytes")


def test_script_element_fails(bimi):
    svg = GOOD_SVG.replace(b"</svg>", b"<script>alert(1)</script></svg>")
    logo = check(bimi(logo=(200, "image/svg+xml", svg)), "bimi-logo")
    assert logo.status == "fail" and "does not allow <script>" in logo.message


def test_wrong_base_profile_fails(bimi):
    svg = GOOD_SVG.replace(b'baseProfile="tiny-ps"', b'baseProfile="tiny"')
    logo = check(bimi(logo=(200, "image/svg+xml", svg)), "bimi-logo")
    assert logo.status == "fail" and "baseProfile> must be tiny-ps (got 'tiny')" in logo.message


def test_external_image_fails(bimi):
    svg = GOOD_SVG.replace(
        b"</svg>", b'<image xmlns:xlink="http://www.w3.org/1999/xlink" xlink:href="https://tracker.example.net/p.png"/></svg>'
    )
    logo = check(bimi(logo=(200, "image/svg+xml", svg)), "bimi-logo")
    assert logo.status == "fail"
    assert "<image>" in logo.message and "https://tracker.example.net/p.png" in logo.message


def test_gzip_body_is_not_svg(bimi):
    logo = check(bimi(logo=(200, "image/svg+xml", gzip.compress(GOOD_SVG))), "bimi-logo")
    assert logo.status == "fail" and "not well-formed" in logo.message


def test_not_found_fails(bimi):
    logo = check(bimi(logo=(404, "text/plain", b"nope")), "bimi-logo")
    assert logo.status == "fail" and logo.found == "HTTP 404"


def test_certificate_not_valid_for_the_logo_host_fails(bimi):
    # brand.example.com points at the test server, whose certificate does not name it
    report = bimi(host=f"brand.{DOMAIN}")
    logo = check(report, "bimi-logo")
    assert logo.status == "fail" and "certificate verification failed" in logo.message
    assert check(report, "bimi-authority").status == "fail"


def test_logo_host_without_an_address_fails(bimi):
    report = bimi(host=f"nowhere.{DOMAIN}")
    logo = check(report, "bimi-logo")
    assert logo.status == "fail" and "NXDOMAIN" in logo.message


# ----------------------------------------------------------------------------- the authority fails


def test_expired_vmc_fails(bimi):
    old = vmc(not_before=NOW - dt.timedelta(days=400), not_after=NOW - dt.timedelta(days=1))
    authority = check(bimi(authority=(200, "application/x-pem-file", old)), "bimi-authority")
    assert authority.status == "fail" and "expired on" in authority.message


def test_vmc_in_date_by_the_injected_clock(bimi):
    later = NOW + dt.timedelta(days=400)  # the good VMC lasts 365 days
    authority = check(bimi(now=later), "bimi-authority")
    assert authority.status == "fail" and "expired on" in authority.message


def test_vmc_for_another_domain_fails(bimi):
    other = vmc(names=("example.net",))
    authority = check(bimi(authority=(200, "application/x-pem-file", other)), "bimi-authority")
    assert authority.status == "fail"
    assert "does not name example.com (subjectAltName: example.net)" in authority.message


def test_non_pem_authority_fails(bimi):
    der = x509.load_pem_x509_certificates(vmc())[0].public_bytes(Encoding.DER)
    authority = check(bimi(authority=(200, "application/pkix-cert", der)), "bimi-authority")
    assert authority.status == "fail" and "not a PEM certificate" in authority.message


def test_garbage_pem_fails(bimi):
    junk = b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
    authority = check(bimi(authority=(200, "application/x-pem-file", junk)), "bimi-authority")
    assert authority.status == "fail" and "does not parse" in authority.message


def test_certificate_without_the_bimi_eku_warns(bimi):
    plain = vmc(eku=False)
    authority = check(bimi(authority=(200, "application/x-pem-file", plain)), "bimi-authority")
    assert authority.status == "warn" and bimi_std.BIMI_EKU_OID in authority.message
