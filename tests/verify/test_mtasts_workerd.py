"""The MTA-STS Worker in Cloudflare's own runtime: workerd runs the script MtaStsHosting deploys.

workerd comes from npm with its binary (tests/workerd/package.json, pinned with its lock;
scripts/test.sh runs `npm ci` there). The test writes a workerd config serving the
generated module Worker on two loopback sockets: plain HTTP, to compare the exact bytes
with the standards module's rendering, and HTTPS with a certificate for
mta-sts.example.com from the test CA, which `mailinfra verify`'s MTA-STS checks fetch
through the local Knot DNS, trusting that CA (--ca-file). A missing workerd fails the
test; it never skips.
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mailinfra.components.mtasts_hosting import POLICY_PATH, WORKER_COMPATIBILITY_DATE, worker_script
from mailinfra.policies.mailinfra_policy.standards import mtasts as mtasts_std

from .conftest import Pki, World
from .knot import free_port

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIR = ROOT / "tests" / "workerd"
_ARCH = {"x86_64": "64", "amd64": "64", "aarch64": "arm64", "arm64": "arm64"}
INSTALL_HINT = "workerd is installed by scripts/test.sh (`npm ci` in tests/workerd: Node.js and npm are needed)"


def workerd_binary() -> str:
    """The platform package's binary (npm's `workerd` pulls @cloudflare/workerd-<os>-<arch>);
    MAILINFRA_WORKERD overrides it. Fails the test when there is none."""
    override = os.environ.get("MAILINFRA_WORKERD")
    if override:
        if not os.access(override, os.X_OK):
            pytest.fail(f"MAILINFRA_WORKERD={override} is not an executable", pytrace=False)
        return override
    system = platform.system().lower()
    arch = _ARCH.get(platform.machine().lower(), platform.machine().lower())
    binary = PACKAGE_DIR / "node_modules" / "@cloudflare" / f"workerd-{system}-{arch}" / "bin" / "workerd"
    if binary.is_file() and os.access(binary, os.X_OK):
        return str(binary)
    pytest.fail(f"workerd not found at {binary.relative_to(ROOT)}. {INSTALL_HINT}", pytrace=False)


def capnp_config(http_port: int, https_port: int) -> str:
    """A workerd config: the module Worker (worker.js) behind an HTTP and an HTTPS socket."""
    return f"""using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [(name = "mta-sts", worker = .mtaSts)],
  sockets = [
    (name = "http", address = "127.0.0.1:{http_port}", http = (), service = "mta-sts"),
    (
      name = "https",
      address = "127.0.0.1:{https_port}",
      https = (
        options = (),
        tlsOptions = (keypair = (privateKey = embed "key.pem", certificateChain = embed "cert.pem")),
      ),
      service = "mta-sts",
    ),
  ],
);

