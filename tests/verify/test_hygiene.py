"""Sender hygiene in `mailinfra verify` (FCrDNS, HELO, DNSBL) against Knot on loopback:
Knot serves the reverse zones and plays the blocklist; a silent server plays a timeout."""

from __future__ import annotations

from typing import Any

import pytest

from mailinfra.components.config import ConfigError, _relay
from mailinfra.verify import VerifyOptions, run_verify
from mailinfra.policies.mailinfra_policy.standards import dnsbl as dnsbl_std

from .conftest import txt_rdata, zone_text
from .dnsserver import FaultServer

GOOD4, NOMATCH4, LISTED4, ERRCODE4, NOPTR4 = "192.0.2.10", "192.0.2.11", "192.0.2.12", "192.0.2.13", "192.0.2.14"
GOOD6, LISTED6 = "2001:db8::25", "2001:db8::66"
ZONE = "dnsbl.test"


def _label(ip: str, zone: str) -> str:
    return dnsbl_std.query_name(ip, zone)[: -len(zone) - 1]


def zones() -> dict[str, str]:
    rev6 = "8.b.d.0.1.0.0.2.ip6.arpa"
    return {
        "example.com": zone_text(
            "example.com",
            [
                ("relay", "A", GOOD4),
                ("relay", "AAAA", GOOD6),
                ("nomatch", "A", "192.0.2.99"),
                ("listed", "A", LISTED4),
                ("errcode", "A", ERRCODE4),
                ("v6listed", "AAAA", LISTED6),
            ],  # fmt: skip
        ),
        "2.0.192.in-addr.arpa": zone_text(
            "2.0.192.in-addr.arpa",
            [
                ("10", "PTR", "relay.example.com."),
                ("11", "PTR", "nomatch.example.com."),
                ("12", "PTR", "listed.example.com."),
                ("13", "PTR", "errcode.example.com."),
            ],  # fmt: skip
        ),
        rev6: zone_text(
            rev6,
            [
                (dnsbl_std.reverse_name(GOOD6)[: -len(rev6) - 1], "PTR", "relay.example.com."),
                (dnsbl_std.reverse_name(LISTED6)[: -len(rev6) - 1], "PTR", "v6listed.example.com."),
            ],  # fmt: skip
        ),
        ZONE: zone_text(
            ZONE,
            [
                (_label(LISTED4, ZONE), "A", "127.0.0.2"),
                (_label(LISTED4, ZONE), "TXT", txt_rdata("listed: test entry")),
                (_label(ERRCODE4, ZONE), "A", "127.255.255.254"),
                (_label(LISTED6, ZONE), "A", "127.0.0.4"),
            ],  # fmt: skip
        ),
    }


def plan(ips: list[str], helo: str | None = "relay.example.com", dnsbls: list[str] | None = None) -> dict[str, Any]:
    outputs: dict[str, Any] = {"senderIps": ips, "heloName": helo, "dnsbls": dnsbls if dnsbls is not None else [ZONE]}
    return {"stack": "test", "project": "mailinfra", "resources": [], "violations": [], "outputs": outputs}


def verify(nameserver: str, the_plan: dict[str, Any]) -> tuple[dict[tuple[str, str], str], int]:
    options = VerifyOptions(stack="test", plan_data=the_plan, nameservers=(nameserver,), timeout=1.0, progress=False)
    report, code = run_verify(options)
    return {(c.check, c.name): c.status for c in report.checks}, code


@pytest.fixture
def ns(knot) -> str:
    return knot(zones()).nameserver


def test_good_ipv4_and_ipv6_pass_fcrdns_helo_and_dnsbl(ns):
    got, code = verify(ns, plan([GOOD4, GOOD6]))
    for ip in (GOOD4, GOOD6):
        assert got[("fcrdns", ip)] == "pass" and got[("helo-name", ip)] == "pass"
        assert got[("dnsbl", f"{ip} in {ZONE}")] == "pass"
    assert code == 0, got


def test_ptr_that_does_not_resolve_back_fails(ns):
    got, code = verify(ns, plan([NOMATCH4]))
    assert got[("fcrdns", NOMATCH4)] == "fail" and got[("helo-name", NOMATCH4)] == "fail" and code == 1


def test_no_ptr_fails(ns):
    got, _ = verify(ns, plan([NOPTR4]))
    assert got[("fcrdns", NOPTR4)] == "fail"


def test_helo_that_is_not_the_ptr_name_fails(ns):
    got, _ = verify(ns, plan([GOOD4], helo="mail.other.example"))
    assert got[("fcrdns", GOOD4)] == "pass" and got[("helo-name", GOOD4)] == "fail"


def test_undeclared_helo_is_a_warning(ns):
    got, code = verify(ns, plan([GOOD4], helo=None))
    assert got[("helo-name", GOOD4)] == "warn" and code == 0


def test_listed_ipv4_and_ipv6_nibbles_fail(ns):
    got, code = verify(ns, plan([LISTED4, LISTED6]))
    assert got[("dnsbl", f"{LISTED4} in {ZONE}")] == "fail"
    assert got[("dnsbl", f"{LISTED6} in {ZONE}")] == "fail"
    assert code == 1


def test_spamhaus_style_error_code_is_unknown_not_listed(ns):
    got, code = verify(ns, plan([ERRCODE4], helo="errcode.example.com"))
    assert got[("dnsbl", f"{ERRCODE4} in {ZONE}")] == "warn" and code == 0, got


def test_timeout_is_could_not_check(knot):
    server = knot(zones())
    faults = FaultServer(("127.0.0.1", server.port), {"slow.test": "silence"}).start()
    try:
        got, code = verify(faults.nameserver, plan([GOOD4], dnsbls=[ZONE, "slow.test"]))
    finally:
        faults.stop()
    assert got[("dnsbl", f"{GOOD4} in slow.test")] == "error"
    assert got[("dnsbl", f"{GOOD4} in {ZONE}")] == "pass" and code == 1


def test_no_declared_sender_ips_no_hygiene_checks(ns):
    got, _ = verify(ns, plan([]))
    assert not [k for k in got if k[0] in ("fcrdns", "helo-name", "dnsbl")]


def test_query_names_and_classification():
    assert dnsbl_std.query_name("192.0.2.10", "zen.spamhaus.org") == "10.2.0.192.zen.spamhaus.org"
    v6 = dnsbl_std.query_name("2001:db8::1", "zen.spamhaus.org")
    assert v6.startswith("1.0.0.0.") and v6.endswith(".8.b.d.0.1.0.0.2.zen.spamhaus.org") and v6.count(".") == 34
    assert dnsbl_std.classify(["127.0.0.2"]) == ("listed", ("127.0.0.2",))
    for code in ("127.255.255.252", "127.255.255.254", "127.255.255.255", "10.0.0.1", "127.0.0.1"):
        assert dnsbl_std.classify([code])[0] == "unknown"


def test_config_keys_and_defaults():
    cfg = _relay("mailinfra.relay", {"senderIps": [GOOD4], "heloName": "Relay.Example.com", "dnsbls": [ZONE]})
    assert cfg.helo_name == "relay.example.com" and cfg.dnsbls == (ZONE,)
    assert _relay("mailinfra.relay", {}).dnsbls == dnsbl_std.DEFAULT_ZONES
    with pytest.raises(ConfigError, match=r"mailinfra\.relay\.dnsbls\[0\]"):
        _relay("mailinfra.relay", {"dnsbls": ["not a zone"]})
    with pytest.raises(ConfigError, match=r"mailinfra\.relay\.heloName"):
        _relay("mailinfra.relay", {"heloName": "bad name!"})
