"""components/records.py: DnsRecord validation, every builder, provider forms, DKIM end to end."""

from __future__ import annotations

import base64
import functools

import dkim as dkimpy
import dns.rdata
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from mailinfra.components import records as r
from mailinfra.components.records import DnsRecord, RecordError
from mailinfra.policies.mailinfra_policy.standards import dkim, dmarc, mtasts, spf, tlsrpt, txt
from mailinfra.policies.mailinfra_policy.standards.errors import StandardError
from tests.strategies import ADDRESS, DOMAIN, IP4, IP6, LABEL


@functools.cache
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.cache
def ed_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


def _parses_with_dnspython(record: DnsRecord) -> None:
    for text, value in zip(r.rdata_texts(record), record.values, strict=True):
        rdata = dns.rdata.from_text("IN", record.type, text)
        if record.type == "TXT":
            assert b"".join(rdata.strings).decode() == value
            assert all(len(s) <= 255 for s in rdata.strings)


def _route53_roundtrip(record: DnsRecord) -> None:
    for form, value in zip(r.route53_values(record), record.values, strict=True):
        chunks = txt.parse_route53_txt(form)
        assert txt.join_txt(chunks) == value
        assert all(size <= 255 for size in txt.chunk_sizes(chunks))
        assert txt.check_route53_txt(form) == []


# DnsRecord validation


def test_dns_record_defaults():
    record = DnsRecord("example.com", "TXT", ("v=spf1 -all",), "spf")
    assert record.ttl == 3600


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "Example.com"}, "DnsRecord.name must be lowercase without a trailing dot (got 'Example.com')"),
        ({"name": "example.com."}, "DnsRecord.name must be lowercase without a trailing dot (got 'example.com.')"),
        ({"name": "bad..example.com"}, "DnsRecord.name is not a valid DNS name (got 'bad..example.com')"),
        ({"name": "a" * 64 + ".com"}, f"DnsRecord.name is not a valid DNS name (got {'a' * 64 + '.com'!r})"),
        ({"name": "localhost"}, "DnsRecord.name is not a valid DNS name (got 'localhost')"),
        ({"type": "SRV"}, f"DnsRecord.type must be one of {', '.join(r.RECORD_TYPES)} (got 'SRV')"),
        ({"type": "CNAME"}, "DnsRecord spf must be TXT (got 'CNAME')"),
        ({"purpose": "dmarc"}, "DnsRecord dmarc name must be _dmarc.<domain> (got 'example.com')"),
        ({"purpose": "other"}, "DnsRecord.purpose is not a known purpose (got 'other')"),
        ({"ttl": 0}, "DnsRecord.ttl must be an integer 1..86400 (got 0)"),
        ({"ttl": 86401}, "DnsRecord.ttl must be an integer 1..86400 (got 86401)"),
        ({"ttl": True}, "DnsRecord.ttl must be an integer 1..86400 (got True)"),
        ({"values": ()}, "DnsRecord.values must be a non-empty tuple (got ())"),
        ({"values": ["v=spf1 -all"]}, "DnsRecord.values must be a non-empty tuple (got ['v=spf1 -all'])"),
        ({"values": ("a", "a")}, "DnsRecord.values has duplicates (got ('a', 'a'))"),
        (
            {"values": ("bad\x00",)},
            "DnsRecord TXT value for 'example.com' is not valid rdata: TXT value has control character '\\x00' at index 3",
        ),
    ],
)
def test_dns_record_validation(kwargs, message):
    args = {"name": "example.com", "type": "TXT", "values": ("v=spf1 -all",), "purpose": "spf", "ttl": 3600}
    args.update(kwargs)
    with pytest.raises(RecordError) as err:
        DnsRecord(**args)
    assert str(err.value) == message


def test_ttl_bounds_accepted():
    assert DnsRecord("example.com", "TXT", ("x",), "spf", 1).ttl == 1
    assert DnsRecord("example.com", "TXT", ("x",), "spf", 86400).ttl == 86400


