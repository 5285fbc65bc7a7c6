"""A tiny in-process authoritative DNS server on loopback (dnslib), for the cases Knot
cannot play: answers that never come (the openspf suite's TIMEOUT entries) and
SERVFAIL / REFUSED on purpose.

``ZoneServer.load_openspf(zonedata)`` maps one section of the openspf YAML the way
pyspf's driver (test/testspf.py) does: SPF entries also become TXT entries unless the
name has its own TXT entries; ``NONE`` values are dropped; a ``TIMEOUT`` entry makes a
query of type T go unanswered unless an entry of type T comes before it; a name not
in the data is NXDOMAIN, except names under ``error.`` which time out.
"""

from __future__ import annotations

import socket
import threading
from typing import Any

from dnslib import (  # type: ignore[import-untyped]
    AAAA,
    CNAME,
    MX,
    PTR,
    QTYPE,
    RCODE,
    RD,
    RR,
    TXT,
    A,
    DNSLabel,
    DNSRecord,
)

TIMEOUT = "TIMEOUT"


def _txt_strings(value: Any) -> list[bytes]:
    if isinstance(value, str):
        value = [value]
    out: list[bytes] = []
    for part in value:
        data = part.encode("utf-8") if isinstance(part, str) else bytes(part)
        # one YAML string may be longer than one character-string allows
        out.extend([data[i : i + 255] for i in range(0, len(data), 255)] or [b""])
    # an empty list stays empty: a TXT record without character-strings
    return out


def _rdata(rtype: str, value: Any) -> Any:
    if rtype == "A":
        return A(value)
    if rtype == "AAAA":
        return AAAA(value)
    if rtype == "MX":
        pref, host = value
        return MX(host, int(pref))
    if rtype == "PTR":
        return PTR(value)
    if rtype == "CNAME":
        return CNAME(value)
    if rtype in ("TXT", "SPF"):
        strings = _txt_strings(value)
        return TXT(strings) if strings else RD(b"")  # RD(b""): a TXT with no strings (illegal)
    raise ValueError(rtype)


class ZoneServer:
    """UDP DNS server on 127.0.0.1 with swappable data. Use ``start()`` / ``stop()``."""

    def __init__(self) -> None:
        # name -> ordered list of (type, value) or TIMEOUT
        self.entries: dict[str, list[Any]] = {}
        self.rcode_for: dict[str, int] = {}  # name -> forced rcode (SERVFAIL, REFUSED)
        self.timeout_prefixes: tuple[str, ...] = ()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.lock = threading.Lock()

    # ---------------------------------------------------------------- data
    def load_openspf(self, zonedata: dict[str, list[Any]]) -> None:
        entries: dict[str, list[Any]] = {}
        for name, records in (zonedata or {}).items():
            out: list[Any] = []
            generated: list[Any] = []
            gen = True
            for item in records or []:
                if item == TIMEOUT:
                    out.append(TIMEOUT)
                    continue
                for rtype, value in item.items():
                    if rtype == "TXT":
                        gen = False
                    elif rtype == "SPF" and gen:
                        generated.append(("TXT", value))
                    if value != "NONE":
                        out.append((rtype, value))
            if gen:
                out.extend(generated)
            entries[name.lower().rstrip(".")] = out
        with self.lock:
            self.entries = entries
            self.rcode_for = {}
            self.timeout_prefixes = ("error.",)

    def set_records(
        self,
        records: dict[str, list[tuple[str, Any]]],
        rcode_for: dict[str, int] | None = None,
    ) -> None:
        with self.lock:
            self.entries = {k.lower().rstrip("."): list(v) for k, v in records.items()}
            self.rcode_for = dict(rcode_for or {})
            self.timeout_prefixes = ()

    # ---------------------------------------------------------------- serving
    def start(self) -> ZoneServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.sock.close()
        self._thread.join(timeout=2)

    def _answer(self, request: DNSRecord) -> DNSRecord | None:
        reply = request.reply()
        reply.header.ra = 0
        q = request.q
        qname = b".".join(q.qname.label).decode("utf-8", "replace").lower()
        qtype = QTYPE[q.qtype]
        with self.lock:
            if qname in self.rcode_for:
                reply.header.rcode = self.rcode_for[qname]
                return reply
            entries = self.entries.get(qname)
            if entries is None:
                if qname.startswith(self.timeout_prefixes):
                    return None
                reply.header.rcode = RCODE.NXDOMAIN
                return reply
            seen = False
            cname = None
            for entry in entries:
                if entry == TIMEOUT:
                    if not seen:
                        return None
                    break
                rtype, value = entry
                if rtype == "CNAME" and qtype != "CNAME":
                    cname = value
                if rtype != qtype:
                    continue
                seen = True
                reply.add_answer(
                    RR(
                        q.qname,
                        getattr(QTYPE, rtype),
                        rdata=_rdata(rtype, value),
                        ttl=60,
                    )
                )
            if not seen and cname is not None:
                reply.add_answer(RR(q.qname, QTYPE.CNAME, rdata=CNAME(cname), ttl=60))
                # follow in-data CNAMEs like an authoritative server would
                target = str(cname).rstrip(".").lower()
                for entry in self.entries.get(target, []):
                    if entry != TIMEOUT and entry[0] == qtype:
                        reply.add_answer(
                            RR(
                                DNSLabel(target),
                                getattr(QTYPE, qtype),
                                rdata=_rdata(qtype, entry[1]),
                                ttl=60,
                            )
                        )
        return reply

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, addr = self.sock.recvfrom(65535)
            except OSError:
                return
            try:
                request = DNSRecord.parse(data)
                reply = self._answer(request)
            except Exception:  # noqa: BLE001, S112 - a malformed query: answer FORMERR-ish by ignoring
                continue
            if reply is not None:
                try:
                    self.sock.sendto(reply.pack(), addr)
                except OSError:
                    return


