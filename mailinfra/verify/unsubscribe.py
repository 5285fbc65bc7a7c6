"""The live one-click unsubscribe check of `mailinfra verify` (RFC 8058).

``unsubscribe-one-click``: POST what a mail receiver posts (``standards.unsubscribe``:
form-encoded ``List-Unsubscribe=One-Click``, no cookies, no credentials) to the stack's
``compliance.unsubscribeUrl`` over HTTPS with a validated certificate, and judge the
answer as the standard does: 2xx passes; a redirect (not followed: a receiver never
logs in), a refused POST (405: a GET-only endpoint) or another status fails. No GET is
ever sent.

The answer is untrusted: the exchange has one deadline, the status line and headers are
read with size limits and the body is not read, so a slow, silent, huge or garbled
answer is one result line. A URL read from a ``secure:`` config value is never shown:
the result is named after the config key and its text passes a Redactor of the URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from mailinfra.values import SECRET_TEXT, Redactor, Secret
from mailinfra.policies.mailinfra_policy.standards import unsubscribe as unsub_std
from mailinfra.policies.mailinfra_policy.standards.errors import StandardError

from .context import Context, Task
from .expect import Expectations
from .report import CheckResult
from .result import could_not_check, result
from .tls import client_context, describe_error

__all__ = ["CHECKS", "OneClickTarget", "check_one_click", "one_click_target", "tasks"]

CHECKS = ("unsubscribe-one-click",)
CHECK = CHECKS[0]
MAX_LINE = 8192  # one status or header line
MAX_HEADERS = 100
MAX_HEAD_BYTES = 64 * 1024  # status line and headers together
MAX_INTERIM = 5  # 1xx answers skipped before the real one
_STATUS = re.compile(rb"HTTP/1\.[01] ([1-5][0-9][0-9])(?: [^\r\n]*)?\r?\n\Z")
_EXPECTED = "HTTPS POST List-Unsubscribe=One-Click answered 2xx, no redirect, trusted certificate (RFC 8058)"


@dataclass(frozen=True)
class OneClickTarget:
    key: str  # the config key as the stack file spells it: mailinfra:compliance.unsubscribeUrl
    url: str | None  # None: secure and not known to this plan (mock engine placeholder)
    secret: bool
    one_click: bool  # compliance.oneClickUnsubscribe (default true)

    @property
    def label(self) -> str:
        if self.secret:
            return f"{self.key} {SECRET_TEXT}"
        return self.url or self.key


def _is_secret(value: Any) -> bool:
    # a Secret wrapper (in-process plan), "[secret]" (placeholder view of a plan file)
    return isinstance(value, Secret) or value == SECRET_TEXT


def one_click_target(exp: Expectations) -> OneClickTarget | None:
    """The unsubscribe endpoint the plan's stack config records, or None when there is none."""
    namespace = exp.project or "mailinfra"
    key = f"{namespace}:compliance"
    compliance = exp.config.get(key)
    if compliance is None and namespace != "mailinfra":
        namespace, key = "mailinfra", "mailinfra:compliance"
        compliance = exp.config.get(key)
    if compliance is None:
        return None
    url_key = f"{key}.unsubscribeUrl"
    if _is_secret(compliance):  # the whole compliance object is one secure value
        return OneClickTarget(url_key, None, True, True)
    if not isinstance(compliance, Mapping) or "unsubscribeUrl" not in compliance:
        return None
    raw = compliance.get("unsubscribeUrl")
    one_click = compliance.get("oneClickUnsubscribe", True)
    one_click = one_click if isinstance(one_click, bool) else True
    if _is_secret(raw):
        revealed = raw.reveal() if isinstance(raw, Secret) else None
        # a real engine's decrypted value can be checked; a mock placeholder cannot
        usable = isinstance(revealed, str) and not unsub_std.check_endpoint_url(revealed)
        return OneClickTarget(url_key, revealed if usable else None, True, one_click)
    return OneClickTarget(url_key, raw if isinstance(raw, str) else None, False, one_click)


def tasks(exp: Expectations, ctx: Context) -> Iterable[Task]:
    target = one_click_target(exp)
    if target is not None:
        yield Task(target.label, CHECK, partial(check_one_click, ctx, target))