def test_cname_and_mx_validation():
    with pytest.raises(RecordError) as err:
        DnsRecord("a._domainkey.example.com", "CNAME", ("a.example.com", "b.example.com"), "easy-dkim")
    assert str(err.value) == "DnsRecord CNAME 'a._domainkey.example.com' must have exactly one value (got 2)"
    with pytest.raises(RecordError) as err:
        DnsRecord("a._domainkey.example.com", "CNAME", ("target.example.com.",), "easy-dkim")
    assert str(err.value) == (
        "DnsRecord CNAME target must be a lowercase host name without trailing dot (got 'target.example.com.')"
    )
    with pytest.raises(RecordError) as err:
        DnsRecord("mail.example.com", "MX", ("feedback.example.com",), "mail-from-mx")
    assert str(err.value) == "DnsRecord MX value must be '<priority 0..65535> <host>' (got 'feedback.example.com')"
    with pytest.raises(RecordError) as err:
        DnsRecord("mail.example.com", "MX", ("65536 mx.example.com",), "mail-from-mx")
    assert str(err.value) == "DnsRecord MX value must be '<priority 0..65535> <host>' (got '65536 mx.example.com')"
    with pytest.raises(RecordError) as err:
        DnsRecord("mail.example.com", "MX", ("10 MX.example.com",), "mail-from-mx")
    assert str(err.value) == ("DnsRecord MX host must be a lowercase host name without trailing dot (got '10 MX.example.com')")


def test_record_is_frozen():
    record = DnsRecord("example.com", "TXT", ("v=spf1 -all",), "spf")
    with pytest.raises(AttributeError):
        record.ttl = 60  # type: ignore[misc]


# Builders


def test_spf_record():
    record = r.spf_record("Example.COM.", includes=["amazonses.com", "amazonses.com"], ip4=["192.0.2.0/24"])
    assert record == DnsRecord("example.com", "TXT", ("v=spf1 ip4:192.0.2.0/24 include:amazonses.com -all",), "spf")
    _parses_with_dnspython(record)


def test_dkim_record_rsa_2048_splits_255_plus_rest():
    record = r.dkim_record("example.com", "s2024", rsa_key().public_key(), "rsa")
    assert record.name == "s2024._domainkey.example.com"
    assert record.purpose == "dkim"
    (value,) = record.values
    assert 400 <= len(value.encode()) <= 420
    (form,) = r.route53_values(record)
    chunks = txt.parse_route53_txt(form)
    assert [len(c) for c in chunks] == [255, len(value) - 255]
    assert form == value[:255] + '""' + value[255:]
    assert txt.join_txt(chunks) == value
    assert dkim.parse_dkim_record(txt.join_txt(chunks)).key_bits == 2048
    # Cloudflare: quoted RFC 1035 character-strings of at most 255 bytes (defect 9)
    assert r.cloudflare_content(record) == f'"{value[:255]}" "{value[255:]}"'
    _parses_with_dnspython(record)


def test_dkim_record_ed25519():
    record = r.dkim_record("example.com", "ed1", ed_key().public_key(), "ed25519")
    assert record.values[0].startswith("v=DKIM1; k=ed25519; p=")
    assert r.route53_values(record) == [record.values[0]]


def test_dkim_record_refuses_weak_key_without_echoing_it():
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    with pytest.raises(StandardError) as err:
        r.dkim_record("example.com", "old", weak)
    assert str(err.value) == "DKIM RSA key is 1024 bits; at least 2048 required"


def test_easy_dkim_records():
    records = r.easy_dkim_records("example.com", ["tok1", "tok2", "tok3"])
    assert [(x.name, x.type, x.values, x.purpose) for x in records] == [
        (f"{t}._domainkey.example.com", "CNAME", (f"{t}.dkim.amazonses.com",), "easy-dkim") for t in ("tok1", "tok2", "tok3")
    ]
    assert r.route53_values(records[0]) == ["tok1.dkim.amazonses.com"]
    assert r.rdata_texts(records[0]) == ["tok1.dkim.amazonses.com."]
    for record in records:
        _parses_with_dnspython(record)
    with pytest.raises(RecordError) as err:
        r.easy_dkim_records("example.com", ["tok1", "tok2"])
    assert str(err.value) == "Easy DKIM needs exactly three distinct tokens (got 2)"
    with pytest.raises(RecordError) as err:
        r.easy_dkim_records("example.com", ["tok1", "tok1", "tok2"])
    assert str(err.value) == "Easy DKIM needs exactly three distinct tokens (got 3)"


