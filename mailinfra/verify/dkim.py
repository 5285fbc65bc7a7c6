"""DKIM checks of `mailinfra verify`.

``dkim-key``: the selector's live key record (also behind an Easy DKIM CNAME) is
selected, parsed and judged by ``standards.dkim`` (``select``, ``parse_dkim_record``,
``check_dkim``). ``dkim-sign``: with ``--dkim-key``, a test message signed with the
user's key (dkimpy) verifies against the live record.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from functools import partial
from typing import Any

from mailinfra.policies.mailinfra_policy.standards import dkim as dkim_std
from mailinfra.policies.mailinfra_policy.standards.errors import StandardError

from .context import Context, Task, records_for
from .errors import VerifyInputError
from .expect import Expectations, ExpectedRecord
from .report import CheckResult
from .result import could_not_check, dns_problem, result

__all__ = ["CHECKS", "check_dkim_key", "check_dkim_sign", "tasks"]

CHECKS = ("dkim-key", "dkim-sign")

# check_dkim codes that make a key unusable (the others are advice: warn)
_FAILING = frozenset({"dkim-syntax", "dkim-rsa-too-short", "dkim-sha1-only"})


def tasks(exp: Expectations, ctx: Context) -> Iterable[Task]:
    for rec in records_for(exp, "dkim-key"):
        if rec.name and (rec.type == "TXT" or rec.values is not None):  # a CNAME needs its target
            yield Task(rec.name, "dkim-key", partial(check_dkim_key, ctx, rec))
    options = ctx.options
    if options.dkim_key and options.dkim_selector:
        key = _read_key(options.dkim_key)
        domains = sorted({r.domain for r in records_for(exp, "dkim-sign")} or {r.domain for r in records_for(exp, "dmarc")})
        for domain in domains:
            yield Task(domain, "dkim-sign", partial(check_dkim_sign, ctx, domain, options.dkim_selector, key))


def _read_key(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise VerifyInputError(f"--dkim-key: cannot read {path!r}: {exc.strerror or exc}") from None


def _declared_revoked(rec: ExpectedRecord) -> bool:
    def revoked(value: str) -> bool:
        try:
            return dkim_std.parse_dkim_record(value).revoked
        except StandardError:
            return False

    return bool(rec.values) and rec.purpose == "dkim" and all(revoked(v) for v in rec.values or ())


async def check_dkim_key(ctx: Context, rec: ExpectedRecord) -> list[CheckResult]:
    """The selector's key record: exactly one, it parses, and ``check_dkim`` finds no fault."""
    assert rec.name is not None
    name, check = rec.name, "dkim-key"
    expected = f"a DKIM key, RSA >= {dkim_std.MIN_RSA_BITS} bits or Ed25519"
    answer = await ctx.client.query(name, "TXT")
    if not answer.ok:
        return [dns_problem(name, check, answer, expected)]
    try:
        text = dkim_std.select(answer.txt())
        key = dkim_std.parse_dkim_record(text)
    except StandardError as exc:
        return [result(name, check, "fail", expected, f"{len(answer.txt())} TXT value(s)", str(exc))]
    if key.revoked:
        declared = _declared_revoked(rec)
        message = "key revoked" + (" as declared" if declared else "")
        return [result(name, check, "pass" if declared else "fail", expected, "revoked key (empty p=)", message)]
    found = f"{key.key_type} {key.key_bits} bits"
    problems = dkim_std.check_dkim(text)
    if not problems:
        return [result(name, check, "pass", expected, found)]
    failing = any(getattr(p, "code", "dkim-syntax") in _FAILING for p in problems)
    return [result(name, check, "fail" if failing else "warn", expected, found, "; ".join(problems))]


async def check_dkim_sign(ctx: Context, domain: str, selector: str, private_key_pem: bytes) -> list[CheckResult]:
    """Sign a test message with the user's key (dkimpy) and verify it against the live record.

    When DNS gave no usable answer for the key, the result is ``error`` (could not check),
    not a failed signature.
    """
    import dkim  # type: ignore[import-untyped]

    name = dkim_std.dkim_name(selector, domain)  # the selector was validated with the options
    expected = "signature verifies against the live key"
    loop = asyncio.get_running_loop()
    dns_errors: list[str] = []

    def dnsfunc(qname: Any, timeout: int = 5) -> bytes | None:
        text = qname.decode("ascii", "replace") if isinstance(qname, bytes) else str(qname)
        answer = ctx.client.query_sync(text.rstrip("."), "TXT", loop)
        if answer.status == "error":
            dns_errors.append(answer.reason)
        if not answer.ok:
            return None
        try:
            value = dkim_std.select(answer.txt())
        except StandardError:
            return None
        return value.encode("utf-8")

    def run() -> tuple[bool, str]:
        message = (
            f"From: mailinfra verify <verify@{domain}>\r\nTo: <verify@{domain}>\r\n"
            f"Subject: mailinfra verify DKIM test\r\nDate: {ctx.utcnow():%a, %d %b %Y %H:%M:%S +0000}\r\n"
            f"Message-ID: <verify.{selector}@{domain}>\r\n\r\nThis message checks the live DKIM key.\r\n"
        ).encode()
        try:
            sig = dkim.sign(
                message,
                selector.encode(),
                domain.encode(),
                private_key_pem,
                include_headers=[b"from", b"to", b"subject", b"date", b"message-id"],
            )
        except Exception as exc:  # noqa: BLE001 - a bad user key: never echo key material
            return False, f"cannot sign with the given key: {type(exc).__name__}"
        try:
            ok = dkim.verify(sig + message, dnsfunc=dnsfunc, minkey=1024)
        except Exception as exc:  # noqa: BLE001 - dkimpy raises many types; report, never crash
            return False, f"verification error: {type(exc).__name__}: {exc}"
        return bool(ok), "" if ok else "signature did not verify against the live key"

    ok, msg = await asyncio.to_thread(run)
    if not ok and dns_errors:
        return [could_not_check(name, "dkim-sign", expected, "; ".join(dict.fromkeys(dns_errors)))]
    return [result(name, "dkim-sign", "pass" if ok else "fail", expected, "verified" if ok else "not verified", msg)]
