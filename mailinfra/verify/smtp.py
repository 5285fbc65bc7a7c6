"""SMTP STARTTLS on the relays (``--smtp``) and the declared MX hosts, with ``smtplib``.

Checks: ``smtp-starttls`` (STARTTLS advertised in EHLO), ``smtp-starttls-required``
(relays: ``MAIL`` before STARTTLS is refused with 5xx), ``smtp-tls-version`` (TLS 1.2
or newer), ``smtp-certificate`` (valid for the host name, not within
``CERT_MIN_DAYS`` of expiry).

smtplib observes all of it: the EHLO keywords (``has_extn``), the reply code to
``MAIL`` (``mail()``), and after ``starttls(context=...)`` the ``ssl.SSLSocket`` it
wraps (``version()``, ``getpeercert()``). The only thing it cannot do by itself is
connect to an address we resolved through ``--nameserver`` while keeping the host
name for SNI and the certificate check: ``_Smtp`` overrides ``_get_socket``, the hook
``smtplib.SMTP_SSL`` itself uses, and the constructor's ``host`` stays the
name ``starttls`` checks (smtplib passes the constructor's host as ``server_hostname``).
"""

from __future__ import annotations

import asyncio
import smtplib
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial

from .context import Context, Task, records_for
from .expect import Expectations, mx_exchange
from .report import CheckResult
from .resolver import parse_hostport
from .result import result
from .tls import CERT_MIN_DAYS, cert_summary, client_context, describe_error, peer_chain

__all__ = ["CHECKS", "SmtpProbe", "check_smtp", "mx_hosts", "probe", "targets", "tasks"]

CHECKS = ("smtp-starttls", "smtp-starttls-required", "smtp-tls-version", "smtp-certificate")

EHLO_NAME = "mailinfra-verify.invalid"  # never socket.getfqdn(): no DNS of our own host
_PROBE_SENDER = "verify@mailinfra.invalid"


@dataclass
class SmtpProbe:
    starttls: bool = False
    ehlo: list[str] | None = None  # EHLO reply lines; None when no EHLO exchange happened
    plaintext_mail_code: int | None = None
    plaintext_mail_reply: str = ""
    tls_version: str | None = None
    cert_der: bytes | None = None  # the leaf certificate
    chain_der: list[bytes] = field(default_factory=list)  # as sent, leaf first
    verify_error: str = ""
    error: str = ""


class _Smtp(smtplib.SMTP):
    """``smtplib.SMTP`` connected to ``ip``; ``host`` stays the name ``starttls`` uses for
    SNI and the certificate check (smtplib keeps the constructor's host in ``_host``)."""

    def __init__(self, ip: str, host: str, port: int, timeout: float) -> None:
        self._ip = ip
        # connects and reads the greeting (SMTPConnectError unless 220)
        super().__init__(host, port, local_hostname=EHLO_NAME, timeout=timeout)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return socket.create_connection((self._ip, port), timeout, self.source_address)


class _ProbeError(Exception):
    pass


def _text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())


def _session(
    ip: str,
    port: int,
    host: str,
    timeout: float,
    context: ssl.SSLContext,
    probe: SmtpProbe,
    try_mail: bool,
) -> None:
    smtp = _Smtp(ip, host, port, timeout)
    try:
        code, reply = smtp.ehlo()
        if code != 250:
            raise _ProbeError(f"EHLO refused: {code} {_text(reply)[:80]}")
        probe.ehlo = _text(reply).splitlines() or [""]
        probe.starttls = smtp.has_extn("starttls")
        if try_mail:
            code, reply = smtp.mail(_PROBE_SENDER)
            probe.plaintext_mail_code, probe.plaintext_mail_reply = code, _text(reply)[:120]
            if code == 250:
                smtp.rset()
        if not probe.starttls:
            smtp.quit()
            return
        smtp.starttls(context=context)  # SMTPResponseException unless 220; ssl errors
        tls = smtp.sock
        assert isinstance(tls, ssl.SSLSocket)
        probe.tls_version = tls.version()
        probe.cert_der = tls.getpeercert(binary_form=True)
        probe.chain_der = peer_chain(tls)
        try:
            smtp.ehlo()
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            pass  # what we came for is observed; a rude goodbye is not a finding
    finally:
        smtp.close()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPConnectError):
        return f"greeting {exc.smtp_code} {_text(exc.smtp_error)[:80]}"
    if isinstance(exc, smtplib.SMTPResponseException):  # starttls() got no 220
        return f"STARTTLS refused: {exc.smtp_code} {_text(exc.smtp_error)[:80]}"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return "connection closed by the server"
    if isinstance(exc, smtplib.SMTPException | _ProbeError):
        return str(exc)
    return describe_error(exc)


