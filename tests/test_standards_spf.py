"""SPF (RFC 7208): build, strict parse, lookup budget."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailinfra.policies.mailinfra_policy.standards import spf
from mailinfra.policies.mailinfra_policy.standards.errors import SpfError
from tests.strategies import DOMAIN, IP4, IP6


def _error(text: str) -> str:
    with pytest.raises(SpfError) as err:
        spf.parse_spf(text)
    return str(err.value)


def test_build_merges_and_dedupes_includes():
    text = spf.build_spf(includes=["amazonses.com", "AmazonSES.com.", "_spf.google.com", "amazonses.com"])
    assert text == "v=spf1 include:amazonses.com include:_spf.google.com -all"


def test_build_full_order_and_normalisation():
    text = spf.build_spf(
        includes=["amazonses.com"],
        ip4=["192.0.2.10", "192.0.2.10/32", "198.51.100.0/24"],
        ip6=["2001:DB8::/32"],
        a=True,
        mx=True,
        all_qualifier="~",
    )
    assert text == "v=spf1 a mx ip4:192.0.2.10 ip4:198.51.100.0/24 ip6:2001:db8::/32 include:amazonses.com ~all"


def test_build_redirect_has_no_all():
    assert spf.build_spf(redirect="_spf.example.com") == "v=spf1 redirect=_spf.example.com"


def test_build_rejects_host_bits_and_bad_qualifier():
    with pytest.raises(SpfError) as err:
        spf.build_spf(ip4=["10.0.0.1/8"])
    assert str(err.value) == "SPF ip4 value '10.0.0.1/8' has host bits set (use 10.0.0.0/8)"
    with pytest.raises(SpfError) as err:
        spf.build_spf(all_qualifier="!")
    assert str(err.value) == "SPF all qualifier must be one of + - ~ ? (got '!')"
    with pytest.raises(SpfError) as err:
        spf.build_spf(includes="amazonses.com")
    assert str(err.value) == "SPF includes, ip4 and ip6 must be lists of strings, not one string"


def test_null_spf():
    record = spf.parse_spf(spf.NULL_SPF)
    assert spf.all_qualifier(record) == "-"
    assert spf.count_dns_lookups(record) == 0
    assert spf.check_spf(spf.NULL_SPF) == []


def test_exactly_ten_lookups_ok_eleven_rejected():
    ten = [f"s{i}.example.com" for i in range(10)]
    text = spf.build_spf(includes=ten)
    assert spf.count_dns_lookups(spf.parse_spf(text)) == 10
    with pytest.raises(SpfError) as err:
        spf.build_spf(includes=[*ten, "s10.example.com"])
    assert str(err.value) == "SPF record has 11 DNS-querying terms, over the limit of 10"
    with pytest.raises(SpfError):
        spf.build_spf(includes=ten, mx=True)


def test_lookup_counting_rules():
    record = spf.parse_spf("v=spf1 a mx ptr exists:%{i}.x.example.com include:a.example.com ip4:192.0.2.1 ip6:::1 -all")
    assert spf.count_dns_lookups(record) == 5
    assert spf.count_dns_lookups(spf.parse_spf("v=spf1 redirect=a.example.com")) == 1
    # redirect is ignored (and not looked up) when the record has "all"
    assert spf.count_dns_lookups(spf.parse_spf("v=spf1 redirect=a.example.com -all")) == 0


def test_parse_terms():
    record = spf.parse_spf("v=spf1 ~a:mail.example.com/24//64 mx/28 -include:x.example.com exp=explain.%{d} ?all")
    a, mx, include, _all = record.mechanisms
    assert (a.qualifier, a.name, a.value, a.cidr4, a.cidr6) == ("~", "a", "mail.example.com", 24, 64)
    assert (mx.name, mx.value, mx.cidr4) == ("mx", None, 28)
    assert (include.qualifier, include.value) == ("-", "x.example.com")
    assert spf.all_qualifier(record) == "?"
    assert record.modifiers == (spf.SpfModifier("exp", "explain.%{d}"),)
    assert str(record) == "v=spf1 ~a:mail.example.com/24//64 mx/28 -include:x.example.com exp=explain.%{d} ?all"
    assert spf.includes(record) == ["x.example.com"]


def test_case_insensitive_version_and_mechanisms():
    record = spf.parse_spf("V=SPF1 INCLUDE:amazonses.com -ALL")
    assert spf.includes(record) == ["amazonses.com"]


def test_unknown_modifier_is_kept():
    record = spf.parse_spf("v=spf1 foo=bar -all")
    assert record.modifiers == (spf.SpfModifier("foo", "bar"),)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("v=spf2 -all", "SPF record must start with 'v=spf1': 'v=spf2 -all'"),
        ("v=spf1 foo -all", "SPF term 'foo': unknown mechanism 'foo'"),
        ("v=spf1 +ip5:1.2.3.4", "SPF term '+ip5:1.2.3.4': unknown mechanism 'ip5'"),
        ("v=spf1 ip4:192.0.2.256", "SPF term 'ip4:192.0.2.256': '192.0.2.256' is not an ip4 address"),
        ("v=spf1 ip4:192.0.2.0/33", "SPF term 'ip4:192.0.2.0/33': bad ip4 CIDR length '33' (0..32)"),
        ("v=spf1 ip4:192.0.2.0/024", "SPF term 'ip4:192.0.2.0/024': bad ip4 CIDR length '024' (0..32)"),
        ("v=spf1 ip6:2001:db8::/129", "SPF term 'ip6:2001:db8::/129': bad ip6 CIDR length '129' (0..128)"),
        ("v=spf1 ip6:192.0.2.1", "SPF term 'ip6:192.0.2.1': '192.0.2.1' is not an ip6 address"),
        ("v=spf1 ip4", "SPF term 'ip4': ip4 needs ':<network>'"),
        ("v=spf1 include", "SPF term 'include': include needs ':<domain>'"),
        ("v=spf1 include:foo", "SPF term 'include:foo': 'foo' is not a valid domain name"),
        ("v=spf1 a/33", "SPF term 'a/33': bad CIDR length '/33'"),
        ("v=spf1 all:x", "SPF term 'all:x': 'all' takes no argument"),
        ("v=spf1 include:%{x}.example.com", "SPF term 'include:%{x}.example.com': bad macro at '%{x}.example'"),
        (
            "v=spf1 exists:%{c}.example.com",
            "SPF term 'exists:%{c}.example.com': macro letter 'c' is only allowed in exp text",
        ),
        (
            "v=spf1 include:%{d}.x.1",
            "SPF term 'include:%{d}.x.1': domain '%{d}.x.1' does not end in a top-level label or a macro",
        ),
        ("v=spf1 redirect=a.example.com redirect=b.example.com", "SPF modifier 'redirect' appears more than once"),
        ("v=spf1 exp=a.example.com exp=b.example.com -all", "SPF modifier 'exp' appears more than once"),
        ("v=spf1 -all\u00e9", "SPF record has character 'é' at index 11 (only printable ASCII and space)"),
    ],
)
def test_parse_errors_name_the_term(text, message):
    assert _error(text) == message


def test_macros_accepted():
    spf.parse_spf("v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d} include:%{d2}.example.com -all")
    spf.parse_spf("v=spf1 include:_spf.%{d} -all")
    spf.parse_spf("v=spf1 exp=%{d}.explain.example.com -all")


def test_spf_records_finds_spf_values():
    values = ["google-site-verification=x", "v=spf1 -all", "v=spf10 nope", "V=SPF1 include:x.example.com -all"]
    assert spf.spf_records(values) == ["v=spf1 -all", "V=SPF1 include:x.example.com -all"]


def test_check_spf_problems():
    assert spf.check_spf("v=spf1 include:amazonses.com ~all") == ["SPF record must end in '-all' (got '~all')"]
    assert spf.check_spf("v=spf1 +all") == [
        "SPF record must end in '-all' (got '+all')",
        "SPF record allows every sender ('+all')",
    ]
    assert spf.check_spf("v=spf1 include:amazonses.com") == ["SPF record must end in '-all' (got no 'all')"]
    assert spf.check_spf("v=spf1 ptr -all") == ["SPF mechanism 'ptr' SHOULD NOT be used (RFC 7208 5.5)"]
    assert spf.check_spf("v=spf1 -all include:x.example.com") == ["SPF terms after 'all' are never evaluated"]
    assert spf.check_spf("v=spf1 redirect=x.example.com") == []
    assert spf.check_spf("v=spf1 bogus") == ["SPF term 'bogus': unknown mechanism 'bogus'"]


@settings(max_examples=100, deadline=None)
@given(
    includes=st.lists(DOMAIN, max_size=8),
    ip4=st.lists(IP4, max_size=6),
    ip6=st.lists(IP6, max_size=6),
    a=st.booleans(),
    qualifier=st.sampled_from(spf.QUALIFIERS),
)
def test_build_parse_roundtrip_property(includes, ip4, ip6, a, qualifier):
    text = spf.build_spf(includes=includes, ip4=ip4, ip6=ip6, a=a, all_qualifier=qualifier)
    record = spf.parse_spf(text)
    assert str(record) == text.replace("+all", "all")
    assert spf.includes(record) == list(dict.fromkeys(includes))
    assert spf.count_dns_lookups(record) == len(set(includes)) + int(a)
    assert spf.all_qualifier(record) == qualifier
    assert spf.parse_spf(str(record)) == record
