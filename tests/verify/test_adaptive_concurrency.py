"""verify's adaptive DNS concurrency: the controller (AdaptiveLimit), its gate, and a
run through the delay proxy in front of Knot (tests/verify/delayproxy.py)."""

from __future__ import annotations

import asyncio

from mailinfra.verify.resolver import AdaptiveLimit, DnsClient, Nameserver, _Gate

from .conftest import txt_rdata, zone_text
from .delayproxy import DelayProxy

RTT = 0.040


# ----------------------------------------------------------------------------- controller


def test_slow_start_doubles_per_round_trip_up_to_the_cap() -> None:
    limit = AdaptiveLimit(16, 100)
    for _ in range(16):  # one round trip's worth of answers at the initial limit
        limit.on_sample(RTT)
    assert limit.current() == 32
    for _ in range(500):
        limit.on_sample(RTT)
    assert limit.current() == 100  # the cap, never above
    assert limit.peak == 100
    assert limit.decreases == 0


def test_no_growth_without_demand() -> None:
    limit = AdaptiveLimit(16, 100)
    for _ in range(200):
        limit.on_sample(RTT, saturated=False)
    assert limit.current() == 16


def test_initial_above_the_cap_starts_at_the_cap() -> None:
    assert AdaptiveLimit(16, 4).current() == 4
    assert AdaptiveLimit(16, 1).current() == 1


def test_a_timeout_halves_once_per_round_trip_then_growth_is_additive() -> None:
    limit = AdaptiveLimit(64, 256)
    limit.on_sample(RTT)
    limit.on_sample(RTT, timed_out=True)
    assert limit.current() == 32
    for _ in range(5):  # the same loss burst: no further halving within one window
        limit.on_sample(RTT, timed_out=True)
    assert limit.current() == 32
    assert limit.timeouts == 6
    for _ in range(40):
        limit.on_sample(RTT)
    before = limit.current()
    for _ in range(before):  # congestion avoidance: about +1 per round trip of answers
        limit.on_sample(RTT)
    assert limit.current() in (before, before + 1)
    assert not limit.slow_start


def test_rising_latency_shrinks_the_limit_and_it_recovers() -> None:
    limit = AdaptiveLimit(16, 256)
    for _ in range(64):
        limit.on_sample(RTT)
    grown = limit.current()
    assert grown > 16
    for _ in range(400):  # a queue builds: every answer takes three times the base RTT
        limit.on_sample(3 * RTT)
    shrunk = limit.current()
    assert shrunk < grown
    assert limit.decreases >= 2
    for _ in range(2000):  # the queue drains
        limit.on_sample(RTT)
    assert limit.current() > shrunk


def test_latency_within_tolerance_is_not_congestion() -> None:
    limit = AdaptiveLimit(16, 256)
    limit.on_sample(RTT)
    for i in range(300):  # jitter within 2x base + slack
        limit.on_sample(RTT * (1.0 + 0.4 * (i % 2)))
    assert limit.decreases == 0
    assert limit.current() == 256


# ----------------------------------------------------------------------------- gate


def test_gate_never_exceeds_the_limit_and_follows_growth() -> None:
    async def run() -> tuple[int, int, int]:
        limit = AdaptiveLimit(2, 8)
        gate = _Gate(limit)
        peak = 0

        async def worker() -> None:
            nonlocal peak
            saturated = await gate.acquire()
            peak = max(peak, gate.in_flight)
            assert gate.in_flight <= limit.current()
            await asyncio.sleep(0.005)
            limit.on_sample(0.005, saturated=saturated)
            gate.release()

        await asyncio.gather(*(worker() for _ in range(60)))
        return peak, gate.in_flight, limit.current()

    peak, left, final = asyncio.run(run())
    assert left == 0
    assert peak > 2  # grew while the queue was full
    assert peak <= 8 and final <= 8


def test_a_cancelled_waiter_does_not_leak_a_slot() -> None:
    async def run() -> int:
        gate = _Gate(AdaptiveLimit(1, 1))
        await gate.acquire()
        waiter = asyncio.ensure_future(gate.acquire())
        await asyncio.sleep(0)
        gate.release()  # hands the slot to the waiter ...
        waiter.cancel()  # ... which is cancelled before it runs
        await asyncio.gather(waiter, return_exceptions=True)
        await asyncio.wait_for(gate.acquire(), 1.0)  # the slot came back
        return gate.in_flight

    assert asyncio.run(run()) == 1


# ----------------------------------------------------------------------------- through the delay proxy


def _fleet_zone(n: int) -> dict[str, str]:
    records = []
    for i in range(n):
        records.append((f"d{i}", "TXT", txt_rdata("v=spf1 include:amazonses.com -all")))
        records.append((f"_dmarc.d{i}", "TXT", txt_rdata(f"v=DMARC1; p=reject; rua=mailto:dmarc@d{i}.fleet.test")))
        records.append((f"d{i}", "MX", f"10 feedback-smtp.d{i}.fleet.test."))
    return {"fleet.test": zone_text("fleet.test", records)}


def test_through_the_delay_proxy_concurrency_grows_and_nothing_times_out(knot) -> None:
    domains = 40
    server = knot(_fleet_zone(domains))
    questions = [(f"{p}d{i}.fleet.test", t) for i in range(domains) for p, t in (("", "TXT"), ("_dmarc.", "TXT"), ("", "MX"))]
    questions += [(f"nx{i}.fleet.test", "TXT") for i in range(domains)]
    with DelayProxy("127.0.0.1", server.port, RTT) as proxy:

        async def run() -> tuple[DnsClient, list[str]]:
            client = DnsClient([Nameserver("127.0.0.1", proxy.port)], timeout=2.0, concurrency=64, initial=4)
            answers = await asyncio.gather(*(client.query(name, rdtype) for name, rdtype in questions))
            return client, [a.status for a in answers]

        client, statuses = asyncio.run(run())
        forwarded = proxy.sent
    assert statuses == ["ok"] * (3 * domains) + ["nxdomain"] * domains
    assert client.limit.timeouts == 0  # no timeout, no retransmission
    assert client.limit.peak > 4  # the limit grew past where it started
    assert client.limit.base >= RTT  # the measured round trip includes the proxy's delay
    assert forwarded == len(questions)  # one datagram per question: nothing was asked again


def test_queued_questions_do_not_time_out(knot) -> None:
    """Timeouts count from when a question is sent: with one slot, eight questions at
    0.15 s RTT wait 1.05 s in the queue, past the 0.5 s timeout, and all are answered."""
    server = knot(_fleet_zone(8))
    with DelayProxy("127.0.0.1", server.port, 0.15) as proxy:

        async def run() -> list[str]:
            client = DnsClient([Nameserver("127.0.0.1", proxy.port)], timeout=0.5, concurrency=1)
            answers = await asyncio.gather(*(client.query(f"d{i}.fleet.test", "TXT") for i in range(8)))
            return [a.status for a in answers]

        assert asyncio.run(run()) == ["ok"] * 8