# ----------------------------------------------------------------------------- faults

# What FaultServer can do to the questions about one name (see FaultServer).
FAULTS = (
    "servfail",  # RCODE 2
    "refused",  # RCODE 5
    "silence",  # no answer at all
    "slow",  # the right answer, after ``delay`` seconds (later than the client waits)
    "wrong-id",  # the right answer with another message ID (must be ignored)
    "truncate-garbage",  # TC=1 over UDP; over TCP a length prefix and junk, then close
    "truncate-eof",  # TC=1 over UDP; over TCP the connection closes without a byte
    "compression-loop",  # an answer whose owner name is a compression pointer to itself
    "endless-cname",  # every name at or under it is a CNAME to a longer one, forever
)


def _reply_header(query: bytes, *, flags: int, rcode: int = 0, ancount: int = 0) -> bytes:
    """A response header for ``query`` (same ID, QDCOUNT 1) plus its question section."""
    qid = query[:2]
    end = 12
    while query[end] != 0:  # the question name: plain labels (queries are never compressed)
        end += 1 + query[end]
    question = query[12 : end + 5]  # name, root label, QTYPE, QCLASS
    header = qid + (flags | rcode).to_bytes(2, "big") + b"\x00\x01" + ancount.to_bytes(2, "big") + b"\x00\x00\x00\x00"
    return header + question


_QR_AA = 0x8400  # QR and AA set, opcode QUERY
_TC = 0x0200