def test_dmarc_record_and_report_auth():
    record = r.dmarc_record(
        "example.com", "reject", sp="reject", rua=["dmarc@example.com", "agg@vendor.net"], ruf=["f@other.org"]
    )
    assert record.name == "_dmarc.example.com"
    assert record.values == (
        "v=DMARC1; p=reject; sp=reject; rua=mailto:dmarc@example.com,mailto:agg@vendor.net; ruf=mailto:f@other.org",
    )
    auth = r.dmarc_report_auth_records("example.com", record)
    assert auth == (
        DnsRecord("example.com._report._dmarc.vendor.net", "TXT", ("v=DMARC1",), "dmarc-report-auth"),
        DnsRecord("example.com._report._dmarc.other.org", "TXT", ("v=DMARC1",), "dmarc-report-auth"),
    )
    assert r.dmarc_report_auth_records("example.com", r.dmarc_record("example.com", "none", rua=["a@example.com"])) == ()
    with pytest.raises(RecordError) as err:
        r.dmarc_report_auth_records("example.com", r.spf_record("example.com"))
    assert str(err.value) == "expected a DMARC record, got purpose 'spf' at 'example.com'"


def test_mta_sts_record_and_policy_come_together():
    bundle = r.mta_sts("example.com", "enforce", ["mx1.example.com"], 604800)
    assert bundle.record.name == "_mta-sts.example.com"
    assert bundle.record.values == (f"v=STSv1; id={bundle.policy_id}",)
    assert bundle.policy_id == mtasts.policy_id(bundle.policy_text)
    assert mtasts.parse_txt(bundle.record.values[0]).id == bundle.policy_id
    assert mtasts.parse_policy(bundle.policy_text).mode == "enforce"
    assert bundle.policy_url == "https://mta-sts.example.com/.well-known/mta-sts.txt"
    assert bundle.policy_host == "mta-sts.example.com"
    testing = r.mta_sts("example.com", "testing", ["mx1.example.com"], 604800)
    assert testing.policy_id != bundle.policy_id
    assert r.mta_sts_record("example.com", bundle.policy_text) == bundle
    with pytest.raises(StandardError) as err:
        r.mta_sts_record("example.com", "version: STSv1\r\n")
    assert str(err.value) == "MTA-STS policy has no 'mode' field"


def test_tls_rpt_record():
    record = r.tls_rpt_record("example.com", ["tls@example.com"])
    assert record == DnsRecord("_smtp._tls.example.com", "TXT", ("v=TLSRPTv1; rua=mailto:tls@example.com",), "tls-rpt")


def test_bimi_record_requires_enforcing_dmarc():
    reject = r.dmarc_record("example.com", "reject")
    record = r.bimi_record("example.com", "default", "https://example.com/logo.svg", "https://example.com/vmc.pem", reject)
    assert record == DnsRecord(
        "default._bimi.example.com",
        "TXT",
        ("v=BIMI1; l=https://example.com/logo.svg; a=https://example.com/vmc.pem",),
        "bimi",
    )
    assert r.bimi_record("example.com", "default", "https://example.com/l.svg", None, "v=DMARC1; p=quarantine")
    for weak, got in (  # bimi.dmarc_precondition's problems
        ("v=DMARC1; p=none", "BIMI needs DMARC quarantine or reject, not p=none"),
        ("v=DMARC1; p=reject; t=y", "BIMI needs DMARC applied to all mail, not t=y (testing)"),
        ("v=DMARC1; p=reject; sp=none", "BIMI needs a DMARC subdomain policy other than sp=none"),
    ):
        with pytest.raises(RecordError) as err:
            r.bimi_record("example.com", "default", "https://example.com/l.svg", None, weak)
        assert str(err.value) == f"BIMI for 'example.com': {got}"
    other = r.dmarc_record("other.com", "reject")
    with pytest.raises(RecordError) as err:
        r.bimi_record("example.com", "default", "https://example.com/l.svg", None, other)
    assert str(err.value) == "BIMI for 'example.com' needs the DMARC record of 'example.com', got '_dmarc.other.com'"
    # the organisational domain's DMARC covers a subdomain
    assert r.bimi_record("news.example.com", "default", "https://example.com/l.svg", None, reject)


