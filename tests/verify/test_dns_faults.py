"""verify under DNS faults (issue 12): no usable answer means "could not check", never "fail".

The good world is served by Knot; a fault-injecting server (tests/verify/dnsserver.py,
``FaultServer``) sits in front of it, forwards every question and breaks the ones
about the DKIM key and the MTA-STS policy host. The checks that depend on those
answers (``dkim-sign``, ``mta-sts-policy``) must say ``error`` ("could not check: ...").
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from mailinfra.verify import Report, run_verify
from mailinfra.verify.resolver import DnsClient, Nameserver

from .conftest import DOMAIN, SELECTOR, options
from .dnsserver import FAULTS, FaultServer
from .test_verify_live import only

DKIM_NAME = f"{SELECTOR}._domainkey.{DOMAIN}"
POLICY_HOST = f"mta-sts.{DOMAIN}"
NO_ANSWER = [f for f in FAULTS if f != "endless-cname"]


@pytest.fixture
def faulty(knot, world, pki, https_server, smtp_servers, tmp_path):
    key = tmp_path / "dkim.pem"
    key.write_bytes(pki.dkim_private_pem)
    upstream = knot(world.zone_files())
    started: list[FaultServer] = []

    def run(faults: dict[str, str], *, delay: float = 3.0, timeout: float = 0.5) -> tuple[Report, int, FaultServer]:
        server = FaultServer(("127.0.0.1", upstream.port), faults, delay=delay).start()
        started.append(server)
        opts = options(
            world,
            server.nameserver,
            pki,
            https_server,
            smtp_servers,
            timeout=timeout,
            dkim_key=str(key),
            dkim_selector=SELECTOR,
        )
        report, code = run_verify(opts)
        return report, code, server

    yield run
    for server in started:
        server.stop()


def _not_passing(report: Report) -> dict[tuple[str, str], Any]:
    return {(c.check, c.name): c for c in report.checks if c.status != "pass"}


@pytest.mark.parametrize("fault", NO_ANSWER)
def test_no_usable_answer_is_could_not_check(faulty, fault):
    report, code, server = faulty({DKIM_NAME: fault, POLICY_HOST: fault})
    bad = _not_passing(report)
    label = next(c.name for c in report.checks if c.check == "mta-sts-policy")
    assert set(bad) == {
        ("record", DKIM_NAME),
        ("record", POLICY_HOST),
        ("dkim-key", DKIM_NAME),
        ("dkim-sign", DKIM_NAME),
        ("mta-sts-policy", label),
    }, report.to_text()
    assert all(c.status == "error" for c in bad.values()), report.to_text()
    for check, name in (("dkim-sign", DKIM_NAME), ("mta-sts-policy", label)):
        assert bad[(check, name)].message.startswith("could not check: "), report.to_text()
    assert code == 1
    # the fault really was met (and, for truncation, the TCP retry too)
    asked = {(t, n) for t, n, _ in server.asked}
    assert ("udp", DKIM_NAME) in asked
    if fault.startswith("truncate"):
        assert ("tcp", DKIM_NAME) in asked


def test_truncation_reasons_name_what_happened(faulty):
    report, _, _ = faulty({DKIM_NAME: "truncate-garbage", POLICY_HOST: "truncate-eof"})
    key = only(report, "dkim-key", DKIM_NAME)[0]
    assert "truncated answer (TC)" in key.message and "over TCP" in key.message
    record = only(report, "record", POLICY_HOST)[0]
    assert "connection closed without an answer" in record.message


def test_slow_answer_within_the_timeout_is_fine(faulty):
    report, code, _ = faulty({DKIM_NAME: "slow", POLICY_HOST: "slow"}, delay=0.3, timeout=2.0)
    assert _not_passing(report) == {}, report.to_text()
    assert code == 0


def test_endless_cname_chain_is_a_chain_too_long(faulty):
    report, code, _ = faulty({DKIM_NAME: "endless-cname"})
    key = only(report, "dkim-key", DKIM_NAME)[0]
    assert key.status == "error" and "CNAME chain too long" in key.message, report.to_text()
    assert "no TXT record" not in key.message
    record = only(report, "record", DKIM_NAME)[0]
    assert record.status == "error" and "CNAME chain too long" in record.message
    sign = only(report, "dkim-sign", DKIM_NAME)[0]
    assert sign.status == "error" and sign.message.startswith("could not check: ")
    assert code == 1


def test_cname_loop_across_servers_ends(knot):
    """a -> b -> a where each server stops at its zone's edge: an error, never a hang."""
    server = knot(
        {
            "one.example": "$ORIGIN one.example.\n$TTL 60\n@ SOA ns hm 1 60 60 60 60\n@ NS ns\nns A 127.0.0.1\n"
            "a CNAME b.two.example.\n",
            "two.example": "$ORIGIN two.example.\n$TTL 60\n@ SOA ns hm 1 60 60 60 60\n@ NS ns\nns A 127.0.0.1\n"
            "b CNAME a.one.example.\n",
        }
    )

    async def ask() -> Any:
        client = DnsClient([Nameserver("127.0.0.1", server.port)], timeout=1.0, memo=True)
        return await asyncio.wait_for(client.query("a.one.example", "TXT"), 10)

    answer = asyncio.run(ask())
    assert answer.status == "error" and "CNAME loop" in answer.reason
    assert "a.one.example -> b.two.example -> a.one.example" in answer.reason
