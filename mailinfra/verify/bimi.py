"""BIMI live check: the logo and the evidence document each declared BIMI record points to.

Checks:
- ``bimi-logo``: the ``l=`` URL is served over HTTPS (certificate valid for its host:
  the system CAs or ``--ca-file``), with 200, and the body passes
  ``standards.bimi.check_logo`` (image/svg+xml, at most 32 KiB, SVG Tiny PS basics).
- ``bimi-authority``: the ``a=`` URL (VMC/CMC), fetched the same way, passes
  ``standards.bimi.check_authority`` (PEM, in date at the run's time, names the domain).

The record's URLs come from the plan (the ``record`` check proves the declared value is
live); a value known only after deploy is read from the live TXT. Only fetching and
reporting happen here: the rules are in ``policies/mailinfra_policy/standards/bimi.py``.
"""

from __future__ import annotations

import asyncio
import http.client
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from urllib.parse import urlsplit

from mailinfra.policies.mailinfra_policy.standards import bimi as bimi_std
from mailinfra.policies.mailinfra_policy.standards.errors import Problem, StandardError

from .context import Context, Task, records_for
from .expect import Expectations, ExpectedRecord
from .report import CheckResult
from .result import could_not_check, dns_problem, result, short
from .tls import HttpsResponse, describe_error, https_get

__all__ = ["CHECKS", "Fetched", "check_bimi", "fetch", "tasks"]

CHECKS = ("bimi-logo", "bimi-authority")


@dataclass(frozen=True)
class Fetched:
    """An HTTPS GET: ``response`` when a server answered, else ``status`` / ``reason``
    say why not (``fail``: bad certificate, NXDOMAIN; ``error``: could not tell)."""

    response: HttpsResponse | None
    status: str = ""
    reason: str = ""


async def fetch(ctx: Context, url: str, max_bytes: int, accept: str) -> Fetched:
    """GET ``url`` through verify's resolver (``--nameserver``) with the shared HTTPS client."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    port = parts.port or 443
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lookup = await ctx.client.lookup_host(host)
    if not lookup.addresses:
        return Fetched(None, "error" if lookup.status == "error" else "fail", f"cannot resolve {host}: {lookup.reason}")
    last = ""
    for ip in lookup.addresses:
        try:
            response = await asyncio.to_thread(https_get, ip, port, host, path, ctx.timeout, ctx.ca_file, max_bytes, accept)
        except (ssl.SSLError, ssl.CertificateError) as exc:
            return Fetched(None, "fail", f"at {ip}: {describe_error(exc)}")
        except (OSError, http.client.HTTPException) as exc:
            last = f"{ip}: {describe_error(exc)}"
            continue
        return Fetched(response)
    return Fetched(None, "error", f"cannot fetch {url}: {last}")


def tasks(exp: Expectations, ctx: Context) -> Iterable[Task]:
    for rec in records_for(exp, "bimi"):
        if rec.name:
            yield Task(rec.name, "bimi-logo", partial(check_bimi, ctx, rec))


async def _record_text(ctx: Context, rec: ExpectedRecord) -> tuple[str | None, CheckResult | None]:
    if rec.values:
        return rec.values[0], None
    assert rec.name is not None
    answer = await ctx.client.query(rec.name, "TXT")
    expected = "a v=BIMI1 record"
    if not answer.ok:
        return None, dns_problem(rec.name, "bimi-logo", answer, expected)
    try:
        return bimi_std.select(answer.txt()), None
    except StandardError as exc:
        return None, result(rec.name, "bimi-logo", "fail", expected, short(answer.txt()) or "none", str(exc))


def _judged(url: str, check: str, expected: str, found: str, problems: list[Problem]) -> CheckResult:
    refusals = [p for p in problems if p.code not in bimi_std.ADVISORY]
    status = "fail" if refusals else ("warn" if problems else "pass")
    return result(url, check, status, expected, found, "; ".join(problems))


async def check_bimi(ctx: Context, rec: ExpectedRecord) -> list[CheckResult]:
    """The logo (and the authority, when ``a=`` is given) of one BIMI record."""
    text, problem = await _record_text(ctx, rec)
    if problem is not None or text is None:
        return [problem] if problem is not None else []
    name = rec.name or ""
    try:
        record = bimi_std.parse_bimi(text)
    except StandardError as exc:
        return [result(name, "bimi-logo", "fail", "a valid BIMI record", text, str(exc))]
    if record.logo is None:
        return [result(name, "bimi-logo", "pass", "a logo, or a declination", "declination (empty l=)")]
    out = [await _check_logo(ctx, record.logo)]
    if record.authority is not None:
        out.append(await _check_authority(ctx, record.authority, rec.domain))
    return out


async def _served(
    ctx: Context, url: str, check: str, expected: str, max_bytes: int, accept: str, what: str
) -> HttpsResponse | CheckResult:
    """The 200 response of ``url`` (logo and evidence alike: no redirects), else the result saying why not."""
    got = await fetch(ctx, url, max_bytes, accept)
    if got.response is None:
        if got.status == "error":
            return could_not_check(url, check, expected, got.reason)
        return result(url, check, "fail", expected, "", got.reason)
    if got.response.status != 200:
        return result(
            url, check, "fail", expected, f"HTTP {got.response.status}", f"{what} must be served with 200 (no redirects)"
        )
    return got.response


async def _check_logo(ctx: Context, url: str) -> CheckResult:
    check = "bimi-logo"
    expected = f"HTTP 200 {bimi_std.LOGO_CONTENT_TYPE}, at most {bimi_std.LOGO_MAX_BYTES} bytes, SVG Tiny PS, trusted certificate"
    response = await _served(ctx, url, check, expected, bimi_std.LOGO_MAX_BYTES, bimi_std.LOGO_CONTENT_TYPE, "the logo")
    if isinstance(response, CheckResult):
        return response
    size = f"{len(response.body)}+" if len(response.body) > bimi_std.LOGO_MAX_BYTES else str(len(response.body))
    found = f"{response.content_type or 'no Content-Type'}, {size} bytes"
    return _judged(url, check, expected, found, bimi_std.check_logo(response.body, response.content_type))


async def _check_authority(ctx: Context, url: str, domain: str) -> CheckResult:
    check = "bimi-authority"
    expected = f"HTTP 200, a PEM mark certificate (VMC/CMC) in date naming {domain}"
    response = await _served(
        ctx, url, check, expected, bimi_std.AUTHORITY_MAX_BYTES, "application/pem-certificate-chain, */*", "the authority"
    )
    if isinstance(response, CheckResult):
        return response
    if len(response.body) > bimi_std.AUTHORITY_MAX_BYTES:
        return result(url, check, "fail", expected, f"over {bimi_std.AUTHORITY_MAX_BYTES} bytes", "evidence document too large")
    problems = bimi_std.check_authority(response.body, domain, ctx.utcnow())
    return _judged(url, check, expected, _summary(response.body), problems)


def _summary(pem: bytes) -> str:
    """Subject names and expiry of the mark certificate, for the report ("" if it does not parse)."""
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificates(pem)[0]
    except ValueError:
        return f"{len(pem)} bytes, not PEM certificates"
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = ", ".join(san.get_values_for_type(x509.DNSName)) or "none"
    except x509.ExtensionNotFound:
        names = "none"
    return f"expires {cert.not_valid_after_utc:%Y-%m-%d}, names {names}"
