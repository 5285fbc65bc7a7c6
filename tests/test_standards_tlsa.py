"""standards.tlsa: TLSA records (RFC 6698) and how an RFC 7672 SMTP client judges them."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mailinfra.policies.mailinfra_policy.standards import tlsa
from mailinfra.policies.mailinfra_policy.standards.errors import StandardError, TlsaError

NOW = dt.datetime.now(dt.timezone.utc)


def _cert(name: str, issuer_key: ec.EllipticCurvePrivateKey | None = None, issuer: x509.Name | None = None,
          ca: bool = False, days: int = 90) -> tuple[bytes, ec.EllipticCurvePrivateKey, x509.Name]:  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer or subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        ).add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    else:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
    cert = builder.sign(issuer_key or key, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.DER), key, subject


CA_DER, CA_KEY, CA_NAME = _cert("test CA", ca=True, days=3650)
LEAF_DER = _cert("mx1.example.com", CA_KEY, CA_NAME)[0]


def test_owner_name_is_port_25_tcp_of_the_mx_host():
    assert tlsa.tlsa_name("MX1.Example.com.") == "_25._tcp.mx1.example.com"
    assert tlsa.tlsa_name("mx1.example.com", 465) == "_465._tcp.mx1.example.com"
    for bad in (("not a host",), ("mx1.example.com", 0), ("mx1.example.com", 25, "icmp")):
        with pytest.raises(TlsaError):
            tlsa.tlsa_name(*bad)  # type: ignore[arg-type]


def test_parse_and_print_back():
    digest = "AB" * 32
    record = tlsa.parse_tlsa(f"3 1 1 {digest[:20]} {digest[20:]}")
    assert (record.usage, record.selector, record.mtype, record.data) == (3, 1, 1, bytes.fromhex(digest))
    assert record.to_text() == f"3 1 1 {digest.lower()}"
    assert record.describe() == "3 1 1 (DANE-EE SPKI SHA2-256)"
    assert record.usable_for_smtp


@pytest.mark.parametrize(
    "text, field",
    [("4 1 1", "usage"), ("3 2 1", "selector"), ("3 1 3", "matching type"), ("255 1 1", "usage")],
)
def test_values_outside_the_registries_do_not_parse(text, field):
    with pytest.raises(TlsaError, match=f"TLSA {field} must be one of"):
        tlsa.parse_tlsa(f"{text} {'ab' * 32}")


def test_garbage_does_not_parse_and_is_a_value_error():
    with pytest.raises(TlsaError, match="does not parse") as info:
        tlsa.parse_tlsa("3 1 1 not-hex")
    assert isinstance(info.value, StandardError) and isinstance(info.value, ValueError)


def test_association_data_full_spki_and_digests():
    spki = (
        x509.load_der_x509_certificate(LEAF_DER)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    assert tlsa.association_data(LEAF_DER, 0, 0) == LEAF_DER
    assert tlsa.association_data(LEAF_DER, 1, 0) == spki
    assert tlsa.association_data(LEAF_DER, 1, 1) == hashlib.sha256(spki).digest()
    assert tlsa.association_data(LEAF_DER, 0, 2) == hashlib.sha512(LEAF_DER).digest()
    assert tlsa.build_tlsa(LEAF_DER) == f"3 1 1 {hashlib.sha256(spki).hexdigest()}"
    with pytest.raises(TlsaError, match="not a DER certificate"):
        tlsa.association_data(b"junk", 1, 1)


def test_check_flags_pkix_usages_and_bad_lengths():
    pkix = tlsa.TlsaRecord(1, 1, 1, b"\x00" * 32)
    assert [p.code for p in tlsa.check_tlsa(pkix)] == ["tlsa-pkix-usage"]
    assert tlsa.check_tlsa(pkix)[0].tag == "usage"
    short = tlsa.TlsaRecord(3, 1, 2, b"\x00" * 32)
    assert [(p.code, p.tag) for p in tlsa.check_tlsa(short)] == [("tlsa-data-length", "data")]
    full_junk = tlsa.TlsaRecord(3, 0, 0, b"\x00" * 10)
    assert [p.code for p in tlsa.check_tlsa(full_junk)] == ["tlsa-data-invalid"]
    with pytest.raises(TlsaError, match="unusable for SMTP"):
        tlsa.build_tlsa(LEAF_DER, usage=0)


def test_parse_rrset_keeps_the_good_records():
    records, problems = tlsa.parse_rrset([tlsa.build_tlsa(LEAF_DER), "9 9 9 00", "3 1 1 abcd"])
    assert len(records) == 1 and [p.code for p in problems] == ["tlsa-invalid", "tlsa-invalid"]


def test_match_dane_ee_ignores_names_and_dates():
    expired, _, _ = _cert("other.example.net", CA_KEY, CA_NAME, days=-1)
    record = tlsa.parse_tlsa(tlsa.build_tlsa(expired))
    matched, problems = tlsa.match_chain([record], [expired], "mx1.example.com", NOW)
    assert matched == record and problems == []


def test_match_dane_ta_needs_a_chain_valid_for_the_host():
    ta = tlsa.parse_tlsa(tlsa.build_tlsa(CA_DER, usage=2, selector=1, mtype=1))
    matched, _ = tlsa.match_chain([ta], [LEAF_DER, CA_DER], "mx1.example.com", NOW)
    assert matched == ta
    matched, problems = tlsa.match_chain([ta], [LEAF_DER, CA_DER], "mx2.example.com", NOW)
    assert matched is None and [p.code for p in problems] == ["tlsa-ta-chain", "tlsa-no-match"]
    # 2 0 0 carries the anchor itself: the server need not send it
    full = tlsa.TlsaRecord(2, 0, 0, CA_DER)
    assert tlsa.match_chain([full], [LEAF_DER], "mx1.example.com", NOW)[0] == full
    # the leaf itself is never a DANE-TA anchor
    leaf_as_ta = tlsa.parse_tlsa(tlsa.build_tlsa(LEAF_DER, usage=2))
    assert tlsa.match_chain([leaf_as_ta], [LEAF_DER, CA_DER], "mx1.example.com", NOW)[0] is None


def test_match_reports_unusable_and_no_match():
    pkix = tlsa.TlsaRecord(1, 1, 1, tlsa.association_data(LEAF_DER, 1, 1))
    matched, problems = tlsa.match_chain([pkix], [LEAF_DER], "mx1.example.com", NOW)
    assert matched is None and [p.code for p in problems] == ["tlsa-pkix-usage", "tlsa-no-usable-record"]
    other = tlsa.TlsaRecord(3, 1, 1, b"\x01" * 32)
    matched, problems = tlsa.match_chain([other], [LEAF_DER], "mx1.example.com", NOW)
    assert matched is None and [p.code for p in problems] == ["tlsa-no-match"]
    assert [p.code for p in tlsa.match_chain([other], [], "mx1.example.com", NOW)[1]] == ["tlsa-no-match"]
