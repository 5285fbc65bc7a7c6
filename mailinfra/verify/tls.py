"""TLS pieces shared by the HTTPS (MTA-STS, BIMI) and SMTP probes.

Connections go to an address verify resolved itself (through ``--nameserver``) while
the host name is used for SNI and the certificate check, so tests can point real
names at loopback.
"""

from __future__ import annotations

import _ssl
import http.client
import socket
import ssl
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509

__all__ = [
    "CERT_MIN_DAYS",
    "HttpsResponse",
    "cert_summary",
    "client_context",
    "describe_error",
    "https_get",
    "peer_chain",
]

CERT_MIN_DAYS = 14


def client_context(ca_file: str | None, *, verify: bool = True) -> ssl.SSLContext:
    """Verifying: the system CAs (or only ``ca_file``), TLS >= 1.2, host name checked.
    Not verifying: any certificate and any version, to report what the server offers."""
    if verify:
        ctx = ssl.create_default_context(cafile=ca_file)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        return ctx
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    return ctx


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificate verification failed: {exc.verify_message}"
    if isinstance(exc, ssl.CertificateError):
        return f"certificate verification failed: {exc}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake failed: {exc.reason or exc}"
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return f"{type(exc).__name__}: {exc}"


def cert_summary(der: bytes, now: datetime) -> tuple[x509.Certificate, str, int]:
    """(certificate, "expires YYYY-MM-DD (N days), names ...", days left). ValueError if unparseable."""
    cert = x509.load_der_x509_certificate(der)
    not_after = cert.not_valid_after_utc
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = san.get_values_for_type(x509.DNSName) + [str(i) for i in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        names = []
    days = int((not_after - now).total_seconds() // 86400)
    summary = f"expires {not_after:%Y-%m-%d} ({days} days), names {', '.join(names) or 'none'}"
    return cert, summary, days


def peer_chain(tls: ssl.SSLSocket) -> list[bytes]:
    """The DER certificates the server sent, leaf first (DANE needs more than the leaf).

    ``SSLSocket.get_unverified_chain`` is public from Python 3.13; 3.10-3.12 have it on
    the underlying ``_ssl`` object only. Falls back to the leaf alone.
    """
    getter = getattr(tls, "get_unverified_chain", None) or getattr(getattr(tls, "_sslobj", None), "get_unverified_chain", None)
    if getter is not None:
        try:
            chain = getter() or []
            der = getattr(_ssl, "ENCODING_DER", 1)
            return [c if isinstance(c, bytes) else c.public_bytes(der) for c in chain]
        except (AttributeError, ValueError, ssl.SSLError):
            pass
    leaf = tls.getpeercert(binary_form=True)
    return [leaf] if leaf else []


@dataclass(frozen=True)
class HttpsResponse:
    status: int
    content_type: str
    body: bytes  # at most ``max_bytes + 1`` bytes: longer means too long


def https_get(
    ip: str,
    port: int,
    host: str,
    path: str,
    timeout: float,
    ca_file: str | None,
    max_bytes: int,
    accept: str = "*/*",
) -> HttpsResponse:
    """GET ``https://host:port/path`` from ``ip`` (SNI and certificate checks for ``host``),
    no redirects followed. Raises ssl / OSError / http.client errors."""
    raw = socket.create_connection((ip, port), timeout=timeout)
    try:
        tls = client_context(ca_file).wrap_socket(raw, server_hostname=host)
    except BaseException:
        raw.close()
        raise
    conn = http.client.HTTPSConnection(host, port, timeout=timeout)
    conn.sock = tls  # already connected to the address we resolved: http.client does not reconnect
    try:
        conn.request(
            "GET",
            path,
            headers={"User-Agent": "mailinfra-verify", "Accept": accept, "Connection": "close"},
        )
        response = conn.getresponse()
        body = response.read(max_bytes + 1)
        return HttpsResponse(response.status, response.getheader("Content-Type", "") or "", body)
    finally:
        conn.close()
