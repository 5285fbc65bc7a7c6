"""DNS exchanges for verify's :class:`~mailinfra.verify.resolver.DnsClient`: UDP on a few
shared sockets per nameserver, TCP when an answer is truncated, dnspython messages.

Why not ``dns.asyncresolver``: per question it builds a ``Message``, renders it, opens a
socket and runs ``wait_for``; on this machine that is ~0.5 ms of CPU per question, most
of verify's time at a thousand domains. Here a question is an RFC 1035 header, the
question and an EDNS0 OPT record (RFC 6891, 1232-byte payload as the 2020 DNS flag day
advises) written directly, sent on a connected UDP socket shared with other questions;
answers are matched by ID, source (the socket is connected) and question section
before dnspython parses them (``dns.message.from_wire``, without the authority and
additional sections of a non-DNSSEC answer: ``answer_only``; ``resolve_chaining``
follows the CNAMEs in an answer, as ``Resolver.resolve`` does).

The resolver's semantics are kept: servers in order, a lost datagram sent again after
``attempt`` seconds, a truncated answer asked again over TCP (``dns.asyncquery.tcp``),
SERVFAIL/REFUSED/a malformed answer take that server out of this question, a datagram
that is not an answer to it (wrong ID, wrong question, unparseable) is ignored, and
``lifetime`` bounds the whole question. A socket carries at most ``PER_SOCKET``
questions before a new one (a new random source port) takes over, so an off-path
spoofer has to guess port and ID as with a socket per question.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset

__all__ = ["EDNS_PAYLOAD", "PER_SOCKET", "Exchange", "Transport", "answer_only", "question_wire", "read_answer"]

EDNS_PAYLOAD = 1232
PER_SOCKET = 128  # questions per UDP socket before a new source port
_RD, _AD, _DO = 0x0100, 0x0020, 0x8000
_QR, _TC = 0x80, 0x02  # in the first flags byte
_ERROR_RCODES_WITHOUT_QUESTION = frozenset({1, 2, 4, 5})  # FORMERR SERVFAIL NOTIMP REFUSED (as dnspython)
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_*-]{1,63}(?:\.[A-Za-z0-9_*-]{1,63})*\.?\Z")
_RDTYPES: dict[str, int] = {}


def _rdtype(text: str) -> int:
    code = _RDTYPES.get(text)
    if code is None:
        code = _RDTYPES[text] = int(dns.rdatatype.from_text(text))
    return code


def question_wire(name: str, rdtype: str) -> bytes:
    """The question section for ``name`` (IN class); raises dns.exception.DNSException or
    UnicodeError for a name that is not one. Plain ASCII names are encoded here, others
    (IDNs, escapes) by dnspython."""
    if _PLAIN_NAME.match(name) and len(name) <= 253:
        labels = name.rstrip(".").split(".")
        qname = b"".join(bytes((len(label),)) + label.encode("ascii") for label in labels) + b"\x00"
    else:
        qname = dns.name.from_text(name or ".").to_wire() or b""
    return qname + _rdtype(rdtype).to_bytes(2, "big") + b"\x00\x01"


def _query_wire(qid: int, question: bytes, dnssec: bool) -> bytes:
    flags = _RD | (_AD if dnssec else 0)  # AD in a query: "I understand AD" (RFC 6840 5.7)
    header = qid.to_bytes(2, "big") + flags.to_bytes(2, "big") + b"\x00\x01\x00\x00\x00\x00\x00\x01"
    opt = (
        b"\x00\x00\x29" + EDNS_PAYLOAD.to_bytes(2, "big") + b"\x00\x00" + (_DO if dnssec else 0).to_bytes(2, "big") + b"\x00\x00"
    )
    return header + question + opt


@dataclass
class Exchange:
    """What one question got: the answer message (NOERROR/NXDOMAIN/YXDOMAIN: for the
    caller to read), or none with every server's failure in ``errors``."""

    response: dns.message.Message | None = None
    errors: list[tuple[str, bool, object]] = field(default_factory=list)  # (server, over TCP, what)
    timed_out: bool = False  # lifetime ran out
    retransmitted: bool = False  # a datagram was sent again (one was lost or late)
    answer: dns.rrset.RRset | None = None  # the RRset answering the question (CNAMEs followed)
    canonical: dns.name.Name | None = None  # where the answer's CNAME chain ends
    loop: dns.message.Message | None = None  # a server's answer whose CNAME chain was too long


