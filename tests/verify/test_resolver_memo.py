"""DnsClient(memo=True): one run asks each question once; errors are asked again."""

from __future__ import annotations

import asyncio

import dns.rcode

from mailinfra.verify.resolver import DnsClient, Nameserver

from .dnsserver import ZoneServer


def test_memo_asks_each_question_once_and_retries_errors() -> None:
    server = ZoneServer().start()
    try:
        server.set_records(
            {"a.example": [("TXT", "v=spf1 -all")]},
            rcode_for={"bad.example": dns.rcode.SERVFAIL},
        )

        async def run() -> tuple[DnsClient, list[str]]:
            client = DnsClient([Nameserver("127.0.0.1", server.port)], timeout=1.0, concurrency=4, memo=True)
            answers = await asyncio.gather(*(client.query("A.example.", "txt") for _ in range(5)))
            again = await client.query("a.example", "TXT")
            bad1 = await client.query("bad.example", "TXT")
            bad2 = await client.query("bad.example", "TXT")
            return client, [a.status for a in [*answers, again, bad1, bad2]]

        client, statuses = asyncio.run(run())
        assert statuses == ["ok"] * 6 + ["error", "error"]
        assert client.queries == 3  # a.example once; bad.example twice (errors are not kept)
    finally:
        server.stop()


def test_without_memo_every_question_is_asked() -> None:
    server = ZoneServer().start()
    try:
        server.set_records({"a.example": [("TXT", "v=spf1 -all")]})

        async def run() -> DnsClient:
            client = DnsClient([Nameserver("127.0.0.1", server.port)], timeout=1.0)
            for _ in range(3):
                await client.query("a.example", "TXT")
            return client

        assert asyncio.run(run()).queries == 3
    finally:
        server.stop()