def test_mail_from_records():
    mx_record, spf_record = r.mail_from_records("bounce.example.com", "eu-west-1")
    assert mx_record == DnsRecord("bounce.example.com", "MX", ("10 feedback-smtp.eu-west-1.amazonses.com",), "mail-from-mx")
    assert spf_record == DnsRecord("bounce.example.com", "TXT", ("v=spf1 include:amazonses.com -all",), "mail-from-spf")
    assert r.cloudflare_content(mx_record) == "feedback-smtp.eu-west-1.amazonses.com"
    assert r.mx_priority(mx_record) == 10
    assert r.route53_values(mx_record) == ["10 feedback-smtp.eu-west-1.amazonses.com"]
    assert r.rdata_texts(mx_record) == ["10 feedback-smtp.eu-west-1.amazonses.com."]
    _parses_with_dnspython(mx_record)
    with pytest.raises(RecordError) as err:
        r.mail_from_records("bounce.example.com", "Europe")
    assert str(err.value) == "AWS region is not valid (got 'Europe')"
    with pytest.raises(RecordError) as err:
        r.mx_priority(spf_record)
    assert str(err.value) == "mx_priority needs a single-value MX record (got TXT at 'bounce.example.com')"


def test_null_sender_records():
    spf_txt, dmarc_txt = r.null_sender_records("www.example.com")
    assert spf_txt == DnsRecord("www.example.com", "TXT", ("v=spf1 -all",), "null-spf")
    assert dmarc_txt == DnsRecord("_dmarc.www.example.com", "TXT", ("v=DMARC1; p=reject;",), "null-dmarc")
    assert dmarc.is_enforcing(dmarc.parse_dmarc(dmarc_txt.values[0]))
    assert spf.all_qualifier(spf.parse_spf(spf_txt.values[0])) == "-"


def test_cloudflare_content_single_value_only():
    record = DnsRecord("example.com", "TXT", ("a", "b"), "spf")
    assert r.cloudflare_contents(record) == ['"a"', '"b"']
    with pytest.raises(RecordError) as err:
        r.cloudflare_content(record)
    assert str(err.value) == "'example.com' has 2 values; use cloudflare_contents for one record per value"


def test_bad_domain():
    with pytest.raises(RecordError) as err:
        r.spf_record("not a domain")
    assert str(err.value) == "domain is not a valid DNS name (got 'not a domain')"


# DKIM end to end with dkimpy: sign with the private key, verify against the built record.

MESSAGE = b"From: a@example.com\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nhello\r\n"


def _dns_from(record: DnsRecord):
    def lookup(name: bytes | str, timeout: int = 5) -> bytes:
        name = name.decode() if isinstance(name, bytes) else name
        assert name.rstrip(".") == record.name
        # what a resolver hands back: the Route53 chunks rejoined
        return txt.join_txt(txt.parse_route53_txt(r.route53_values(record)[0])).encode()

    return lookup


def test_dkim_rsa_signature_verifies_against_record():
    record = r.dkim_record("example.com", "s1", rsa_key().public_key())
    pem = rsa_key().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    signature = dkimpy.sign(MESSAGE, b"s1", b"example.com", pem, include_headers=[b"from", b"to", b"subject"])
    assert dkimpy.verify(signature + MESSAGE, dnsfunc=_dns_from(record))


def test_dkim_ed25519_record_key_verifies_signatures():
    record = r.dkim_record("example.com", "ed1", ed_key().public_key(), "ed25519")
    raw = base64.b64decode(dkim.parse_dkim_record(record.values[0]).tags["p"])
    published = ed25519.Ed25519PublicKey.from_public_bytes(raw)
    published.verify(ed_key().sign(b"data"), b"data")  # raises InvalidSignature on mismatch


