"""DKIM key records (RFC 6376, RFC 8463) and SES Easy DKIM CNAMEs."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from mailinfra.policies.mailinfra_policy.standards import dkim
from mailinfra.policies.mailinfra_policy.standards.errors import DkimError


@pytest.fixture(scope="module")
def rsa2048():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def rsa1024():
    return rsa.generate_private_key(public_exponent=65537, key_size=1024)


@pytest.fixture(scope="module")
def ed_key():
    return ed25519.Ed25519PrivateKey.generate()


def _spki_b64(key) -> str:
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def test_rsa_2048_record(rsa2048):
    public = rsa2048.public_key()
    text = dkim.dkim_txt_from_public_key(public, "rsa")
    assert text == f"v=DKIM1; k=rsa; p={_spki_b64(public)}"
    assert 400 <= len(text) <= 420
    record = dkim.parse_dkim_record(text)
    assert (record.key_type, record.key_bits, record.revoked) == ("rsa", 2048, False)
    assert dkim.check_dkim(text) == []


def test_rsa_from_pem_and_der_are_identical(rsa2048):
    public = rsa2048.public_key()
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    expected = dkim.dkim_txt_from_public_key(public, "rsa")
    assert dkim.dkim_txt_from_public_key(pem, "rsa") == expected
    assert dkim.dkim_txt_from_public_key(pem.decode(), "rsa") == expected
    assert dkim.dkim_txt_from_public_key(der, "rsa") == expected


def test_rsa_1024_rejected_for_building(rsa1024):
    with pytest.raises(DkimError) as err:
        dkim.dkim_txt_from_public_key(rsa1024.public_key(), "rsa")
    assert str(err.value) == "DKIM RSA key is 1024 bits; at least 2048 required"


def test_rsa_1024_parses_but_check_flags_it(rsa1024):
    text = f"v=DKIM1; k=rsa; p={_spki_b64(rsa1024.public_key())}"
    assert dkim.parse_dkim_record(text).key_bits == 1024
    assert dkim.check_dkim(text) == ["DKIM RSA key is 1024 bits; at least 2048 required"]
    assert dkim.check_dkim(text, min_rsa_bits=1024) == []


def test_pkcs1_rsa_public_key_accepted(rsa2048):
    der = rsa2048.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    record = dkim.parse_dkim_record(f"v=DKIM1; p={base64.b64encode(der).decode()}")
    assert (record.key_type, record.key_bits) == ("rsa", 2048)


def test_ed25519_record(ed_key):
    public = ed_key.public_key()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    text = dkim.dkim_txt_from_public_key(public, "ed25519")
    assert text == f"v=DKIM1; k=ed25519; p={base64.b64encode(raw).decode()}"
    record = dkim.parse_dkim_record(text)
    assert (record.key_type, record.key_bits) == ("ed25519", 256)


def test_private_key_refused_without_echo(rsa2048):
    with pytest.raises(DkimError) as err:
        dkim.dkim_txt_from_public_key(rsa2048, "rsa")
    assert str(err.value) == "DKIM record needs the public key, got a private key"
    pem = rsa2048.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with pytest.raises(DkimError) as err:
        dkim.dkim_txt_from_public_key(pem, "rsa")
    assert str(err.value) == "DKIM record needs the public key, got a private key"


def test_garbage_key_message_has_only_length():
    with pytest.raises(DkimError) as err:
        dkim.dkim_txt_from_public_key(b"secret-material-xyz", "rsa")
    assert str(err.value) == "DKIM public key could not be loaded (19 bytes, not a PEM or DER public key)"
    assert "secret" not in str(err.value)


def test_key_type_mismatch(rsa2048, ed_key):
    with pytest.raises(DkimError) as err:
        dkim.dkim_txt_from_public_key(ed_key.public_key(), "rsa")
    assert str(err.value).startswith("DKIM key type 'rsa' does not match the key")
    with pytest.raises(DkimError) as err:
        dkim.dkim_txt_from_public_key(rsa2048.public_key(), "ecdsa")
    assert str(err.value) == "DKIM key type must be one of rsa, ed25519 (got 'ecdsa')"
    ec_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(DkimError) as err:
        dkim.dkim_txt_from_public_key(ec_key, "rsa")
    assert str(err.value) == "DKIM supports RSA and Ed25519 keys only (got ECPublicKey)"


def test_revoked_key():
    record = dkim.parse_dkim_record("v=DKIM1; k=rsa; p=")
    assert record.revoked and record.key_bits is None
    assert dkim.check_dkim("v=DKIM1; p=") == ["DKIM key is revoked (empty 'p=')"]


def test_tags_and_whitespace_in_p(rsa2048):
    b64 = _spki_b64(rsa2048.public_key())
    spaced = " ".join(b64[i : i + 60] for i in range(0, len(b64), 60))
    record = dkim.parse_dkim_record(f"v=DKIM1; h=sha256; t=y:s; s=email; n=note; x=ext; p={spaced};")
    assert record.hashes == ("sha256",)
    assert record.flags == ("y", "s")
    assert record.testing
    assert record.unknown_tags == ("x",)
    assert "p=" not in repr(record) and b64[:20] not in repr(record)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("k=rsa; v=DKIM1; p=", "DKIM tag 'v' must be the first tag"),
        ("v=DKIM2; p=", "DKIM tag 'v' must be 'DKIM1' (got 'DKIM2')"),
        ("v=DKIM1; k=rsa", "DKIM record has no 'p' tag (public key)"),
        ("v=DKIM1; k=dsa; p=", "DKIM tag 'k' has unknown key type 'dsa' (allowed: rsa, ed25519)"),
        ("v=DKIM1; h=md5; p=", "DKIM tag 'h' has unknown value 'md5' (allowed: sha1, sha256)"),
        ("v=DKIM1; t=x; p=", "DKIM tag 't' has unknown value 'x' (allowed: s, y)"),
        ("v=DKIM1; p=abc", "DKIM tag 'p' is not valid base64 (3 characters)"),
        ("v=DKIM1; p=AAAA", "DKIM tag 'p': not an RSA public key (3 bytes of DER)"),
        ("v=DKIM1; k=ed25519; p=AAAA", "DKIM tag 'p': Ed25519 key must be 32 bytes (got 3)"),
        ("v=DKIM1; p=; p=", "DKIM tag 'p' appears more than once"),
        ("v=DKIM1; bad tag=1; p=", "DKIM tag name 'bad tag' is not valid"),
        ("v=DKIM1;; p=", "DKIM record has an empty tag between ';' separators: 'v=DKIM1;; p='"),
        ("v=DKIM1; novalue; p=", "DKIM tag 'novalue' has no '='"),
    ],
)
def test_parse_errors(text, message):
    with pytest.raises(DkimError) as err:
        dkim.parse_dkim_record(text)
    assert str(err.value) == message


def test_sha1_only_flagged(rsa2048):
    text = f"v=DKIM1; h=sha1; p={_spki_b64(rsa2048.public_key())}"
    assert dkim.check_dkim(text) == ["DKIM tag 'h' allows only sha1, which RFC 8301 forbids for signing"]


def test_selector_validation():
    assert dkim.validate_selector("Mail2024") == "mail2024"
    assert dkim.validate_selector("s1.eu") == "s1.eu"
    for bad in ("", "-x", "x-", "a_b", "a..b", "a" * 64):
        with pytest.raises(DkimError) as err:
            dkim.validate_selector(bad)
        assert str(err.value) in (
            f"DKIM selector {bad!r} is not valid: use letters, digits and inner hyphens",
            f"DKIM selector must be a non-empty str (got {bad!r})",
        )
    assert dkim.dkim_name("S1", "Example.COM.") == "s1._domainkey.example.com"


def test_easy_dkim_cname():
    assert dkim.easy_dkim_cname("example.com", "abc123") == (
        "abc123._domainkey.example.com",
        "CNAME",
        "abc123.dkim.amazonses.com",
    )
    assert dkim.easy_dkim_cname("example.com", "abc123", "eu-west-1")[2] == "abc123.dkim.amazonses.com"
    assert dkim.easy_dkim_cname("example.com", "abc123", "eu-south-1")[2] == "abc123.dkim.eu-south-1.amazonses.com"
    with pytest.raises(DkimError) as err:
        dkim.easy_dkim_cname("example.com", "bad_token")
    assert str(err.value) == "Easy DKIM token 'bad_token' is not valid: letters and digits, 1..63 characters"
    with pytest.raises(DkimError) as err:
        dkim.easy_dkim_cname("example.com", "abc", "mars")
    assert str(err.value) == "AWS region 'mars' is not valid"


@settings(max_examples=100, deadline=None)
@given(st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\.[a-z0-9]{1,10}){0,2}", fullmatch=True))
def test_selector_property(selector):
    assert dkim.validate_selector(selector) == selector
    assert dkim.dkim_name(selector, "example.com") == f"{selector}._domainkey.example.com"
