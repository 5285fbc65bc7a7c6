"""Real parts for the verify tests, all on loopback.

- ``knot``: a factory that starts Knot DNS (``knotd``) on 127.0.0.1 at a free high port
  with zone files written here, waits until it answers, and stops it by its pid.
- ``pki``: a test CA and leaf certificates made with cryptography (one valid for the
  relay/MX/mta-sts names, one expired).
- ``https_server``: stdlib http.server + ssl serving ``/.well-known/mta-sts.txt``
  from a mutable dict (so a test can serve a bad policy).
- ``smtp_servers``: aiosmtpd hosts: ``good`` (STARTTLS required), ``plain`` (no
  STARTTLS), ``expired`` (STARTTLS with an expired certificate).
- ``world``: the good zones + plan of one sending domain, built from those parts.
- ``run``: ``run(world, **options)`` starts Knot with the world's zones and verifies
  against it (``options()`` builds the VerifyOptions the tests share).
"""

from __future__ import annotations

import datetime as dt
import http.server
import os
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import dns.message
import dns.query
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from mailinfra.verify import Report, VerifyOptions, run_verify
from mailinfra.policies.mailinfra_policy.standards import mtasts as mtasts_std
from mailinfra.policies.mailinfra_policy.standards import txt as txt_std

from .knot import INSTALL_HINT, KNOTD, free_port, write_setup


# ----------------------------------------------------------------------------- Knot


def zone_text(origin: str, records: list[tuple[str, str, str]]) -> str:
    """A zone file: SOA + NS + the given (owner, type, rdata-text) records."""
    lines = [
        f"$ORIGIN {origin}.",
        "$TTL 300",
        f"@ SOA ns.{origin}. hostmaster.{origin}. 1 3600 600 86400 300",
        f"@ NS ns.{origin}.",
        "ns A 127.0.0.1",
    ]
    for owner, rtype, rdata in records:
        lines.append(f"{owner} {rtype} {rdata}")
    return "\n".join(lines) + "\n"


def txt_rdata(value: str) -> str:
    """A logical TXT value as zone-file rdata (split into <=255-byte strings)."""
    return txt_std.to_rdata_text(value)


@dataclass
class KnotServer:
    port: int
    pid: int
    proc: subprocess.Popen[bytes]
    workdir: str

    @property
    def nameserver(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.pid, 15)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, 9)
                self.proc.wait(timeout=5)


def _start_knot(zones: dict[str, str]) -> KnotServer:
    if KNOTD is None:
        if os.environ.get("CI"):
            pytest.fail(f"knotd not found on CI. {INSTALL_HINT}", pytrace=False)
        pytest.fail(f"knotd not found. {INSTALL_HINT}", pytrace=False)
    work = tempfile.mkdtemp(prefix="knot-")
    port = free_port()
    conf = write_setup(work, zones, port)
    log = open(os.path.join(work, "knotd.log"), "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen([KNOTD, "-c", conf], stdout=log, stderr=subprocess.STDOUT)
    server = KnotServer(port, proc.pid, proc, work)
    first = next(iter(zones))
    deadline = time.monotonic() + 10
    while True:
        if proc.poll() is not None:
            log.close()
            with open(os.path.join(work, "knotd.log"), encoding="utf-8", errors="replace") as f:
                pytest.fail(f"knotd exited with {proc.returncode}: {f.read()[-2000:]}")
        try:
            q = dns.message.make_query(f"{first}.", "SOA")
            r = dns.query.udp(q, "127.0.0.1", port=port, timeout=0.2)
            if r.answer:
                break
        except Exception:  # noqa: BLE001, S110 - not up yet
            pass
        if time.monotonic() > deadline:
            server.stop()
            pytest.fail("knotd did not answer within 10 s")
        time.sleep(0.05)
    log.close()
    return server


@pytest.fixture
def knot() -> Iterator[Callable[[dict[str, str]], KnotServer]]:
    """Factory: ``knot({origin: zone_text})`` -> a running KnotServer, stopped at teardown."""
    started: list[KnotServer] = []

    def start(zones: dict[str, str]) -> KnotServer:
        server = _start_knot(zones)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
        shutil.rmtree(server.workdir, ignore_errors=True)


# ----------------------------------------------------------------------------- PKI

NOW = dt.datetime.now(dt.timezone.utc)


@dataclass
class Pki:
    dir: str
    ca_file: str
    good_cert: str
    good_key: str
    expired_cert: str
    expired_key: str
    dkim_private_pem: bytes
    dkim_public_b64: str
    other_private_pem: bytes


def _write(path: str, data: bytes) -> str:
    with open(path, "wb") as f:
        f.write(data)
    return path


def _leaf(
    ca_key: Any,
    ca_name: x509.Name,
    names: list[str],
    not_before: dt.datetime,
    not_after: dt.datetime,
) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in names]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = str(tmp_path_factory.mktemp("pki"))
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mailinfra test CA")])
    ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = _write(os.path.join(d, "ca.pem"), ca.public_bytes(serialization.Encoding.PEM))
    names = [
        "relay.example.com",
        "mx1.example.com",
        "mta-sts.example.com",
        "expired.example.com",
        "plain.example.com",
    ]
    good_cert, good_key = _leaf(ca_key, ca_name, names, NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=90))
    old_cert, old_key = _leaf(ca_key, ca_name, names, NOW - dt.timedelta(days=90), NOW - dt.timedelta(days=2))
    dkim_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    import base64

    pub_der = dkim_key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    pem = serialization.Encoding.PEM
    return Pki(
        dir=d,
        ca_file=ca_file,
        good_cert=_write(os.path.join(d, "good.pem"), good_cert),
        good_key=_write(os.path.join(d, "good.key"), good_key),
        expired_cert=_write(os.path.join(d, "expired.pem"), old_cert),
        expired_key=_write(os.path.join(d, "expired.key"), old_key),
        dkim_private_pem=dkim_key.private_bytes(
            pem,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ),
        dkim_public_b64=base64.b64encode(pub_der).decode(),
        other_private_pem=other.private_bytes(
            pem,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ),
    )


