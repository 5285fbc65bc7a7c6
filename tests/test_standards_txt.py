"""TXT chunking and the Route53 / Cloudflare / presentation forms."""

from __future__ import annotations

import dns.rdata
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailinfra.policies.mailinfra_policy.standards import txt
from mailinfra.policies.mailinfra_policy.standards.errors import StandardError, TxtError

# Printable text, including multibyte characters, without control characters.
TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\x7f"),
    max_size=900,
)


def _dns_strings(presentation: str) -> list[bytes]:
    return list(dns.rdata.from_text("IN", "TXT", presentation).strings)


def test_short_value_is_one_string():
    assert txt.split_txt("v=spf1 -all") == ["v=spf1 -all"]
    assert txt.route53_txt("v=spf1 -all") == "v=spf1 -all"
    assert txt.to_rdata_text("v=spf1 -all") == '"v=spf1 -all"'


def test_empty_value_is_one_empty_string():
    assert txt.split_txt("") == [""]
    assert txt.to_rdata_text("") == '""'


def test_exactly_255_bytes_is_one_string_256_is_two():
    assert txt.split_txt("a" * 255) == ["a" * 255]
    assert txt.split_txt("a" * 256) == ["a" * 255, "a"]


def test_multibyte_char_at_boundary_moves_to_next_chunk():
    value = "a" * 254 + "é" + "b"  # é is 2 bytes: 254 + 2 = 256 > 255
    chunks = txt.split_txt(value)
    assert chunks == ["a" * 254, "éb"]
    assert txt.chunk_sizes(chunks) == [254, 3]
    assert txt.join_txt(chunks) == value


def test_four_byte_char_never_split():
    value = "a" * 253 + "😀" * 2
    chunks = txt.split_txt(value)
    assert chunks == ["a" * 253, "😀" * 2]
    assert all(size <= 255 for size in txt.chunk_sizes(chunks))


def test_route53_form_of_410_byte_value():
    value = "v=DKIM1; k=rsa; p=" + "A" * 392
    assert len(value) == 410
    form = txt.route53_txt(value)
    assert form == value[:255] + '""' + value[255:]
    assert txt.parse_route53_txt(form) == [value[:255], value[255:]]


def test_parse_route53_fully_quoted_forms():
    assert txt.parse_route53_txt('"abc" "def"') == ["abc", "def"]
    assert txt.parse_route53_txt('"abc""def"') == ["abc", "def"]
    assert txt.parse_route53_txt('"a\\"b"') == ['a"b']
    assert txt.parse_route53_txt('"h\\195\\169"') == ["hé"]


def test_quotes_and_backslashes_are_escaped():
    value = 'say "hi" \\ bye'
    assert txt.route53_txt(value) == 'say \\"hi\\" \\\\ bye'
    assert txt.join_txt(txt.parse_route53_txt(txt.route53_txt(value))) == value
    assert b"".join(_dns_strings(txt.to_rdata_text(value))).decode() == value


def test_check_route53_txt_flags_oversized_chunk():
    assert txt.check_route53_txt("a" * 255) == []
    assert txt.check_route53_txt("a" * 256) == [
        'TXT string 0 is 256 bytes, over the 255-byte limit; split it with "" (route53_txt)'
    ]
    assert txt.check_route53_txt('"' + "b" * 300 + '"') == [
        'TXT string 0 is 300 bytes, over the 255-byte limit; split it with "" (route53_txt)'
    ]


def test_check_route53_txt_flags_a_value_over_4000_characters():
    # Route53's API: a ResourceRecord Value is at most 4,000 characters, quotes included
    # (pulumi-aws adds the outer two); before, any length passed and failed at deploy.
    fits = txt.route53_txt("a" * (3998 - 2 * 15))  # 16 chunks: 15 '""' joins and the outer quotes
    assert len(fits) + 2 == 4000 and txt.check_route53_txt(fits) == []
    (problem,) = txt.check_route53_txt(txt.route53_txt("a" * 3999))
    assert problem.code == "txt-record-too-large"
    assert str(problem) == "TXT value is 4031 characters as Route53 receives it, over its 4000-character limit per value"
    assert [p.code for p in txt.check_route53_txt('"' + "b" * 4000 + '"')] == ["txt-string-too-long", "txt-record-too-large"]


def test_control_characters_refused():
    with pytest.raises(TxtError) as err:
        txt.split_txt("a\nb")
    assert str(err.value) == "TXT value has control character '\\n' at index 1"
    assert isinstance(err.value, StandardError) and isinstance(err.value, ValueError)


def test_unterminated_quoted_text():
    with pytest.raises(TxtError) as err:
        txt.parse_route53_txt('"abc" "de')
    assert str(err.value) == 'unterminated quoted TXT string: \'"abc" "de\''


def test_cloudflare_forms():
    # Cloudflare documents TXT content as quoted RFC 1035 strings of at most 255 bytes
    value = "x" * 400
    assert txt.cloudflare_txt(value) == '"' + "x" * 255 + '" "' + "x" * 145 + '"'
    assert txt.parse_cloudflare_txt(txt.cloudflare_txt(value)) == ["x" * 255, "x" * 145]
    assert txt.parse_cloudflare_txt(value) == ["x" * 255, "x" * 145]  # a raw value, as Cloudflare splits it
    assert txt.parse_cloudflare_txt('"ab" "cd"') == ["ab", "cd"]
    # no 2048-character limit (not in Cloudflare's documentation): 4,096 wire bytes per record
    long_value = "x" * 3000
    assert txt.check_cloudflare_txt(txt.cloudflare_txt(long_value), "k._domainkey.example.com") == []
    (problem,) = txt.check_cloudflare_txt(txt.cloudflare_txt("x" * 4100), "k._domainkey.example.com")
    assert problem.code == "txt-record-too-large"
    assert str(problem) == (
        "TXT record k._domainkey.example.com is 4153 bytes in wire format, over Cloudflare's 4096-byte limit per record"
    )


@settings(max_examples=100, deadline=None)
@given(TEXT)
def test_split_roundtrip_property(value):
    chunks = txt.split_txt(value)
    assert txt.join_txt(chunks) == value
    assert all(size <= 255 for size in txt.chunk_sizes(chunks))
    assert txt.join_txt(txt.parse_route53_txt(txt.route53_txt(value))) == value
    assert txt.parse_route53_txt(txt.route53_txt(value)) == chunks
    assert txt.check_route53_txt(txt.route53_txt(value)) == []
    strings = _dns_strings(txt.to_rdata_text(value))
    assert [s.decode("utf-8") for s in strings] == chunks
    assert txt.parse_route53_txt(dns.rdata.from_text("IN", "TXT", txt.to_rdata_text(value)).to_text()) == chunks
