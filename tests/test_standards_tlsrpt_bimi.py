"""TLS-RPT (RFC 8460) and BIMI records."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailinfra.policies.mailinfra_policy.standards import bimi, tlsrpt
from mailinfra.policies.mailinfra_policy.standards.errors import BimiError, TlsRptError
from tests.strategies import LABEL, hosts


def test_tlsrpt_build_parse():
    text = tlsrpt.build_tlsrpt(["tls@example.com", "https://reports.example.net/tlsrpt", "mailto:tls@example.com"])
    assert text == "v=TLSRPTv1; rua=mailto:tls@example.com,https://reports.example.net/tlsrpt"
    record = tlsrpt.parse_tlsrpt(text)
    assert record.rua == ("mailto:tls@example.com", "https://reports.example.net/tlsrpt")
    assert tlsrpt.rua_domains(record) == ["example.com", "reports.example.net"]
    assert tlsrpt.txt_name("Example.com") == "_smtp._tls.example.com"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("v=TLSRPTv2; rua=mailto:a@example.com", "TLS-RPT record must start with 'v=TLSRPTv1' (got 'v=TLSRPTv2')"),
        ("v=TLSRPTv1", "TLS-RPT record has no 'rua' tag"),
        (
            "v=TLSRPTv1; rua=http://r.example.com/",
            "TLS-RPT tag 'rua': 'http://r.example.com/' is not a valid mailto: or https: URI",
        ),
        ("v=TLSRPTv1; rua=mailto:bad", "TLS-RPT tag 'rua': 'mailto:bad' is not a valid mailto: or https: URI"),
        ("v=TLSRPTv1; rua=mailto:a@example.com; v=TLSRPTv1", "TLS-RPT tag 'v' appears more than once"),
    ],
)
def test_tlsrpt_parse_errors(text, message):
    with pytest.raises(TlsRptError) as err:
        tlsrpt.parse_tlsrpt(text)
    assert str(err.value) == message


def test_tlsrpt_build_errors():
    with pytest.raises(TlsRptError) as err:
        tlsrpt.build_tlsrpt([])
    assert str(err.value) == "TLS-RPT record needs at least one rua URI"
    with pytest.raises(TlsRptError) as err:
        tlsrpt.build_tlsrpt("tls@example.com")
    assert str(err.value) == "TLS-RPT rua must be a list of URIs, not one string"
    with pytest.raises(TlsRptError) as err:
        tlsrpt.build_tlsrpt(["https://r.example.com/a,b"])
    assert str(err.value) == "TLS-RPT tag 'rua': URI 'https://r.example.com/a,b' contains ',', ';', '!' or a space"


def test_bimi_build_parse():
    text = bimi.build_bimi("https://example.com/brand/logo.svg", "https://example.com/brand/vmc.pem")
    assert text == "v=BIMI1; l=https://example.com/brand/logo.svg; a=https://example.com/brand/vmc.pem"
    record = bimi.parse_bimi(text)
    assert record.logo == "https://example.com/brand/logo.svg" and not record.declined
    assert bimi.build_bimi("https://example.com/logo.svg") == "v=BIMI1; l=https://example.com/logo.svg"
    assert bimi.parse_bimi("v=BIMI1; l=;").declined
    assert bimi.bimi_name("Example.com") == "default._bimi.example.com"
    assert bimi.bimi_name("example.com", "brand2") == "brand2._bimi.example.com"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("v=BIMI2; l=https://e.com/l.svg", "BIMI record must start with 'v=BIMI1' (got 'v=BIMI2')"),
        (
            "v=BIMI1; l=http://example.com/l.svg",
            "BIMI tag 'l' must be an https:// URL (got 'http://example.com/l.svg')",
        ),
        (
            "v=BIMI1; l=https://example.com/l.png",
            "BIMI tag 'l' must point to a .svg file (got 'https://example.com/l.png')",
        ),
        (
            "v=BIMI1; l=https://example.com/l.svg; a=http://example.com/v.pem",
            "BIMI tag 'a' must be an https:// URL (got 'http://example.com/v.pem')",
        ),
        (
            "v=BIMI1; l=https://example.com/l.svg; a=https://example.com/v.crt",
            "BIMI tag 'a' must point to a .pem file (got 'https://example.com/v.crt')",
        ),
        ("v=BIMI1; a=https://example.com/v.pem", "BIMI record has no 'l' tag (logo URL)"),
        ("v=BIMI1; l=https://example.com/l.svg; z=1", "BIMI tag 'z' is not known (got z='1')"),
        ("v=BIMI1; l=; a=https://example.com/v.pem", "BIMI record has an 'a' tag but an empty 'l' tag"),
    ],
)
def test_bimi_parse_errors(text, message):
    with pytest.raises(BimiError) as err:
        bimi.parse_bimi(text)
    assert str(err.value) == message


def test_bimi_selector_error():
    with pytest.raises(BimiError) as err:
        bimi.bimi_name("example.com", "_bad")
    assert str(err.value) == "BIMI selector '_bad' is not valid: use letters, digits and inner hyphens"


HOST = hosts("org")
URI = st.builds(lambda h: f"mailto:tls@{h}", HOST) | st.builds(lambda h, p: f"https://{h}/{p}", HOST, LABEL)


@settings(max_examples=100, deadline=None)
@given(st.lists(URI, min_size=1, max_size=5))
def test_tlsrpt_roundtrip_property(uris):
    record = tlsrpt.parse_tlsrpt(tlsrpt.build_tlsrpt(uris))
    assert record.rua == tuple(dict.fromkeys(uris))


@settings(max_examples=100, deadline=None)
@given(HOST, LABEL, st.booleans())
def test_bimi_roundtrip_property(host, path, with_authority):
    logo = f"https://{host}/{path}.svg"
    authority = f"https://{host}/{path}.pem" if with_authority else None
    record = bimi.parse_bimi(bimi.build_bimi(logo, authority))
    assert (record.logo, record.authority) == (logo, authority)