def test_dkim_ed25519_signature_verifies_against_record():
    import nacl  # noqa: F401 - dkimpy signs ed25519-sha256 through pynacl (a test dependency)

    record = r.dkim_record("example.com", "ed1", ed_key().public_key(), "ed25519")
    seed = ed_key().private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    signature = dkimpy.sign(
        MESSAGE,
        b"ed1",
        b"example.com",
        base64.b64encode(seed),
        signature_algorithm=b"ed25519-sha256",
        include_headers=[b"from", b"to", b"subject"],
    )
    assert dkimpy.verify(signature + MESSAGE, dnsfunc=_dns_from(record))


# Property tests: every builder's output parses with dnspython and our parsers.

SELECTOR = LABEL


@settings(max_examples=100, deadline=None)
@given(
    domain=DOMAIN,
    includes=st.lists(DOMAIN, max_size=9),
    ip4=st.lists(IP4, max_size=15),
    ip6=st.lists(IP6, max_size=10),
    mx=st.booleans(),
)
def test_spf_record_property(domain, includes, ip4, ip6, mx):
    record = r.spf_record(domain, includes=includes, ip4=ip4, ip6=ip6, mx=mx)
    _parses_with_dnspython(record)
    _route53_roundtrip(record)
    parsed = spf.parse_spf(record.values[0])
    assert str(parsed) == record.values[0]
    assert spf.count_dns_lookups(parsed) == len(set(includes)) + int(mx)
    assert spf.check_spf(record.values[0]) in (
        [],
        [f"SPF record is {len(record.values[0])} bytes, over the recommended 450"],
    )


@settings(max_examples=100, deadline=None)
@given(
    domain=DOMAIN,
    p=st.sampled_from(dmarc.POLICIES),
    rua=st.lists(ADDRESS, max_size=6),
    ruf=st.lists(ADDRESS, max_size=3),
    t=st.none() | st.sampled_from(("y", "n")),
)
def test_dmarc_records_property(domain, p, rua, ruf, t):
    record = r.dmarc_record(domain, p, rua=rua, ruf=ruf, t=t)
    _parses_with_dnspython(record)
    _route53_roundtrip(record)
    parsed = dmarc.parse_dmarc(record.values[0])
    assert parsed.p == p
    auth = r.dmarc_report_auth_records(domain, record)
    assert [a.name for a in auth] == [f"{domain}._report._dmarc.{dest}" for dest in dmarc.external_destinations(domain, parsed)]
    for a in auth:
        _parses_with_dnspython(a)


@settings(max_examples=50, deadline=None)
@given(domain=DOMAIN, selector=SELECTOR, use_ed25519=st.booleans())
def test_dkim_record_property(domain, selector, use_ed25519):
    key, key_type = (ed_key(), "ed25519") if use_ed25519 else (rsa_key(), "rsa")
    record = r.dkim_record(domain, selector, key.public_key(), key_type)
    assert record.name == f"{selector}._domainkey.{domain}"
    _parses_with_dnspython(record)
    _route53_roundtrip(record)
    assert dkim.parse_dkim_record(record.values[0]).key_type == key_type


@settings(max_examples=100, deadline=None)
@given(
    domain=DOMAIN,
    patterns=st.lists(DOMAIN | DOMAIN.map(lambda d: f"*.{d}"), min_size=1, max_size=4),
    mode=st.sampled_from(["enforce", "testing"]),
    rua=st.lists(ADDRESS, min_size=1, max_size=4),
)
def test_mta_sts_and_tls_rpt_property(domain, patterns, mode, rua):
    bundle = r.mta_sts(domain, mode, patterns, 86400)
    _parses_with_dnspython(bundle.record)
    assert mtasts.parse_txt(bundle.record.values[0]).id == mtasts.policy_id(bundle.policy_text)
    tls = r.tls_rpt_record(domain, rua)
    _parses_with_dnspython(tls)
    _route53_roundtrip(tls)
    assert tlsrpt.parse_tlsrpt(tls.values[0]).rua == tuple(dict.fromkeys(f"mailto:{a}" for a in rua))
