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
        return (
            TXT(strings) if strings else RD(b"")
        )  # RD(b""): a TXT with no strings (illegal)
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