def read_answer(response: dns.message.QueryMessage) -> tuple[dns.rrset.RRset | None, dns.name.Name]:
    """(the RRset answering the question, the name the answer's CNAME chain ends at), as
    ``Resolver.resolve`` reads an answer; raises what ``resolve_chaining`` raises for an
    answer no server should give (a chain too long, an answer with NXDOMAIN, no single
    question). The usual answer - nothing, or one RRset for the question - is read
    without it (it costs as much as the rest of reading)."""
    if len(response.question) == 1 and len(response.answer) <= 1:
        question = response.question[0]
        if not response.answer:
            return None, question.name
        rrset = response.answer[0]
        if (
            question.rdtype != dns.rdatatype.CNAME
            and rrset.rdtype == question.rdtype
            and rrset.rdclass == question.rdclass
            and rrset.name == question.name
        ):
            if response.rcode() == dns.rcode.NXDOMAIN:
                raise dns.message.AnswerForNXDOMAIN
            return rrset, question.name
    chain = response.resolve_chaining()
    return chain.answer, chain.canonical_name


def answer_only(data: bytes) -> bytes | None:
    """``data`` with the authority and additional sections left out of the header counts
    (parsed with ``ignore_trailing``), or None to parse it whole. Nothing verify reads of
    a non-DNSSEC answer is there, and they are most of the parsing of a negative answer
    (the SOA). The one thing that must not be lost is an extended RCODE (RFC 6891 6.1.3,
    in the OPT record): that is known only when the additional section is a single OPT
    with no options, the last 11 bytes; anything else is parsed whole."""
    nscount, arcount = int.from_bytes(data[8:10], "big"), int.from_bytes(data[10:12], "big")
    if not nscount and not arcount:
        return None
    if arcount:
        tail = data[-11:]
        if arcount != 1 or len(data) < 23 or tail[:3] != b"\x00\x00\x29" or tail[-2:] != b"\x00\x00" or tail[5] != 0:
            return None
    return data[:8] + b"\x00\x00\x00\x00" + data[12:]


class _Waiter:
    __slots__ = ("future", "question", "whole")

    def __init__(self, future: asyncio.Future[Any], question: bytes, whole: bool) -> None:
        self.future = future
        self.question = question  # the name (ASCII case folds), then QTYPE and QCLASS (exact)
        self.whole = whole  # DNSSEC questions: the authority section (denials, signatures) is read

    def offer(self, data: bytes) -> None:
        """An incoming datagram with this ID: the answer when it answers this question."""
        if data[2] & _QR == 0 or (data[2] >> 3) & 0xF != 0:  # not a response, not QUERY
            return
        qdcount = int.from_bytes(data[4:6], "big")
        if qdcount == 1:
            end = 12 + len(self.question)
            if data[end - 4 : end] != self.question[-4:] or data[12 : end - 4].lower() != self.question[:-4].lower():
                return  # another question (the first name is never compressed)
        elif not (qdcount == 0 and data[3] & 0xF in _ERROR_RCODES_WITHOUT_QUESTION):
            return
        short = None if self.whole else answer_only(data)
        try:
            if short is not None:
                message = dns.message.from_wire(short, raise_on_truncation=True, ignore_trailing=True)
            else:
                message = dns.message.from_wire(data, raise_on_truncation=True)
        except dns.message.Truncated as exc:
            message = exc.message()
        except Exception:  # noqa: BLE001 - a malformed datagram is ignored, as dnspython's udp() does
            return
        if not self.future.done():
            self.future.set_result(message)


