"""DNS for `mailinfra verify`: questions through ``verify.transport`` (shared UDP sockets,
TCP on truncation, dnspython messages), a per-query timeout and an adaptive concurrency
limit.

Every DNS question verify asks goes through :class:`DnsClient`: the declared records,
the SPF include tree (pyspf's lookups are routed here, see ``verify.spf``), and the
addresses of the hosts verify connects to (``mta-sts.<domain>``, MX and relay hosts).
With ``--nameserver`` the client asks only those servers, else the system resolver's.

A query never raises for a DNS outcome: :class:`DnsAnswer` carries ``ok``, ``nodata``,
``nxdomain`` or ``error`` with a one-line reason. ``error`` means no usable answer came
(timeout, SERVFAIL, REFUSED, truncation then a failed TCP retry, malformed answers,
unreachable server, bad name, a CNAME loop or a chain over ``_MAX_CNAME_HOPS``): the
record may well exist, so checks say "could not check", never "missing".
"""

from __future__ import annotations

import asyncio
import collections
import functools
import ipaddress
import math
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.nameserver
import dns.rcode
import dns.rdatatype
import dns.resolver
import dns.rrset

from .errors import VerifyInputError
from .transport import Exchange, Transport, question_wire

_MAX_CNAME_HOPS = 8

__all__ = [
    "INITIAL_CONCURRENCY",
    "AdaptiveLimit",
    "DnsAnswer",
    "DnsClient",
    "HostLookup",
    "Nameserver",
    "parse_hostport",
    "parse_nameserver",
]

# questions in flight when a run starts; the limit then adapts up to --concurrency
INITIAL_CONCURRENCY = 16


@dataclass(frozen=True)
class Nameserver:
    host: str  # an IP address
    port: int = 53

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_hostport(value: str, default_port: int, what: str) -> tuple[str, int]:
    """``HOST``, ``HOST:PORT``, ``[V6]:PORT`` or a bare IPv6 address -> (host, port).

    Raises VerifyInputError naming ``what`` and the bad value.
    """
    text = (value or "").strip()
    if not text:
        raise VerifyInputError(f"{what}: empty value")
    host, port_text = text, ""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise VerifyInputError(f"{what}: unclosed '[' in {value!r}")
        host, rest = text[1:end], text[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise VerifyInputError(f"{what}: expected ':PORT' after ']' in {value!r}")
            port_text = rest[1:]
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    elif text.count(":") > 1:
        try:
            ipaddress.IPv6Address(text)
        except ValueError:
            raise VerifyInputError(f"{what}: {value!r} is not HOST[:PORT] (write IPv6 as [ADDR]:PORT)") from None
    port = default_port
    if port_text != "" or text.endswith(":"):
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise VerifyInputError(f"{what}: port must be 1..65535 (got {port_text!r} in {value!r})")
        port = int(port_text)
    host = host.strip().rstrip(".")
    if not host or any(c.isspace() for c in host) or "/" in host:
        raise VerifyInputError(f"{what}: bad host in {value!r}")
    return host, port


def parse_nameserver(value: str) -> Nameserver:
    """Parse ``--nameserver HOST[:PORT]``; a host name is resolved once by the system."""
    host, port = parse_hostport(value, 53, "--nameserver")
    try:
        ipaddress.ip_address(host)
        return Nameserver(host, port)
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except (OSError, UnicodeError) as exc:
        raise VerifyInputError(f"--nameserver: cannot resolve {host!r}: {exc}") from None
    return Nameserver(str(infos[0][4][0]), port)


@dataclass(frozen=True)
class HostLookup:
    addresses: list[str]
    status: str  # "ok" | "nxdomain" | "nodata" | "error"
    reason: str = ""


@dataclass(frozen=True)
class DnsAnswer:
    """Outcome of one question. ``texts`` are the rdata of the answer's final RRset in
    presentation form; TXT rdata are given as their strings joined (see ``txt``)."""

    name: str
    rdtype: str
    status: str  # "ok" | "nodata" | "nxdomain" | "error"
    reason: str = ""
    rrset: dns.rrset.RRset | None = None
    response: dns.message.Message | None = field(default=None, repr=False)
    cname_loop: bool = False  # the answer's CNAME chain loops or is too long (response kept)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def empty(self) -> bool:
        """NOERROR without data, or NXDOMAIN (a "void" answer in RFC 7208 terms)."""
        return self.status in ("nodata", "nxdomain")

    def texts(self) -> list[str]:
        if self.rrset is None:
            return []
        if self.rdtype in ("TXT", "SPF"):
            return self.txt()
        return [rd.to_text() for rd in self.rrset]

    def txt(self) -> list[str]:
        """TXT values: each record's character-strings joined (RFC 7208 3.3), decoded as UTF-8."""
        if self.rrset is None:
            return []
        return [b"".join(rd.strings).decode("utf-8", "replace") for rd in self.rrset]

    def txt_bytes(self) -> list[list[bytes]]:
        if self.rrset is None:
            return []
        return [list(rd.strings) for rd in self.rrset]

    def describe(self) -> str:
        """A short human phrase for messages: 'NXDOMAIN', 'no TXT record', the error reason."""
        if self.status == "nxdomain":
            return f"NXDOMAIN for {self.name}"
        if self.status == "nodata":
            return f"no {self.rdtype} record at {self.name}"
        if self.status == "error":
            return self.reason
        return f"{len(self.rrset or [])} {self.rdtype} record(s)"


def _what(exc: object) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, dns.exception.Timeout):
        return "timeout"
    if isinstance(exc, dns.message.Truncated):
        return "truncated answer (TC)"
    if isinstance(exc, EOFError):
        return "connection closed without an answer"
    return str(exc).strip() or type(exc).__name__


