"""The openspf RFC 7208 test suite (release 2014.04) through verify's check_host().

Each section's ``zonedata`` is served on loopback by an in-process dnslib server (it
can leave a question unanswered for the suite's TIMEOUT entries); every lookup goes
over real UDP through verify's DnsClient. A test matches when the result is the
expected one or one of the listed alternatives and, where the suite gives one, the
explanation is equal (pyspf's driver convention: default explanation "DEFAULT").
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import yaml  # type: ignore[import-untyped]

from mailinfra.verify.resolver import DnsClient, Nameserver
from mailinfra.verify.spf import check_host

from .dnsserver import ZoneServer

SUITE = os.path.join(os.path.dirname(__file__), "..", "data", "rfc7208-tests.yml")

# Every mismatch, with its reason. The test asserts the mismatches equal this exactly.
EXPECTED_FAILURES: dict[str, str] = {
    "null-text": (
        "the zone data holds a TXT record with no character-strings (illegal, RFC 1035 3.3.14); "
        "served for real on the wire, dnspython rejects the malformed answer and waits for a valid one, "
        "so the lookup times out: temperror instead of pass"
    ),
}

TOTAL_TESTS = 203


def _load() -> list[dict[str, Any]]:
    with open(SUITE, "rb") as f:
        return [doc for doc in yaml.safe_load_all(f) if doc]


async def _run_suite() -> tuple[int, dict[str, str]]:
    server = ZoneServer().start()
    client = DnsClient([Nameserver("127.0.0.1", server.port)], timeout=0.3, concurrency=8)
    matched = 0
    mismatches: dict[str, str] = {}
    try:
        for section in _load():
            server.load_openspf(section.get("zonedata") or {})
            for test_id, t in section["tests"].items():
                result = await check_host(
                    client,
                    t["host"],
                    t["mailfrom"],
                    t["helo"],
                    default_explanation="DEFAULT",
                )
                wanted = t["result"] if isinstance(t["result"], list) else [t["result"]]
                ok = result.result in wanted
                if ok and "explanation" in t and t["explanation"] != result.explanation:
                    ok = False
                if ok:
                    matched += 1
                else:
                    mismatches[test_id] = f"expected {wanted} got {result.result} ({result.explanation})"
    finally:
        server.stop()
    return matched, mismatches


def test_openspf_rfc7208_suite() -> None:
    matched, mismatches = asyncio.run(_run_suite())
    assert matched + len(mismatches) == TOTAL_TESTS
    assert set(mismatches) == set(EXPECTED_FAILURES), mismatches
    assert matched == TOTAL_TESTS - len(EXPECTED_FAILURES)  # 202 of 203
