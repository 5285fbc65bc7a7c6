"""A DNS delay proxy on loopback: UDP and TCP forwarded to a server, with a round trip
time added (half on the way in, half on the way out), as a distant nameserver would.

Shared by the verify tests and bench/verify.py (plain code, no pytest). It runs its
own asyncio loop in a daemon thread:

    with DelayProxy("127.0.0.1", knot_port, rtt=0.040) as proxy:
        ... ask 127.0.0.1:proxy.port ...

UDP: one upstream socket; each query's 16-bit ID is rewritten to one unique among
those in flight and restored in the answer, so answers go back to the asker that sent
the query. TCP: one upstream connection per client connection, bytes relayed in both
directions after the same one-way delay (order kept: equal delays fire in order).
Nothing is reordered or dropped; `sent` counts the queries forwarded over UDP.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import threading
from typing import Any

__all__ = ["DelayProxy"]


class _Upstream(asyncio.DatagramProtocol):
    def __init__(self, proxy: DelayProxy) -> None:
        self.proxy = proxy

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.proxy._from_upstream(data)


class _Front(asyncio.DatagramProtocol):
    def __init__(self, proxy: DelayProxy) -> None:
        self.proxy = proxy

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.proxy._from_client(data, addr)


class DelayProxy:
    def __init__(self, upstream_host: str, upstream_port: int, rtt: float, host: str = "127.0.0.1") -> None:
        if rtt < 0:
            raise ValueError("rtt must be >= 0")
        self.upstream = (upstream_host, upstream_port)
        self.rtt = rtt
        self.host = host
        self.port = 0
        self.sent = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="dns-delay-proxy", daemon=True)
        self._ids = itertools.cycle(range(1, 65536))
        self._pending: dict[int, tuple[Any, bytes]] = {}  # proxy id -> (client addr, original id)
        self._front: asyncio.DatagramTransport | None = None
        self._up: asyncio.DatagramTransport | None = None
        self._server: asyncio.AbstractServer | None = None

    # -- life

    def start(self) -> DelayProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._open(), self._loop).result(timeout=10)
        return self

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> DelayProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _open(self) -> None:
        loop = asyncio.get_running_loop()
        # one port for both protocols: bind TCP first (port 0 picks one), then UDP on it
        for _ in range(20):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, 0))
            port = sock.getsockname()[1]
            try:
                front, _ = await loop.create_datagram_endpoint(lambda: _Front(self), local_addr=(self.host, port))
            except OSError:
                sock.close()
                continue
            self._front = front
            self.port = port
            self._server = await asyncio.start_server(self._tcp_client, sock=sock, backlog=1024)
            break
        else:
            raise RuntimeError("delay proxy: no free port")
        up, _ = await loop.create_datagram_endpoint(lambda: _Upstream(self), remote_addr=self.upstream)
        self._up = up
        # a large receive buffer: a burst of answers must not be dropped by the kernel
        for t in (self._front, self._up):
            s = t.get_extra_info("socket")
            if s is not None:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        for t in (self._front, self._up):
            if t is not None:
                t.close()

    # -- UDP

    def _from_client(self, data: bytes, addr: Any) -> None:
        if len(data) < 12:
            return
        pid = next(self._ids)
        self._pending[pid] = (addr, data[:2])
        self.sent += 1
        out = pid.to_bytes(2, "big") + data[2:]
        self._loop.call_later(self.rtt / 2, self._send_up, out)

    def _send_up(self, data: bytes) -> None:
        if self._up is not None:
            self._up.sendto(data)

    def _from_upstream(self, data: bytes) -> None:
        if len(data) < 12:
            return
        entry = self._pending.pop(int.from_bytes(data[:2], "big"), None)
        if entry is None:
            return
        addr, qid = entry
        self._loop.call_later(self.rtt / 2, self._send_back, qid + data[2:], addr)

    def _send_back(self, data: bytes, addr: Any) -> None:
        if self._front is not None:
            self._front.sendto(data, addr)

    # -- TCP

    async def _tcp_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            return
        await asyncio.sleep(self.rtt / 2)  # the client's SYN reaches the far side
        await asyncio.gather(self._relay(reader, up_writer), self._relay(up_reader, writer), return_exceptions=True)
        await asyncio.sleep(self.rtt / 2 + 0.01)  # let the delayed last bytes out first
        for w in (writer, up_writer):
            w.close()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                loop.call_later(self.rtt / 2, _write, writer, chunk)
        finally:
            loop.call_later(self.rtt / 2, _eof, writer)


def _write(writer: asyncio.StreamWriter, chunk: bytes) -> None:
    if not writer.is_closing():
        writer.write(chunk)


def _eof(writer: asyncio.StreamWriter) -> None:
    if not writer.is_closing() and writer.can_write_eof():
        try:
            writer.write_eof()
        except OSError:
            pass
