"""DMARC (RFC 9989): build, strict and lenient parse, enforcement, report destinations."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailinfra.policies.mailinfra_policy.standards import dmarc
from mailinfra.policies.mailinfra_policy.standards._common import organizational_domain
from mailinfra.policies.mailinfra_policy.standards.errors import DmarcError
from tests.strategies import ADDRESS


def _error(text: str, **kwargs) -> str:
    with pytest.raises(DmarcError) as err:
        dmarc.parse_dmarc(text, **kwargs)
    return str(err.value)


def test_build_minimal_and_full():
    assert dmarc.build_dmarc("none") == "v=DMARC1; p=none"
    text = dmarc.build_dmarc(
        "reject",
        sp="reject",
        np="reject",
        adkim="s",
        aspf="r",
        rua=["dmarc@example.com", "mailto:agg@reports.vendor.net", "dmarc@example.com"],
        ruf=["forensic@example.com"],
        fo="1:d",
        t="n",
        psd="n",
    )
    assert text == (
        "v=DMARC1; p=reject; sp=reject; np=reject; adkim=s; aspf=r; "
        "rua=mailto:dmarc@example.com,mailto:agg@reports.vendor.net; ruf=mailto:forensic@example.com; "
        "fo=1:d; t=n; psd=n"
    )
    record = dmarc.parse_dmarc(text)
    assert record.p == "reject" and record.np == "reject" and record.fo == ("1", "d")
    assert record.rua == ("mailto:dmarc@example.com", "mailto:agg@reports.vendor.net")


def test_defaults_and_inheritance():
    record = dmarc.parse_dmarc("v=DMARC1; p=quarantine")
    assert (record.adkim, record.aspf, record.t, record.psd, record.fo) == ("r", "r", "n", "u", ("0",))
    assert record.subdomain_policy == "quarantine" and record.nonexistent_policy == "quarantine"
    record = dmarc.parse_dmarc("v=DMARC1; p=reject; sp=none")
    assert record.nonexistent_policy == "none"


def test_null_dmarc_parses():
    record = dmarc.parse_dmarc(dmarc.NULL_DMARC)
    assert record.p == "reject" and dmarc.is_enforcing(record)


@pytest.mark.parametrize("tag", ["pct", "rf", "ri"])
def test_removed_tags_flagged(tag):
    assert _error(f"v=DMARC1; p=reject; {tag}=1") == (
        f"DMARC tag '{tag}' was removed by RFC 9989 (pct, rf and ri are gone) (got '{tag}=1')"
    )
    record = dmarc.parse_dmarc(f"v=DMARC1; p=reject; {tag}=1", strict=False)
    assert record.removed_tags == (tag,)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("p=reject; v=DMARC1", "DMARC record must start with 'v=DMARC1' (got 'p=reject')"),
        ("v=DMARC2; p=reject", "DMARC record must start with 'v=DMARC1' (got 'v=DMARC2')"),
        ("v=dmarc1; p=reject", "DMARC record must start with 'v=DMARC1' (got 'v=dmarc1')"),
        ("v=DMARC1; p=block", "DMARC tag 'p' must be none, quarantine or reject (got 'block')"),
        ("v=DMARC1; p=none; sp=maybe", "DMARC tag 'sp' must be none, quarantine or reject (got 'maybe')"),
        ("v=DMARC1; p=none; np=x", "DMARC tag 'np' must be none, quarantine or reject (got 'x')"),
        ("v=DMARC1; p=none; adkim=strict", "DMARC tag 'adkim' must be r or s (got 'strict')"),
        ("v=DMARC1; p=none; aspf=x", "DMARC tag 'aspf' must be r or s (got 'x')"),
        ("v=DMARC1; p=none; t=yes", "DMARC tag 't' must be y or n (got 'yes')"),
        ("v=DMARC1; p=none; psd=maybe", "DMARC tag 'psd' must be y, n or u (got 'maybe')"),
        ("v=DMARC1; p=none; fo=2", "DMARC tag 'fo' has unknown option '2' (allowed: 0, 1, d, s)"),
        ("v=DMARC1; p=none; fo=1:1", "DMARC tag 'fo' repeats an option (got '1:1')"),
        (
            "v=DMARC1; p=none; rua=https://r.example.com",
            "DMARC tag 'rua': report URI 'https://r.example.com' must be a mailto: URI",
        ),
        ("v=DMARC1; p=none; ruf=mailto:nobody", "DMARC tag 'ruf': 'mailto:nobody' is not a valid mailto: address"),
        ("v=DMARC1; p=none; rua=", "DMARC tag 'rua' is empty"),
        ("v=DMARC1; p=none; foo=bar", "DMARC tag 'foo' is not an RFC 9989 tag (got 'foo=bar')"),
        ("v=DMARC1; p=none; p=reject", "DMARC tag 'p' appears more than once"),
        ("v=DMARC1; rua=mailto:a@example.com", "DMARC record has no 'p' tag (none, quarantine or reject)"),
    ],
)
def test_parse_errors(text, message):
    assert _error(text) == message


def test_lenient_mode_follows_rfc_9989_4_7():
    record = dmarc.parse_dmarc("v=DMARC1; rua=mailto:a@example.com; foo=bar; pct=50", strict=False)
    assert record.p is None and record.policy == "none"
    assert record.unknown_tags == ("foo",) and record.removed_tags == ("pct",)
    # syntax errors in known tags still raise
    assert _error("v=DMARC1; p=block", strict=False) == "DMARC tag 'p' must be none, quarantine or reject (got 'block')"


def test_legacy_size_suffix_is_tolerated():
    record = dmarc.parse_dmarc("v=DMARC1; p=none; rua=mailto:a@example.com!10m")
    assert record.rua == ("mailto:a@example.com",)


def test_values_case_insensitive_and_whitespace():
    record = dmarc.parse_dmarc("v=DMARC1 ;p = Reject ; rua = mailto:a@example.com , mailto:b@example.org ;")
    assert record.p == "reject"
    assert record.rua == ("mailto:a@example.com", "mailto:b@example.org")


def test_is_enforcing():
    assert dmarc.is_enforcing(dmarc.parse_dmarc("v=DMARC1; p=reject"))
    assert dmarc.is_enforcing(dmarc.parse_dmarc("v=DMARC1; p=quarantine; t=n"))
    assert not dmarc.is_enforcing(dmarc.parse_dmarc("v=DMARC1; p=quarantine; t=y"))
    assert not dmarc.is_enforcing(dmarc.parse_dmarc("v=DMARC1; p=none"))
    assert not dmarc.is_enforcing(dmarc.parse_dmarc("v=DMARC1; rua=mailto:a@example.com", strict=False))


def test_policy_at_least():
    assert dmarc.policy_at_least("reject", "quarantine")
    assert dmarc.policy_at_least("quarantine", "quarantine")
    assert not dmarc.policy_at_least("none", "quarantine")


def test_external_destinations_and_auth_record():
    record = dmarc.parse_dmarc(
        "v=DMARC1; p=reject; rua=mailto:a@example.com,mailto:b@reports.example.com,mailto:c@vendor.net; "
        "ruf=mailto:d@vendor.net,mailto:e@other.co.uk"
    )
    assert dmarc.report_domains(record) == ["example.com", "reports.example.com", "vendor.net", "other.co.uk"]
    assert dmarc.external_destinations("mail.example.com", record) == ["vendor.net", "other.co.uk"]
    assert dmarc.report_auth_record("example.com", "vendor.net") == (
        "example.com._report._dmarc.vendor.net",
        "v=DMARC1",
    )


def test_organizational_domain_heuristic():
    assert organizational_domain("a.b.example.com") == "example.com"
    assert organizational_domain("mail.example.co.uk") == "example.co.uk"
    assert organizational_domain("example.com.") == "example.com"


def test_build_errors():
    with pytest.raises(DmarcError) as err:
        dmarc.build_dmarc("reject", rua="a@example.com")
    assert str(err.value) == "DMARC rua and ruf must be lists of URIs, not one string"
    with pytest.raises(DmarcError) as err:
        dmarc.build_dmarc("reject", rua=["a,b@example.com"])
    assert str(err.value) == "DMARC tag 'rua': report URI 'a,b@example.com' contains ',', '!', ';' or a space"
    with pytest.raises(DmarcError) as err:
        dmarc.build_dmarc("monitor")
    assert str(err.value) == "DMARC tag 'p' must be none, quarantine or reject (got 'monitor')"


def test_check_dmarc():
    good = "v=DMARC1; p=reject; rua=mailto:a@example.com"
    assert dmarc.check_dmarc(good, min_policy="reject") == []
    assert dmarc.check_dmarc("v=DMARC1; p=reject; sp=none; rua=mailto:a@example.com", min_policy="quarantine") == [
        "DMARC tag 'sp' is 'none', weaker than the required 'quarantine'",
        "DMARC tag 'np' is 'none', weaker than the required 'quarantine'",
    ]
    assert dmarc.check_dmarc("v=DMARC1; p=reject; t=y; rua=mailto:a@example.com", min_policy="reject") == [
        "DMARC tag 't=y' puts the policy in testing mode; receivers apply one level less"
    ]
    assert dmarc.check_dmarc("v=DMARC1; p=none") == ["DMARC record has no 'rua' (no aggregate reports)"]
    assert dmarc.check_dmarc("v=DMARC1; p=none; pct=100")[0].startswith("DMARC tag 'pct' was removed by RFC 9989")


POLICY = st.sampled_from(dmarc.POLICIES)
OPT = lambda values: st.none() | st.sampled_from(values)  # noqa: E731


@settings(max_examples=100, deadline=None)
@given(
    p=POLICY,
    sp=OPT(dmarc.POLICIES),
    np=OPT(dmarc.POLICIES),
    adkim=OPT(("r", "s")),
    t=OPT(("y", "n")),
    psd=OPT(("y", "n", "u")),
    rua=st.lists(ADDRESS, max_size=4),
    ruf=st.lists(ADDRESS, max_size=2),
    fo=st.none() | st.permutations(["0", "1", "d", "s"]).map(lambda items: ":".join(items[:2])),
)
def test_build_parse_roundtrip_property(p, sp, np, adkim, t, psd, rua, ruf, fo):
    text = dmarc.build_dmarc(p, sp=sp, np=np, adkim=adkim, rua=rua, ruf=ruf, fo=fo, t=t, psd=psd)
    record = dmarc.parse_dmarc(text)
    assert record.p == p and record.sp == sp and record.np == np
    assert record.adkim == (adkim or "r") and record.t == (t or "n") and record.psd == (psd or "u")
    assert record.rua == tuple(dict.fromkeys(f"mailto:{a}" for a in rua))
    assert dmarc.is_enforcing(record) == (p != "none" and t != "y")
    for dest in dmarc.external_destinations("example.com", record):
        assert organizational_domain(dest) != "example.com"
        name, value = dmarc.report_auth_record("example.com", dest)
        assert name == f"example.com._report._dmarc.{dest}" and value == "v=DMARC1"