def probe(
    ip: str,
    port: int,
    host: str,
    timeout: float,
    ca_file: str | None,
    *,
    try_mail: bool = False,
    verify: bool = True,
) -> SmtpProbe:
    """One SMTP session to ``ip:port`` for ``host``: EHLO, optionally a clear-text MAIL,
    STARTTLS. Never raises for what the server does; see ``SmtpProbe``."""
    found = SmtpProbe()
    try:
        _session(ip, port, host, timeout, client_context(ca_file, verify=verify), found, try_mail)
    except ssl.SSLError as exc:  # includes certificate verification errors
        found.verify_error = describe_error(exc)
        if verify:
            # again without verification, to report the version and certificate offered
            retry = SmtpProbe()
            try:
                _session(ip, port, host, timeout, client_context(ca_file, verify=False), retry, False)
            except (OSError, smtplib.SMTPException, _ProbeError):
                pass
            found.tls_version, found.cert_der, found.chain_der = retry.tls_version, retry.cert_der, retry.chain_der
    except (OSError, smtplib.SMTPException, _ProbeError) as exc:
        found.error = _reason(exc)
    return found


# ---------------------------------------------------------------------------- targets


def mx_hosts(exp: Expectations) -> list[str]:
    """The declared MX hosts (kinds with the "smtp" check: not SES's MAIL FROM feedback MX), in order."""
    hosts = {mx_exchange(value): None for rec in records_for(exp, "smtp") for value in rec.values or ()}
    return [h for h in hosts if h]


def targets(exp: Expectations, ctx: Context) -> list[tuple[str, int, bool]]:
    """``--smtp HOST:PORT`` (relays: STARTTLS required), else the declared MX hosts on
    ``--smtp-port`` (25: STARTTLS offered is enough)."""
    if ctx.options.smtp:
        return [(*parse_hostport(v, 587, "--smtp"), True) for v in ctx.options.smtp]
    return [(host, ctx.smtp_port, False) for host in mx_hosts(exp)]


def tasks(exp: Expectations, ctx: Context) -> Iterable[Task]:
    for host, port, required in targets(exp, ctx):
        yield Task(f"{host}:{port}", "smtp-starttls", partial(check_smtp, ctx, host, port, required))


# ---------------------------------------------------------------------------- check


async def check_smtp(ctx: Context, host: str, port: int, require_starttls: bool) -> list[CheckResult]:
    """STARTTLS offered (and, for relays, required), TLS >= 1.2, a certificate valid for
    ``host`` and not within ``CERT_MIN_DAYS`` days of expiry."""
    label = f"{host}:{port}"
    offered = "STARTTLS offered"
    lookup = await ctx.client.lookup_host(host)
    if not lookup.addresses:
        status = "error" if lookup.status == "error" else "fail"
        return [result(label, "smtp-starttls", status, offered, "", f"cannot resolve {host}: {lookup.reason}")]
    found: SmtpProbe | None = None
    for ip in lookup.addresses:
        found = await asyncio.to_thread(probe, ip, port, host, ctx.timeout, ctx.ca_file, try_mail=require_starttls)
        if not found.error or found.ehlo is not None:
            break
    assert found is not None
    if found.ehlo is None:
        return [result(label, "smtp-starttls", "error", offered, "", found.error or found.verify_error)]
    out: list[CheckResult] = []
    if not found.starttls:
        out.append(
            result(label, "smtp-starttls", "fail", offered, "no STARTTLS in EHLO", "mail to this host travels in clear text")
        )
        if require_starttls:
            out.append(_plaintext_result(label, found))
        return out
    out.append(result(label, "smtp-starttls", "pass", offered, offered))
    if require_starttls:
        out.append(_plaintext_result(label, found))
    version = "TLSv1.2 or newer"
    if found.tls_version is None:
        out.append(result(label, "smtp-tls-version", "fail", version, "", found.verify_error or found.error))
        return out
    good = found.tls_version in ("TLSv1.2", "TLSv1.3")
    out.append(result(label, "smtp-tls-version", "pass" if good else "fail", version, found.tls_version))
    expected = f"a certificate valid for {host}, not within {CERT_MIN_DAYS} days of expiry"
    if found.cert_der is None:
        out.append(result(label, "smtp-certificate", "fail", expected, "no certificate", found.verify_error))
        return out
    try:
        _cert, summary, days = cert_summary(found.cert_der, ctx.utcnow())
    except ValueError as exc:
        out.append(result(label, "smtp-certificate", "fail", expected, "unparseable certificate", str(exc)))
        return out
    if found.verify_error:
        out.append(result(label, "smtp-certificate", "fail", expected, summary, found.verify_error))
    elif days < CERT_MIN_DAYS:
        out.append(result(label, "smtp-certificate", "fail", expected, summary, f"expires in {days} days (< {CERT_MIN_DAYS})"))
    else:
        out.append(result(label, "smtp-certificate", "pass", expected, summary))
    return out


def _plaintext_result(label: str, found: SmtpProbe) -> CheckResult:
    expected = "MAIL refused before STARTTLS (5xx)"
    code = found.plaintext_mail_code
    seen = f"{code} {found.plaintext_mail_reply}".strip() if code is not None else "not tried"
    if code is not None and 500 <= code < 600:
        return result(label, "smtp-starttls-required", "pass", expected, seen)
    return result(label, "smtp-starttls-required", "fail", expected, seen, "the host accepts mail without TLS")