class FaultServer:
    """A DNS server on 127.0.0.1 (UDP and TCP on one port) that forwards every question
    to ``upstream`` (Knot) and breaks the ones about the names in ``faults``
    (name -> one of ``FAULTS``). A fault applies to the name and every name under it.
    Each question is handled in its own thread, so a slow or silent answer delays no other.
    """

    def __init__(self, upstream: tuple[str, int], faults: dict[str, str] | None = None, delay: float = 3.0) -> None:
        self.upstream = upstream
        self.faults = {k.lower().rstrip("."): v for k, v in (faults or {}).items()}
        for kind in self.faults.values():
            if kind not in FAULTS:
                raise ValueError(f"unknown fault {kind!r}")
        self.delay = delay
        self.asked: list[tuple[str, str, str]] = []  # (transport, name, type)
        for _ in range(50):
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.bind(("127.0.0.1", 0))
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                tcp.bind(("127.0.0.1", udp.getsockname()[1]))
                break
            except OSError:
                udp.close()
                tcp.close()
        else:  # pragma: no cover - the machine has no free port pair
            raise RuntimeError("no free UDP+TCP port")
        tcp.listen(16)
        self.udp, self.tcp = udp, tcp
        self.port = udp.getsockname()[1]
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._serve_udp, daemon=True),
            threading.Thread(target=self._serve_tcp, daemon=True),
        ]

    @property
    def nameserver(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> FaultServer:
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.udp.close()
        self.tcp.close()
        for t in self._threads:
            t.join(timeout=2)

    # ---------------------------------------------------------------- helpers
    def _fault(self, name: str) -> tuple[str, str] | None:
        for base, kind in self.faults.items():
            if name == base or name.endswith("." + base):
                return base, kind
        return None

    def _forward_udp(self, data: bytes) -> bytes | None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as up:
            up.settimeout(2.0)
            up.sendto(data, self.upstream)
            try:
                return up.recv(65535)
            except OSError:
                return None

    def _forward_tcp(self, data: bytes) -> bytes | None:
        try:
            with socket.create_connection(self.upstream, timeout=2.0) as up:
                up.sendall(len(data).to_bytes(2, "big") + data)
                size = int.from_bytes(_recv_exactly(up, 2), "big")
                return _recv_exactly(up, size)
        except (OSError, EOFError):
            return None

    @staticmethod
    def _question(data: bytes) -> tuple[str, str]:
        request = DNSRecord.parse(data)
        name = b".".join(request.q.qname.label).decode("utf-8", "replace").lower()
        return name, QTYPE[request.q.qtype]

    def _endless_cname(self, data: bytes, name: str) -> bytes:
        request = DNSRecord.parse(data)
        reply = request.reply()
        reply.add_answer(RR(request.q.qname, QTYPE.CNAME, rdata=CNAME(f"n.{name}"), ttl=60))
        return reply.pack()

    # ---------------------------------------------------------------- UDP
    def _serve_udp(self) -> None:
        while not self._stop.is_set():
            try:
                data, addr = self.udp.recvfrom(65535)
            except OSError:
                return
            threading.Thread(target=self._answer_udp, args=(data, addr), daemon=True).start()

    def _answer_udp(self, data: bytes, addr: Any) -> None:
        try:
            name, qtype = self._question(data)
        except Exception:  # noqa: BLE001 - not a DNS query: ignore it like a server would
            return
        self.asked.append(("udp", name, qtype))
        fault = self._fault(name)
        kind = fault[1] if fault else None
        reply: bytes | None
        if kind is None:
            reply = self._forward_udp(data)
        elif kind == "servfail":
            reply = _reply_header(data, flags=_QR_AA, rcode=RCODE.SERVFAIL)
        elif kind == "refused":
            reply = _reply_header(data, flags=_QR_AA, rcode=RCODE.REFUSED)
        elif kind == "silence":
            reply = None
        elif kind == "slow":
            self._stop.wait(self.delay)
            reply = self._forward_udp(data)
        elif kind == "wrong-id":
            reply = self._forward_udp(data)
            if reply is not None:
                reply = ((int.from_bytes(reply[:2], "big") + 1) & 0xFFFF).to_bytes(2, "big") + reply[2:]
        elif kind in ("truncate-garbage", "truncate-eof"):
            reply = _reply_header(data, flags=_QR_AA | _TC)
        elif kind == "compression-loop":
            head = _reply_header(data, flags=_QR_AA, ancount=1)
            here = len(head)  # the answer's owner name: a pointer to this very offset
            qtype_class = data[len(head) - 4 : len(head)]
            reply = head + bytes([0xC0 | (here >> 8), here & 0xFF]) + qtype_class + b"\x00\x00\x00\x3c\x00\x04\x7f\x00\x00\x01"
        else:  # endless-cname
            reply = self._endless_cname(data, name)
        if reply is not None and not self._stop.is_set():
            try:
                self.udp.sendto(reply, addr)
            except OSError:
                pass

    # ---------------------------------------------------------------- TCP
    def _serve_tcp(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.tcp.accept()
            except OSError:
                return
            threading.Thread(target=self._answer_tcp, args=(conn,), daemon=True).start()

    def _answer_tcp(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5.0)
            try:
                size = int.from_bytes(_recv_exactly(conn, 2), "big")
                data = _recv_exactly(conn, size)
                name, qtype = self._question(data)
            except Exception:  # noqa: BLE001 - a client that went away, or not DNS
                return
            self.asked.append(("tcp", name, qtype))
            fault = self._fault(name)
            kind = fault[1] if fault else None
            if kind == "truncate-eof":
                return
            if kind == "truncate-garbage":
                junk = bytes(range(7, 7 + 40))
                conn.sendall(len(junk).to_bytes(2, "big") + junk)
                return
            if kind in ("servfail", "refused", "silence", "wrong-id", "compression-loop", "slow", "endless-cname"):
                return  # these faults are UDP stories; a TCP retry finds nothing better
            reply = self._forward_tcp(data)
            if reply is not None:
                try:
                    conn.sendall(len(reply).to_bytes(2, "big") + reply)
                except OSError:
                    pass


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise EOFError("connection closed")
        data += chunk
    return data