class _Hide:
    """A secret URL's text (and its parts) out of every result string."""

    def __init__(self, target: OneClickTarget, parts: Iterable[str]) -> None:
        texts = [target.url or "", *parts] if target.secret else []
        self._redactor = Redactor(texts)
        # host names shorter than the Redactor's minimum are still a secret's part
        self._short = sorted({t for t in texts if t and len(t) >= 3}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        text = self._redactor.text(text)
        for part in self._short:
            text = text.replace(part, SECRET_TEXT)
        return text


async def check_one_click(ctx: Context, target: OneClickTarget) -> list[CheckResult]:
    label = target.label
    if target.url is None:
        if target.secret:
            why = "a secure config value this plan does not hold: its one-click POST was not checked (plan with the real engine)"
            return [result(label, CHECK, "warn", _EXPECTED, "", why)]
        return [result(label, CHECK, "fail", _EXPECTED, "", "compliance.unsubscribeUrl is not a string")]
    if not target.one_click:
        why = (
            "compliance.oneClickUnsubscribe is false: no one-click endpoint to check (Gmail and Yahoo require one for bulk mail)"
        )
        return [result(label, CHECK, "warn", _EXPECTED, "", why)]
    try:
        where = unsub_std.endpoint(target.url)
    except StandardError as exc:
        return [result(label, CHECK, "fail", _EXPECTED, "", str(exc))]
    hide = _Hide(target, (where.host, where.target, f"{where.host}:{where.port}"))
    out = await _probe(ctx, where, label)
    return [result(r.name, r.check, r.status, r.expected, hide(r.found), hide(r.message)) for r in out]


async def _probe(ctx: Context, where: unsub_std.Endpoint, label: str) -> list[CheckResult]:
    lookup = await ctx.client.lookup_host(where.host)
    if not lookup.addresses:
        reason = f"cannot resolve {where.host}: {lookup.reason}"
        if lookup.status == "error":
            return [could_not_check(label, CHECK, _EXPECTED, reason)]
        return [result(label, CHECK, "fail", _EXPECTED, "", reason)]
    last = ""
    for ip in lookup.addresses:
        try:
            status, location = await asyncio.wait_for(_exchange(ctx, ip, where), timeout=2 * ctx.timeout)
        except ssl.SSLError as exc:  # a bad certificate is a finding, not a network fault
            return [result(label, CHECK, "fail", _EXPECTED, f"at {ip}", describe_error(exc))]
        except _Garbled as exc:
            return [result(label, CHECK, "fail", _EXPECTED, f"at {ip}", f"not an HTTP answer: {exc}")]
        except (OSError, asyncio.TimeoutError) as exc:
            last = f"{ip}: {'timed out' if isinstance(exc, asyncio.TimeoutError) else describe_error(exc)}"
            continue
        problems = unsub_std.check_response(status, _printable(location))
        found = f"HTTP {status}" + (f", Location {_printable(location)}" if location else "")
        if problems:
            return [result(label, CHECK, "fail", _EXPECTED, found, "; ".join(problems))]
        return [result(label, CHECK, "pass", _EXPECTED, found)]
    return [could_not_check(label, CHECK, _EXPECTED, f"cannot POST: {last}")]


class _Garbled(Exception):
    """The server's answer is not HTTP/1.x (or breaks a size limit)."""


def _printable(text: str, limit: int = 200) -> str:
    clean = "".join(ch if ch.isprintable() else "?" for ch in text)
    return clean if len(clean) <= limit else clean[: limit - 3] + "..."


async def _exchange(ctx: Context, ip: str, where: unsub_std.Endpoint) -> tuple[int, str]:
    """(status, Location) of the one-click POST sent to ``ip`` with SNI and certificate
    checks for the endpoint's host. Raises ssl / OS errors, _Garbled."""
    request = unsub_std.one_click_request()
    authority = where.host if where.port == 443 else f"{where.host}:{where.port}"
    reader, writer = await asyncio.open_connection(
        ip,
        where.port,
        ssl=client_context(ctx.ca_file),
        server_hostname=where.host,
        ssl_handshake_timeout=ctx.timeout,
        limit=MAX_LINE,
    )
    try:
        head = (
            f"{request.method} {where.target} HTTP/1.1\r\n"
            f"Host: {authority}\r\n"
            "User-Agent: mailinfra-verify\r\n"
            f"Content-Type: {request.content_type}\r\n"
            f"Content-Length: {len(request.body)}\r\n"
            "Connection: close\r\n\r\n"
        )
        writer.write(head.encode("ascii") + request.body)
        await writer.drain()
        for _ in range(MAX_INTERIM + 1):
            status, headers = await _read_head(reader)
            if status >= 200:
                return status, headers.get("location", "")
        raise _Garbled(f"more than {MAX_INTERIM} interim (1xx) answers")
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(writer.wait_closed(), timeout=1)


async def _readline(reader: asyncio.StreamReader) -> bytes:
    try:
        return await reader.readline()
    except (ValueError, asyncio.LimitOverrunError):
        raise _Garbled(f"a line longer than {MAX_LINE} bytes") from None
    except asyncio.IncompleteReadError:
        raise _Garbled("the connection closed mid-answer") from None


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    line = await _readline(reader)
    if not line:
        raise _Garbled("the connection closed without an answer")
    match = _STATUS.match(line)
    if match is None:
        raise _Garbled(f"status line {_printable(line.decode('latin-1'), 60)!r}")
    total = len(line)
    headers: dict[str, str] = {}
    for _ in range(MAX_HEADERS + 1):
        line = await _readline(reader)
        total += len(line)
        if total > MAX_HEAD_BYTES:
            raise _Garbled(f"headers over {MAX_HEAD_BYTES} bytes")
        if line in (b"\r\n", b"\n"):
            return int(match.group(1)), headers
        if not line:
            raise _Garbled("the connection closed mid-headers")
        name, colon, value = line.decode("latin-1").partition(":")
        if not colon or not name.strip():
            raise _Garbled(f"header line {_printable(line.decode('latin-1'), 60)!r}")
        headers.setdefault(name.strip().lower(), value.strip())
    raise _Garbled(f"more than {MAX_HEADERS} headers")