const mtaSts :Workerd.Worker = (
  modules = [(name = "worker.js", esModule = embed "worker.js")],
  compatibilityDate = "{WORKER_COMPATIBILITY_DATE}",
);
"""


@dataclass
class Workerd:
    http_port: int
    https_port: int
    proc: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, 15)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, 9)
                self.proc.wait(timeout=5)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def start_workerd(workdir: Path, script: str, pki: Pki) -> Workerd:
    binary = workerd_binary()
    (workdir / "worker.js").write_text(script, encoding="utf-8")
    shutil.copyfile(pki.good_cert, workdir / "cert.pem")  # names include mta-sts.example.com
    shutil.copyfile(pki.good_key, workdir / "key.pem")
    http_port, https_port = free_port(), free_port()
    config = workdir / "config.capnp"
    config.write_text(capnp_config(http_port, https_port), encoding="utf-8")
    log = workdir / "workerd.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([binary, "serve", str(config)], stdout=out, stderr=subprocess.STDOUT, cwd=workdir)
    server = Workerd(http_port, https_port, proc, log)
    deadline = time.monotonic() + 30
    while not (_listening(http_port) and _listening(https_port)):
        if proc.poll() is not None:
            pytest.fail(f"workerd exited with {proc.returncode}: {log.read_text(errors='replace')[-2000:]}")
        if time.monotonic() > deadline:
            server.stop()
            pytest.fail(f"workerd did not listen within 30 s: {log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.1)
    return server


@pytest.fixture
def workerd_for(tmp_path: Path, pki: Pki) -> Iterator[object]:
    """Factory: ``workerd_for(policy_text)`` -> a running Workerd serving that policy's Worker."""
    started: list[Workerd] = []

    def start(policy_text: str) -> Workerd:
        work = tmp_path / f"workerd-{len(started)}"
        work.mkdir()
        server = start_workerd(work, worker_script(policy_text), pki)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def _get(port: int, path: str, method: str = "GET") -> tuple[int, str, bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    request.add_header("Host", "mta-sts.example.com")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback only
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Content-Type", ""), err.read()


def test_the_worker_serves_the_exact_policy_bytes_as_text_plain(workerd_for):
    policy = mtasts_std.build_policy("enforce", ["mx1.example.com", "*.mx.example.com"], 604800)
    server = workerd_for(policy)
    status, ctype, body = _get(server.http_port, POLICY_PATH)
    assert status == 200
    assert ctype.split(";")[0].strip() == "text/plain"
    assert body == policy.encode("utf-8")  # CRLF lines, byte for byte
    assert mtasts_std.check_served(status, ctype) == []
    # the TXT id derived from the rendering is the hash of what is served
    assert mtasts_std.policy_id(body.decode()) == mtasts_std.policy_id(policy)
    status, _, body = _get(server.http_port, POLICY_PATH, "HEAD")
    assert status == 200 and body == b""


@pytest.mark.parametrize(
    "path", ["/", "/.well-known/", "/.well-known/mta-sts.txt.bak", "/mta-sts.txt", "/.well-known/MTA-STS.TXT"]
)
def test_every_other_path_is_404(workerd_for, path):
    server = workerd_for(mtasts_std.build_policy("testing", ["mx1.example.com"], 86400))
    status, ctype, _ = _get(server.http_port, path)
    assert status == 404 and ctype.startswith("text/plain")


def test_other_methods_are_refused(workerd_for):
    server = workerd_for(mtasts_std.build_policy("testing", ["mx1.example.com"], 86400))
    assert _get(server.http_port, POLICY_PATH, "POST")[0] == 405


def _verify(run, world: World, https_port: int):
    report, code = run(world, mta_sts_port=https_port, smtp=())
    return {c.check: c for c in report.checks if c.check.startswith("mta-sts-")}, code


def test_verify_checks_the_policy_served_by_workerd_over_tls(run, world, workerd_for):
    server = workerd_for(world.policy)  # the world's policy: build_policy, its TXT id published
    checks, _ = _verify(run, world, server.https_port)
    policy = checks["mta-sts-policy"]
    assert policy.status == "pass", policy
    assert policy.name == f"https://mta-sts.example.com:{server.https_port}/.well-known/mta-sts.txt"
    assert policy.found == "mode=enforce max_age=604800 mx=mx1.example.com,*.mx.example.com"
    assert checks["mta-sts-id"].status == "pass" and checks["mta-sts-mx"].status == "pass"


def test_verify_sees_a_worker_serving_a_policy_other_than_the_txt_id(run, world, workerd_for):
    # the Worker was deployed from another policy than the one the TXT id hashes
    server = workerd_for(mtasts_std.build_policy("enforce", ["mx1.example.com", "*.mx.example.com"], 86400))
    checks, code = _verify(run, world, server.https_port)
    assert checks["mta-sts-policy"].status == "warn"
    assert "hash differs" in checks["mta-sts-policy"].message


def test_verify_fails_a_worker_without_the_mx_host(run, world, workerd_for):
    server = workerd_for(mtasts_std.build_policy("enforce", ["mx9.example.org"], 604800))
    checks, code = _verify(run, world, server.https_port)
    assert checks["mta-sts-mx"].status == "fail" and code == 1
    assert "mx1.example.com" in checks["mta-sts-mx"].found


def test_verify_fails_the_worker_when_the_ca_is_not_trusted(run, world, workerd_for, tmp_path, pki):
    server = workerd_for(world.policy)
    other = tmp_path / "not-the-ca.pem"
    other.write_bytes(Path(pki.good_cert).read_bytes())  # a leaf, not the CA that signed it
    report, code = run(world, mta_sts_port=server.https_port, smtp=(), ca_file=str(other))
    policy = next(c for c in report.checks if c.check == "mta-sts-policy")
    assert policy.status == "fail" and policy.message.startswith("certificate verification failed") and code == 1