def _errors_reason(errors: Sequence[tuple[str, bool, object]]) -> str:
    """What each server did, e.g. "SERVFAIL from 127.0.0.1:53; truncated answer (TC) ..."."""
    parts = [f"{_what(what)} from {server}{' over TCP' if tcp else ''}" for server, tcp, what in errors]
    return "; ".join(dict.fromkeys(parts)) or "all nameservers failed"


def _system_nameservers() -> list[tuple[str, int]]:
    """The system resolver's nameservers (/etc/resolv.conf), as (address, port)."""
    try:
        conf = dns.resolver.Resolver(configure=True)
    except dns.resolver.NoResolverConfiguration as exc:
        raise VerifyInputError(f"no --nameserver given and no system resolver: {exc}") from None
    out: list[tuple[str, int]] = []
    for ns in conf.nameservers:
        if isinstance(ns, str):
            out.append((ns, conf.nameserver_ports.get(ns, conf.port)))
        elif isinstance(ns, dns.nameserver.Do53Nameserver):
            out.append((ns.address, ns.port))
    if not out:
        raise VerifyInputError("no --nameserver given and the system resolver names no plain DNS server")
    return out


class AdaptiveLimit:
    """How many DNS questions may be in flight: grows while the link has room, shrinks
    when latency rises or a question is lost (delay-based AIMD, as TCP Vegas).

    Each answered question gives a sample: its round trip from when it was *sent* (time
    spent waiting for a slot is not counted) and whether it timed out or needed a
    retransmission. ``base`` is the lowest round trip seen (the path's RTT, no queue).
    While the limit was reached when the question was sent (there was demand for more)
    and the sample is within ``base * (1 + tolerance) + slack``, the limit grows: by one
    per sample at first (slow start: doubling per round trip), by one per round trip
    after the first sign of congestion. A smoothed round trip above that bound means
    queueing (at the server or in this process): the limit shrinks by 10 %; a timeout
    halves it. At most one decrease per round trip's worth of samples. The limit stays
    within [1, cap]; by Little's law it settles near rate x RTT for the rate the server
    and this process sustain.
    """

    def __init__(self, initial: int, cap: int, *, tolerance: float = 1.0, slack: float = 0.020) -> None:
        if cap < 1:
            raise ValueError("cap must be >= 1")
        self.cap = cap
        self.limit = float(max(1, min(initial, cap)))
        self.tolerance = tolerance
        # a busy event loop reads answers late (tens of ms when the process is CPU-bound):
        # that lag must not read as a queue on the path, so allow 2x RTT + 20 ms
        self.slack = slack  # seconds
        self.base = math.inf
        self.smoothed: float | None = None
        self.slow_start = True
        self.peak = int(self.limit)
        self.samples = 0
        self.timeouts = 0
        self.decreases = 0
        self._hold = 0  # samples to wait before the next decrease

    def current(self) -> int:
        return int(self.limit)

    def bound(self) -> float:
        return self.base * (1 + self.tolerance) + self.slack

    def on_sample(self, rtt: float, *, timed_out: bool = False, saturated: bool = True) -> None:
        self.samples += 1
        if self._hold > 0:
            self._hold -= 1
        if timed_out:
            self.timeouts += 1
            self._decrease(0.5)
            return
        rtt = max(rtt, 0.0)
        self.base = min(self.base, rtt)
        self.smoothed = rtt if self.smoothed is None else 0.9 * self.smoothed + 0.1 * rtt
        if self.smoothed > self.bound():
            self._decrease(0.9)
        elif saturated and rtt <= self.bound():
            self.limit = min(float(self.cap), self.limit + (1.0 if self.slow_start else 1.0 / self.limit))
            self.peak = max(self.peak, int(self.limit))

    def _decrease(self, factor: float) -> None:
        self.slow_start = False
        if self._hold > 0:
            return
        self.limit = max(1.0, self.limit * factor)
        self.decreases += 1
        self._hold = max(1, int(self.limit))
        if self.smoothed is not None:
            # measure the queue afresh at the new limit rather than wait out the old average
            self.smoothed = min(self.smoothed, self.bound())