class _Socket(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.waiters: dict[int, _Waiter] = {}
        self.used = 0
        self.broken = False
        self.retired = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if len(data) >= 12:
            waiter = self.waiters.get(int.from_bytes(data[:2], "big"))
            if waiter is not None and not waiter.future.done():
                waiter.offer(data)

    def error_received(self, exc: Exception) -> None:
        # an ICMP error on a connected socket (port unreachable: "connection refused")
        self.broken = True
        for waiter in self.waiters.values():
            if not waiter.future.done():
                waiter.future.set_exception(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self.broken = True
        self.error_received(exc or ConnectionError("socket closed"))

    def new_id(self) -> int:
        while True:
            qid = secrets.randbits(16)
            if qid not in self.waiters:
                return qid

    def done_with(self, qid: int) -> None:
        self.waiters.pop(qid, None)
        if (self.retired or self.broken) and not self.waiters and self.transport is not None:
            self.transport.close()


class _Server:
    """The UDP sockets to one nameserver."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.label = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self._current: _Socket | None = None
        self._opening: asyncio.Future[_Socket] | None = None

    async def socket(self) -> _Socket:
        sock = self._current
        if sock is not None and not sock.broken and sock.used < PER_SOCKET:
            sock.used += 1
            return sock
        if self._opening is None:
            self._opening = asyncio.get_running_loop().create_task(self._open())
        opening = self._opening
        sock = await asyncio.shield(opening)
        sock.used += 1
        return sock

    async def _open(self) -> _Socket:
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        try:
            _, sock = await loop.create_datagram_endpoint(_Socket, remote_addr=(self.host, self.port), family=family)
        finally:
            self._opening = None
        old, self._current = self._current, sock
        if old is not None:
            old.retired = True
            if not old.waiters and old.transport is not None:
                old.transport.close()
        return sock

    def close(self) -> None:
        if self._current is not None and self._current.transport is not None:
            self._current.transport.close()
        self._current = None


class Transport:
    """Questions to ``servers`` ((host, port) pairs, asked in order) from one event loop."""

    def __init__(self, servers: Sequence[tuple[str, int]], *, attempt: float, lifetime: float) -> None:
        self.servers = [_Server(host, port) for host, port in servers]
        self.attempt = attempt
        self.lifetime = lifetime

    async def exchange(self, question: bytes, dnssec: bool = False) -> Exchange:
        result = Exchange()
        deadline = time.monotonic() + self.lifetime
        servers = list(self.servers)
        while servers:
            for server in list(servers):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    result.timed_out = True
                    return result
                outcome = await self._one_server(server, question, dnssec, min(self.attempt, remaining), deadline, result)
                if outcome == "answer":
                    return result
                if outcome == "drop":
                    servers.remove(server)
        return result

    async def _one_server(
        self, server: _Server, question: bytes, dnssec: bool, attempt: float, deadline: float, result: Exchange
    ) -> str:
        """ "answer" (result.response set), "retry" (timed out: ask again) or "drop"."""
        loop = asyncio.get_running_loop()
        try:
            sock = await server.socket()
        except OSError as exc:
            result.errors.append((server.label, False, exc))
            return "drop"
        qid = sock.new_id()
        future: asyncio.Future[dns.message.Message] = loop.create_future()
        sock.waiters[qid] = _Waiter(future, question, whole=dnssec)
        timer = loop.call_later(attempt, _expire, future)
        try:
            if sock.transport is None:
                raise ConnectionError("socket closed")
            sock.transport.sendto(_query_wire(qid, question, dnssec))
            response = await future
        except dns.exception.Timeout:
            result.retransmitted = True
            result.errors.append((server.label, False, dns.exception.Timeout()))
            return "retry"
        except OSError as exc:
            result.errors.append((server.label, False, exc))
            return "drop"
        finally:
            timer.cancel()
            sock.done_with(qid)
        tcp = False
        if response.flags & dns.flags.TC:
            result.errors.append((server.label, False, dns.message.Truncated()))
            tcp = True
            query = dns.message.from_wire(_query_wire(qid, question, dnssec))
            try:
                response = await dns.asyncquery.tcp(
                    query, server.host, timeout=max(0.001, deadline - time.monotonic()), port=server.port
                )
            except dns.exception.Timeout as exc:
                result.errors.append((server.label, True, exc))
                return "retry"
            except Exception as exc:  # noqa: BLE001 - EOF, refused, junk, a wrong answer: this server is no good
                result.errors.append((server.label, True, exc))
                return "drop"
        rcode = response.rcode()
        if rcode == dns.rcode.YXDOMAIN:  # final, as for dnspython's resolver
            result.response = response
            return "answer"
        if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            result.errors.append((server.label, tcp, dns.rcode.to_text(rcode)))
            return "drop"
        # an answer that cannot be read takes this server out, as dnspython's Answer() does
        try:
            if not isinstance(response, dns.message.QueryMessage):
                raise dns.message.NotQueryResponse
            result.answer, result.canonical = read_answer(response)
        except dns.message.ChainTooLong as exc:
            result.errors.append((server.label, tcp, exc))
            result.loop = response
            return "drop"
        except dns.exception.DNSException as exc:
            result.errors.append((server.label, tcp, exc))
            return "drop"
        result.response = response
        return "answer"

    def close(self) -> None:
        for server in self.servers:
            server.close()


def _expire(future: asyncio.Future[Any]) -> None:
    if not future.done():
        future.set_exception(dns.exception.Timeout())