def server_context(cert: str, key: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    return ctx


# ----------------------------------------------------------------------------- HTTPS


@dataclass
class HttpsServer:
    port: int
    files: dict[str, tuple[int, str, bytes]] = field(default_factory=dict)  # path -> (status, ctype, body)


@pytest.fixture(scope="session")
def https_server(pki: Pki) -> Iterator[HttpsServer]:
    state = HttpsServer(port=0)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, ctype, body = state.files.get(self.path, (404, "text/plain", b"not found\n"))
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = server_context(pki.good_cert, pki.good_key).wrap_socket(httpd.socket, server_side=True)
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


# ----------------------------------------------------------------------------- SMTP


@dataclass
class SmtpServers:
    good: int
    plain: int
    expired: int


@pytest.fixture(scope="session")
def smtp_servers(pki: Pki) -> Iterator[SmtpServers]:
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Sink

    controllers = []

    def start(**kwargs: Any) -> int:
        port = free_port()
        c = Controller(
            Sink(),
            hostname="127.0.0.1",
            port=port,
            server_hostname="relay.example.com",
            **kwargs,
        )
        c.start()
        controllers.append(c)
        return port

    good = start(tls_context=server_context(pki.good_cert, pki.good_key), require_starttls=True)
    plain = start()
    expired = start(
        tls_context=server_context(pki.expired_cert, pki.expired_key),
        require_starttls=True,
    )
    yield SmtpServers(good, plain, expired)
    for c in controllers:
        c.stop()


# ----------------------------------------------------------------------------- the good world

DOMAIN = "example.com"
REPORTS = "reports.example.net"
SENDER_IP = "192.0.2.10"
SELECTOR = "sel1"
AMAZONSES = "dkim.amazonses.com"


def good_policy(mode: str = "enforce", mx: tuple[str, ...] = ("mx1.example.com", "*.mx.example.com")) -> str:
    return mtasts_std.build_policy(mode, mx, 604800)


@dataclass
class World:
    """Declared records (plan) and live zones, editable before Knot starts."""

    declared: list[tuple[str, str, list[str]]]  # (name, type, values) as Route53 would get them
    zones: dict[str, list[tuple[str, str, str]]]  # origin -> [(owner, type, rdata)]
    policy: str
    outputs: dict[str, Any] = field(default_factory=dict)

    def plan(self) -> dict[str, Any]:
        resources: list[dict[str, Any]] = []
        for i, (name, rtype, values) in enumerate(self.declared):
            records = [txt_std.route53_txt(v) for v in values] if rtype == "TXT" else list(values)
            resources.append(
                {
                    "urn": f"urn:pulumi:test::mailinfra::aws:route53/record:Record::rec{i}",
                    "type": "aws:route53/record:Record",
                    "name": f"rec{i}",
                    "parent": None,
                    "inputs": {
                        "zoneId": "Z1",
                        "name": name,
                        "type": rtype,
                        "ttl": 300,
                        "records": records,
                    },
                    "dependencies": [],
                    "options": {},
                }
            )
        return {
            "stack": "test",
            "project": "mailinfra",
            "resources": resources,
            "violations": [],
            "outputs": {"zones": {DOMAIN: {"provider": "route53", "zoneId": "Z1"}}},
        }

    def zone_files(self) -> dict[str, str]:
        return {origin: zone_text(origin, recs) for origin, recs in self.zones.items()}

    def replace(self, origin: str, owner: str, rtype: str, rdata: str | None) -> None:
        """Drop (owner, rtype) records from a live zone and add ``rdata`` if given."""
        recs = [r for r in self.zones[origin] if not (r[0] == owner and r[1] == rtype)]
        if rdata is not None:
            recs.append((owner, rtype, rdata))
        self.zones[origin] = recs


def make_world(pki: Pki) -> World:
    policy = good_policy()
    pid = mtasts_std.policy_id(policy)
    spf_root = "v=spf1 include:_spf.example.com -all"
    dkim = f"v=DKIM1; k=rsa; p={pki.dkim_public_b64}"
    dmarc = f"v=DMARC1; p=reject; rua=mailto:dmarc@example.com,mailto:agg@{REPORTS}"
    tlsrpt = "v=TLSRPTv1; rua=mailto:tls@example.com"
    declared = [
        (DOMAIN, "TXT", [spf_root]),
        (DOMAIN, "MX", ["10 mx1.example.com"]),
        ("mail.example.com", "MX", ["10 feedback-smtp.eu-west-1.amazonses.com"]),
        ("mail.example.com", "TXT", [spf_root]),
        (f"{SELECTOR}._domainkey.{DOMAIN}", "TXT", [dkim]),
        (f"_dmarc.{DOMAIN}", "TXT", [dmarc]),
        (f"_mta-sts.{DOMAIN}", "TXT", [mtasts_std.build_txt(pid)]),
        (f"mta-sts.{DOMAIN}", "A", ["127.0.0.1"]),
        (f"_smtp._tls.{DOMAIN}", "TXT", [tlsrpt]),
        ("tok1._domainkey.example.com", "CNAME", [f"tok1.{AMAZONSES}"]),
    ]
    zones = {
        DOMAIN: [
            ("@", "TXT", txt_rdata(spf_root)),
            ("@", "TXT", txt_rdata("google-site-verification=abc")),
            ("@", "MX", "10 mx1"),
            (
                "_spf",
                "TXT",
                txt_rdata("v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all"),
            ),
            ("mail", "MX", "10 feedback-smtp.eu-west-1.amazonses.com."),
            ("mail", "TXT", txt_rdata(spf_root)),
            ("mx1", "A", "127.0.0.1"),
            ("relay", "A", "127.0.0.1"),
            ("plain", "A", "127.0.0.1"),
            ("expired", "A", "127.0.0.1"),
            ("mta-sts", "A", "127.0.0.1"),
            (f"{SELECTOR}._domainkey", "TXT", txt_rdata(dkim)),
            ("_dmarc", "TXT", txt_rdata(dmarc)),
            ("_mta-sts", "TXT", txt_rdata(mtasts_std.build_txt(pid))),
            ("_smtp._tls", "TXT", txt_rdata(tlsrpt)),
            ("tok1._domainkey", "CNAME", f"tok1.{AMAZONSES}."),
        ],
        REPORTS: [(f"{DOMAIN}._report._dmarc", "TXT", txt_rdata("v=DMARC1"))],
        AMAZONSES: [("tok1", "TXT", txt_rdata(dkim))],
    }
    return World(declared, zones, policy)


@pytest.fixture
def world(pki: Pki, https_server: HttpsServer) -> World:
    w = make_world(pki)
    https_server.files["/.well-known/mta-sts.txt"] = (
        200,
        "text/plain",
        w.policy.encode(),
    )
    return w


# ----------------------------------------------------------------------------- running verify


def options(world: World, nameserver: str, pki: Any, https: Any, servers: Any, **kw: Any) -> VerifyOptions:
    base: dict[str, Any] = {
        "stack": "test",
        "plan_data": world.plan(),
        "outputs_data": world.outputs or None,
        "nameservers": (nameserver,),
        "ca_file": pki.ca_file,
        "mta_sts_port": https.port,
        "smtp": (f"relay.example.com:{servers.good}",),
        "sender_ips": (SENDER_IP, "2001:db8::25"),
        "timeout": 2.0,
        "progress": False,
    }
    base.update(kw)
    return VerifyOptions(**base)


@pytest.fixture
def run(knot, pki, https_server, smtp_servers):
    """``run(world, **options)``: start Knot with the world's zones and verify against it."""

    def go(world: World, **kw: Any) -> tuple[Report, int]:
        server = knot(world.zone_files())
        return run_verify(options(world, server.nameserver, pki, https_server, smtp_servers, **kw))

    return go
