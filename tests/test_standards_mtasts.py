"""MTA-STS (RFC 8461): policy file, TXT record, id derivation, mx matching."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailinfra.policies.mailinfra_policy.standards import mtasts
from mailinfra.policies.mailinfra_policy.standards.errors import MtaStsError
from tests.strategies import LABEL, hosts


def test_build_policy_exact_text():
    text = mtasts.build_policy("enforce", ["mx1.example.com", "*.mail.example.com", "MX1.example.com."], 604800)
    assert text == ("version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmx: *.mail.example.com\r\nmax_age: 604800\r\n")
    policy = mtasts.parse_policy(text)
    assert policy == mtasts.MtaStsPolicy("enforce", 604800, ("mx1.example.com", "*.mail.example.com"))


def test_parse_accepts_lf_and_ignores_unknown_keys():
    policy = mtasts.parse_policy("version: STSv1\nmode: testing\nmx: mx.example.com\nmax_age: 86400\nfoo: bar")
    assert policy.mode == "testing" and policy.mx == ("mx.example.com",)


def test_mode_none_needs_no_mx():
    assert mtasts.parse_policy(mtasts.build_policy("none", [], 0)).mx == ()


def test_max_age_bounds():
    assert mtasts.parse_policy(mtasts.build_policy("testing", ["mx.example.com"], 0)).max_age == 0
    assert mtasts.parse_policy(mtasts.build_policy("testing", ["mx.example.com"], 31557600)).max_age == 31557600
    with pytest.raises(MtaStsError) as err:
        mtasts.build_policy("testing", ["mx.example.com"], 31557601)
    assert str(err.value) == "MTA-STS max_age must be an integer 0..31557600 (got 31557601)"
    with pytest.raises(MtaStsError) as err:
        mtasts.build_policy("testing", ["mx.example.com"], -1)
    assert str(err.value) == "MTA-STS max_age must be an integer 0..31557600 (got -1)"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "version: STSv2\r\nmode: enforce\r\nmx: a.example.com\r\nmax_age: 1\r\n",
            "MTA-STS policy field 'version' must be 'STSv1' (got 'STSv2')",
        ),
        (
            "version: STSv1\r\nmode: strict\r\nmx: a.example.com\r\nmax_age: 1\r\n",
            "MTA-STS mode must be enforce, testing or none (got 'strict')",
        ),
        ("version: STSv1\r\nmode: enforce\r\nmax_age: 1\r\n", "MTA-STS policy in mode 'enforce' has no 'mx' field"),
        ("version: STSv1\r\nmode: enforce\r\nmx: a.example.com\r\n", "MTA-STS policy has no 'max_age' field"),
        ("version: STSv1\r\nmx: a.example.com\r\nmax_age: 1\r\n", "MTA-STS policy has no 'mode' field"),
        (
            "version: STSv1\r\nmode: enforce\r\nmx: a.example.com\r\nmax_age: 1d\r\n",
            "MTA-STS max_age must be an integer 0..31557600 (got '1d')",
        ),
        (
            "version: STSv1\r\nmode: enforce\r\nmode: none\r\nmx: a.example.com\r\nmax_age: 1\r\n",
            "MTA-STS policy field 'mode' appears more than once",
        ),
        (
            "version: STSv1\r\nmode: enforce\r\nmx: mail.*.example.com\r\nmax_age: 1\r\n",
            "MTA-STS mx pattern 'mail.*.example.com' is not valid: a host name, '*.' allowed only as the leftmost label",
        ),
        ("version: STSv1\r\njunk\r\n", "MTA-STS policy line 2 is not 'key: value' (got 'junk')"),
    ],
)
def test_parse_policy_errors(text, message):
    with pytest.raises(MtaStsError) as err:
        mtasts.parse_policy(text)
    assert str(err.value) == message


def test_policy_id_deterministic_and_changes_with_policy():
    a = mtasts.build_policy("testing", ["mx.example.com"], 86400)
    b = mtasts.build_policy("enforce", ["mx.example.com"], 86400)
    assert mtasts.policy_id(a) == mtasts.policy_id(a)
    assert mtasts.policy_id(a) != mtasts.policy_id(b)
    assert len(mtasts.policy_id(a)) == 32 and mtasts.policy_id(a).isalnum()


def test_txt_build_parse():
    assert mtasts.build_txt("abc123") == "v=STSv1; id=abc123"
    assert mtasts.parse_txt("v=STSv1; id=abc123;").id == "abc123"
    assert mtasts.parse_txt("v=STSv1; id=abc; ext=1").extensions == (("ext", "1"),)
    with pytest.raises(MtaStsError) as err:
        mtasts.build_txt("a" * 33)
    assert str(err.value) == f"MTA-STS id must be 1..32 letters or digits (got {'a' * 33!r})"
    with pytest.raises(MtaStsError) as err:
        mtasts.parse_txt("v=STSv1; id=ab-c")
    assert str(err.value) == "MTA-STS tag 'id' must be 1..32 letters or digits (got 'ab-c')"
    with pytest.raises(MtaStsError) as err:
        mtasts.parse_txt("id=abc; v=STSv1")
    assert str(err.value) == "MTA-STS record must start with 'v=STSv1' (got 'id=abc')"
    with pytest.raises(MtaStsError) as err:
        mtasts.parse_txt("v=STSv1")
    assert str(err.value) == "MTA-STS record has no 'id' tag"


def test_mx_matches():
    assert mtasts.mx_matches("mx.example.com", "MX.example.com.")
    assert mtasts.mx_matches("*.example.com", "mx1.example.com")
    assert not mtasts.mx_matches("*.example.com", "a.b.example.com")
    assert not mtasts.mx_matches("*.example.com", "example.com")
    assert not mtasts.mx_matches("mx.example.com", "mx.example.org")


def test_check_policy():
    text = mtasts.build_policy("enforce", ["*.mail.example.com"], 604800)
    assert mtasts.check_policy(text, mode="enforce", mx_hosts=["in1.mail.example.com"]) == []
    assert mtasts.check_policy(text, mode="testing", mx_hosts=["mx.other.net"]) == [
        "MTA-STS mode is 'enforce', expected 'testing'",
        "MTA-STS policy has no mx pattern matching MX host 'mx.other.net'",
    ]
    short = mtasts.build_policy("enforce", ["mx.example.com"], 3600)
    assert mtasts.check_policy(short) == ["MTA-STS max_age 3600 is under one day for an enforce policy"]


def test_names():
    assert mtasts.txt_name("Example.com") == "_mta-sts.example.com"
    assert mtasts.policy_url("example.com") == "https://mta-sts.example.com/.well-known/mta-sts.txt"


HOST = hosts("com")
PATTERN = HOST | HOST.map(lambda h: f"*.{h}")


@settings(max_examples=100, deadline=None)
@given(
    mode=st.sampled_from(["enforce", "testing"]),
    patterns=st.lists(PATTERN, min_size=1, max_size=5),
    max_age=st.integers(0, mtasts.MAX_AGE_MAX),
    label=LABEL,
)
def test_policy_roundtrip_property(mode, patterns, max_age, label):
    text = mtasts.build_policy(mode, patterns, max_age)
    assert all(line.endswith("\r") for line in text.split("\n")[:-1])
    policy = mtasts.parse_policy(text)
    assert policy.mode == mode and policy.max_age == max_age
    assert policy.mx == tuple(dict.fromkeys(patterns))
    for pattern in policy.mx:
        host = f"{label}.{pattern[2:]}" if pattern.startswith("*.") else pattern
        assert policy.matches(host)
    record = mtasts.parse_txt(mtasts.build_txt(mtasts.policy_id(text)))
    assert record.id == mtasts.policy_id(text)