class _Gate:
    """An asyncio semaphore whose size follows an :class:`AdaptiveLimit`."""

    def __init__(self, limit: AdaptiveLimit) -> None:
        self.limit = limit
        self.in_flight = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    async def acquire(self) -> bool:
        """Wait for a slot; True when this question fills the limit (demand for more)."""
        if self.in_flight >= self.limit.current() or self._waiters:
            future = asyncio.get_running_loop().create_future()
            self._waiters.append(future)
            try:
                await future
            except asyncio.CancelledError:
                if future.done() and not future.cancelled():
                    self.in_flight -= 1  # the slot was handed to us: give it back
                    self.wake()
                raise
        else:
            self.in_flight += 1
        return self.in_flight >= self.limit.current() or bool(self._waiters)

    def release(self) -> None:
        self.in_flight -= 1
        self.wake()

    def wake(self) -> None:
        while self._waiters and self.in_flight < self.limit.current():
            future = self._waiters.popleft()
            if not future.done():
                self.in_flight += 1  # the slot passes straight to the waiter
                future.set_result(None)


class DnsClient:
    """Async DNS questions with a per-query timeout and at most ``concurrency`` in flight.

    ``concurrency`` is a cap: the number in flight starts at ``initial`` and adapts to
    the measured round trip (:class:`AdaptiveLimit`). Questions beyond the limit wait
    for a slot; their timeout starts when they are sent. dnspython sends to the first
    nameserver and to the next only on failure, so the cap is the primary server's.

    ``nameservers`` empty: the system resolver configuration (/etc/resolv.conf).
    Use from one event loop; :meth:`query_sync` lets a worker thread (pyspf) ask
    through the same client and the same limit.
    """

    def __init__(
        self,
        nameservers: Sequence[Nameserver] = (),
        timeout: float = 5.0,
        concurrency: int = 1024,
        memo: bool = False,
        initial: int = INITIAL_CONCURRENCY,
    ):
        if timeout <= 0:
            raise VerifyInputError(f"--timeout must be > 0 (got {timeout!r})")
        if concurrency < 1:
            raise VerifyInputError(f"--concurrency must be >= 1 (got {concurrency!r})")
        self.nameservers = tuple(nameservers)
        self.timeout = float(timeout)
        self.concurrency = concurrency  # the cap
        self.limit = AdaptiveLimit(initial, concurrency)
        # --timeout bounds each question; within it a lost UDP datagram is sent
        # again after at most 1 s (as dig's +tries=3 and checkdmarc do), instead of
        # turning one dropped packet on a busy server into an error.
        self.attempt = min(1.0, self.timeout)
        self._servers = [(ns.host, ns.port) for ns in self.nameservers] or _system_nameservers()
        self._transport: Transport | None = None
        self._transport_loop: asyncio.AbstractEventLoop | None = None
        self._sem: _Gate | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.queries = 0
        # memo=True: one run is one snapshot of the DNS - a question asked again
        # (the same include by a thousand SPF records, the same name by the record
        # check and the SPF/DMARC checks) is answered once; concurrent askers share
        # the question in flight. Errors are not kept, so a later asker retries.
        self.memo = memo
        self._memo: dict[tuple[str, str, bool], asyncio.Future[DnsAnswer]] = {}
        self._memo_loop: asyncio.AbstractEventLoop | None = None

    def transport(self) -> Transport:
        loop = asyncio.get_running_loop()
        if self._transport is None or self._transport_loop is not loop:
            self._transport = Transport(self._servers, attempt=self.attempt, lifetime=self.timeout)
            self._transport_loop = loop
        return self._transport

    def close(self) -> None:
        """Close the sockets (the client opens new ones when asked again)."""
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    def _gate(self) -> _Gate:
        loop = asyncio.get_running_loop()
        if self._sem is None or self._loop is not loop:
            self._sem = _Gate(self.limit)
            self._loop = loop
        return self._sem

    async def query(self, name: str, rdtype: str, *, dnssec: bool = False) -> DnsAnswer:
        """Ask one question (following a CNAME chain that leaves the server's zones);
        never raises for DNS outcomes.

        ``dnssec=True``: EDNS0 with the DO bit and AD set in the query (RFC 6840 5.7), so
        ``response`` carries the RRSIGs and a validating resolver's AD bit.
        """
        if not self.memo:
            return await self._ask(name, rdtype, dnssec)
        loop = asyncio.get_running_loop()
        if self._memo_loop is not loop:
            self._memo, self._memo_loop = {}, loop
        key = (name.rstrip(".").lower(), rdtype.upper(), dnssec)
        future = self._memo.get(key)
        if future is None:
            future = loop.create_task(self._ask(name, rdtype, dnssec))
            self._memo[key] = future
            future.add_done_callback(functools.partial(self._forget_errors, key))
        return await asyncio.shield(future)

    def _forget_errors(self, key: tuple[str, str, bool], future: asyncio.Future[DnsAnswer]) -> None:
        if future.cancelled() or future.exception() is not None or future.result().status == "error":
            if self._memo.get(key) is future:
                del self._memo[key]

    async def _ask(self, name: str, rdtype: str, dnssec: bool = False) -> DnsAnswer:
        """One question and, like a recursive resolver, the rest of a CNAME chain that an
        authoritative server left at its zone's edge. The chain is followed here, not
        through the memo: a loop across zones must end as an error, not wait on itself."""
        rdtype = rdtype.upper()
        display = name.rstrip(".").lower()
        answer, target = await self._ask_one(display, rdtype, dnssec)
        if target is None:
            return answer
        first = answer.response
        chain = [display]
        while target is not None:
            if target in chain:
                return DnsAnswer(
                    display,
                    rdtype,
                    "error",
                    f"{rdtype} {display}: CNAME loop ({' -> '.join([*chain, target])})",
                    response=first,
                    cname_loop=True,
                )
            if len(chain) > _MAX_CNAME_HOPS:
                return DnsAnswer(
                    display,
                    rdtype,
                    "error",
                    f"{rdtype} {display}: CNAME chain too long (more than {_MAX_CNAME_HOPS} hops: "
                    f"{' -> '.join(chain[:3])} -> ... -> {target})",
                    response=first,
                    cname_loop=True,
                )
            chain.append(target)
            answer, target = await self._ask_one(target, rdtype, dnssec)
        return DnsAnswer(display, rdtype, answer.status, answer.reason, answer.rrset, answer.response, answer.cname_loop)

    async def _ask_one(self, display: str, rdtype: str, dnssec: bool = False) -> tuple[DnsAnswer, str | None]:
        """One question to the server(s): (answer, CNAME target still to follow or None)."""

        def error(reason: str, **kw: Any) -> tuple[DnsAnswer, None]:
            return DnsAnswer(display, rdtype, "error", reason, **kw), None

        try:
            question = question_wire(display, rdtype)
        except (dns.exception.DNSException, UnicodeError, ValueError) as exc:
            return error(f"invalid name {display!r}: {exc}")
        gate = self._gate()
        saturated = await gate.acquire()
        # the round trip, and --timeout, count from here: when the question is sent
        sent = time.monotonic()
        got: Exchange | None = None
        try:
            self.queries += 1
            got = await self.transport().exchange(question, dnssec)
        finally:
            # a retransmission means a lost (or very late) datagram: a congestion signal
            lost = got is None or got.timed_out or got.retransmitted
            self.limit.on_sample(time.monotonic() - sent, timed_out=lost, saturated=saturated)
            gate.release()
        response = got.response
        if response is None:
            if got.loop is not None:
                return error(f"{rdtype} {display}: CNAME loop or chain too long", response=got.loop, cname_loop=True)
            if got.timed_out or not got.errors:
                return error(f"timeout after {self.timeout:g}s asking {rdtype} {display}")
            return error(f"{rdtype} {display}: {_errors_reason(got.errors)}")
        rcode = response.rcode()
        if rcode == dns.rcode.YXDOMAIN:
            return error(f"{rdtype} {display}: YXDOMAIN")
        if rcode == dns.rcode.NXDOMAIN:
            return DnsAnswer(display, rdtype, "nxdomain", "NXDOMAIN", response=response), None
        if got.answer is not None:
            return DnsAnswer(display, rdtype, "ok", rrset=got.answer, response=response), None
        nodata = DnsAnswer(display, rdtype, "nodata", "NOERROR, no data", response=response)
        target = got.canonical
        if rdtype != "CNAME" and target is not None and target != response.question[0].name:
            # the server stopped at a CNAME leaving its zones: the caller follows it
            return nodata, target.to_text(omit_final_dot=True).lower()
        return nodata, None

    def query_sync(self, name: str, rdtype: str, loop: asyncio.AbstractEventLoop) -> DnsAnswer:
        """Ask from a worker thread through ``loop`` (the loop must be running elsewhere)."""
        future = asyncio.run_coroutine_threadsafe(self.query(name, rdtype), loop)
        # no deadline here: the question's own --timeout starts when it is sent, and a
        # wait for a slot must not turn into an error (the limiter always moves on)
        return future.result()

    async def lookup_host(self, host: str) -> HostLookup:
        """A and AAAA of ``host`` (an IP literal is returned as is).

        ``status`` is "ok" when at least one address was found, else "nxdomain",
        "nodata" or "error" (no usable answer: the host may well exist).
        """
        try:
            return HostLookup([str(ipaddress.ip_address(host))], "ok")
        except ValueError:
            pass
        a, aaaa = await asyncio.gather(self.query(host, "A"), self.query(host, "AAAA"))
        found = a.texts() + aaaa.texts()
        if found:
            return HostLookup(found, "ok")
        for ans in (a, aaaa):
            if ans.status == "error":
                return HostLookup([], "error", ans.reason)
        if a.status == "nxdomain":
            return HostLookup([], "nxdomain", f"NXDOMAIN for {host}")
        return HostLookup([], "nodata", f"no A/AAAA record for {host}")
