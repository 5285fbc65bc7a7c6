"""verify's live one-click unsubscribe check (RFC 8058) against a real local HTTPS server.

The server (stdlib http.server behind TLS with the test CA's certificate) has one path
per behaviour: a compliant one-click endpoint, a redirect to a login page, a GET-only
endpoint (405 on POST), a 500, a huge body, a huge header, a trickling answer; a second
server answers with garbage after the handshake, a third with an expired certificate.
Names resolve through the test's Knot DNS, as every verify check does.
"""

from __future__ import annotations

import http.server
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from mailinfra.values import Secret
from mailinfra.verify import CheckResult, Report
from mailinfra.policies.mailinfra_policy.standards import unsubscribe as unsub_std

from .conftest import DOMAIN, Pki, World, server_context

CHECK = "unsubscribe-one-click"


@dataclass
class Recorded:
    method: str
    path: str
    content_type: str
    body: bytes
    cookie: str | None


@dataclass
class UnsubServer:
    port: int
    garbage_port: int
    expired_port: int
    requests: list[Recorded] = field(default_factory=list)


def _handler(state: UnsubServer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _record(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(min(length, 4096)) if length else b""
            state.requests.append(
                Recorded(self.command, self.path, self.headers.get("Content-Type", ""), body, self.headers.get("Cookie"))
            )
            return body

        def _send(self, status: int, headers: dict[str, str] | None = None, body: bytes = b"") -> None:
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            try:
                self.wfile.write(body)
            except OSError:  # the client stopped reading (it never reads a body): fine
                pass

        def do_GET(self) -> None:
            self._record()
            if self.path.startswith("/get-only"):
                self._send(200, {"Content-Type": "text/html"}, b"<form method=get>unsubscribed</form>")
            else:
                self._send(200, {"Content-Type": "text/html"}, b"a page")

        def do_POST(self) -> None:
            body = self._record()
            path = self.path.split("?", 1)[0]
            if path == "/unsubscribe":
                form_ok = self.headers.get("Content-Type") == unsub_std.POST_CONTENT_TYPE
                ok = form_ok and body == unsub_std.ONE_CLICK.encode()
                self._send(200 if ok else 400, {"Content-Type": "text/plain"}, b"done\n" if ok else b"bad request\n")
            elif path == "/login-redirect":
                self._send(302, {"Location": f"https://relay.example.com:{state.port}/login?next=/u"})
            elif path == "/get-only":
                self._send(405, {"Allow": "GET"})
            elif path == "/error":
                self._send(500, {"Content-Type": "text/plain"}, b"oops\n")
            elif path == "/huge-body":
                self._send(200, {"Content-Type": "application/octet-stream"}, b"x" * (8 * 1024 * 1024))
            elif path == "/huge-header":
                self.send_response(200)
                self.send_header("X-Filler", "y" * 100_000)
                self.end_headers()
            elif path == "/slow":
                # a byte of the status line every 0.2 s: each read succeeds, the whole never ends
                try:
                    for ch in b"HTTP/1.1 200 OK\r\n" * 4:
                        self.wfile.write(bytes([ch]))
                        self.wfile.flush()
                        time.sleep(0.2)
                except OSError:
                    pass
            else:
                self._send(404, {"Content-Type": "text/plain"}, b"not found\n")

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


def _serve(pki: Pki, cert: str, key: str, state: UnsubServer) -> http.server.ThreadingHTTPServer:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    httpd.socket = server_context(cert, key).wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def _garbage_server(pki: Pki) -> tuple[socket.socket, int]:
    """TLS with the good certificate, then bytes that are not HTTP."""
    listener = socket.create_server(("127.0.0.1", 0))
    ctx = server_context(pki.good_cert, pki.good_key)

    def loop() -> None:
        while True:
            try:
                raw, _ = listener.accept()
            except OSError:
                return
            try:
                with ctx.wrap_socket(raw, server_side=True) as tls:
                    tls.settimeout(2)
                    tls.recv(4096)
                    tls.sendall(b"SSH-2.0-OpenSSH_9.6\r\n\x00\xff garbage\r\n\r\n")
            except (OSError, ssl.SSLError):
                pass

    threading.Thread(target=loop, daemon=True).start()
    return listener, listener.getsockname()[1]


@pytest.fixture(scope="module")
def unsub_server(pki: Pki) -> Iterator[UnsubServer]:
    state = UnsubServer(port=0, garbage_port=0, expired_port=0)
    good = _serve(pki, pki.good_cert, pki.good_key, state)
    expired = _serve(pki, pki.expired_cert, pki.expired_key, state)
    listener, garbage_port = _garbage_server(pki)
    state.port = good.server_address[1]
    state.expired_port = expired.server_address[1]
    state.garbage_port = garbage_port
    yield state
    for httpd in (good, expired):
        httpd.shutdown()
        httpd.server_close()
    listener.close()


def _plan(world: World, url: Any, **facts: Any) -> dict[str, Any]:
    plan = world.plan()
    plan["config"] = {
        "mailinfra:compliance": {"postalAddress": "Example Ltd, 1 Main St, Springfield", "unsubscribeUrl": url, **facts}
    }
    return plan


def _one(report: Report) -> CheckResult:
    found = [c for c in report.checks if c.check == CHECK]
    assert len(found) == 1, report.to_text()
    return found[0]


def _check(run: Any, world: World, url: Any, **kw: Any) -> CheckResult:
    world.zones[DOMAIN].append(("unsub", "A", "127.0.0.1"))  # a name the certificate does not cover
    facts = kw.pop("facts", {})
    report, _ = run(world, plan_data=_plan(world, url, **facts), smtp=(), **kw)
    return _one(report)


def test_one_click_post_passes_and_sends_only_the_rfc8058_post(run, world, unsub_server):
    unsub_server.requests.clear()
    url = f"https://relay.example.com:{unsub_server.port}/unsubscribe?list=news&u=42"
    res = _check(run, world, url)
    assert res.status == "pass", res
    assert res.name == url and res.found == "HTTP 200"
    # exactly one request: the form-encoded POST, no GET before it, no cookie
    assert [(r.method, r.path) for r in unsub_server.requests] == [("POST", "/unsubscribe?list=news&u=42")]
    sent = unsub_server.requests[0]
    assert sent.body == b"List-Unsubscribe=One-Click"
    assert sent.content_type == "application/x-www-form-urlencoded" and sent.cookie is None


def test_redirect_to_login_fails_naming_the_location(run, world, unsub_server):
    res = _check(run, world, f"https://relay.example.com:{unsub_server.port}/login-redirect")
    assert res.status == "fail"
    location = f"https://relay.example.com:{unsub_server.port}/login?next=/u"
    assert location in res.found and location in res.message
    assert "a login page" in res.message and "HTTP 302" in res.message
    assert not any(r.path.startswith("/login?") for r in unsub_server.requests), "the redirect was followed"


def test_get_only_endpoint_fails_with_405(run, world, unsub_server):
    unsub_server.requests.clear()
    res = _check(run, world, f"https://relay.example.com:{unsub_server.port}/get-only")
    assert res.status == "fail" and res.found == "HTTP 405"
    assert "a GET must not be required" in res.message
    assert [r.method for r in unsub_server.requests] == ["POST"]  # verify never falls back to GET


def test_server_error_fails(run, world, unsub_server):
    res = _check(run, world, f"https://relay.example.com:{unsub_server.port}/error")
    assert res.status == "fail" and res.found == "HTTP 500"
    assert "must be answered with 2xx" in res.message


def test_certificate_for_another_name_fails(run, world, unsub_server):
    res = _check(run, world, f"https://unsub.example.com:{unsub_server.port}/unsubscribe")
    assert res.status == "fail"
    assert res.message.startswith("certificate verification failed"), res


def test_expired_certificate_fails(run, world, unsub_server):
    res = _check(run, world, f"https://relay.example.com:{unsub_server.expired_port}/unsubscribe")
    assert res.status == "fail" and "expired" in res.message, res


def test_untrusted_ca_fails(run, world, unsub_server, tmp_path, pki):
    other = tmp_path / "other-ca.pem"
    other.write_bytes(open(pki.good_cert, "rb").read())  # a leaf, not the CA that signed it
    res = _check(run, world, f"https://relay.example.com:{unsub_server.port}/unsubscribe", ca_file=str(other))
    assert res.status == "fail" and res.message.startswith("certificate verification failed")


def test_trickling_answer_is_cut_by_one_deadline(run, world, unsub_server):
    started = time.monotonic()
    res = _check(run, world, f"https://relay.example.com:{unsub_server.port}/slow", timeout=0.5)
    assert res.status == "error" and "timed out" in res.message, res
    assert time.monotonic() - started < 10


def test_garbage_answer_is_one_line(run, world, unsub_server):
    res = _check(run, world, f"https://relay.example.com:{unsub_server.garbage_port}/unsubscribe")
    assert res.status == "fail" and res.message.startswith("not an HTTP answer: status line 'SSH-2.0"), res
    assert "\x00" not in res.message and "\n" not in res.message


def test_huge_header_is_refused_huge_body_is_never_read(run, world, unsub_server):
    res = _check(run, world, f"https://relay.example.com:{unsub_server.port}/huge-header")
    assert res.status == "fail" and "longer than" in res.message, res
    res = _check(run, world, f"https://relay.example.com:{unsub_server.port}/huge-body")
    assert res.status == "pass" and res.found == "HTTP 200"


def test_closed_port_and_unknown_name_are_one_line(run, world, unsub_server):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    res = _check(run, world, f"https://relay.example.com:{closed}/unsubscribe")
    assert res.status == "error" and "connection refused" in res.message
    res = _check(run, world, f"https://nowhere.example.com:{unsub_server.port}/unsubscribe")
    assert res.status == "fail" and "cannot resolve nowhere.example.com" in res.message


def test_a_url_from_a_secure_key_is_never_shown(run, world, unsub_server):
    url = f"https://relay.example.com:{unsub_server.port}/login-redirect"
    world.zones[DOMAIN].append(("unsub", "A", "127.0.0.1"))
    report, code = run(world, plan_data=_plan(world, Secret(url)), smtp=())
    res = _one(report)
    assert res.status == "fail" and code == 1  # checked with the real value...
    assert res.name == "mailinfra:compliance.unsubscribeUrl [secret]"
    assert "HTTP 302" in res.found and "a login page" in res.message
    for text in (report.to_text(), report.to_json(), report.to_markdown()):  # ...never shown
        for part in (url, "relay.example.com", str(unsub_server.port), "/login-redirect"):
            assert part not in text, part


def test_a_secure_url_this_plan_does_not_hold_is_a_warning(run, world, unsub_server):
    # a plan file holds "[secret]"; the mock engine holds a placeholder that is not a URL
    for value in ("[secret]", Secret("mock-secret-mailinfra:compliance.unsubscribeUrl")):
        res = _check(run, world, value)
        assert res.status == "warn" and res.name == "mailinfra:compliance.unsubscribeUrl [secret]"
        assert "mock-secret" not in json.dumps(res.__dict__)


def test_one_click_declared_off_is_a_warning_not_a_request(run, world, unsub_server):
    unsub_server.requests.clear()
    url = f"https://relay.example.com:{unsub_server.port}/unsubscribe"
    res = _check(run, world, url, facts={"oneClickUnsubscribe": False})
    assert res.status == "warn" and "oneClickUnsubscribe is false" in res.message
    assert unsub_server.requests == []


def test_no_compliance_config_means_no_check(run, world):
    report, _ = run(world, smtp=())
    assert [c for c in report.checks if c.check == CHECK] == []


@pytest.mark.parametrize(
    ("status", "location", "code"),
    [
        (200, "", None),
        (204, "", None),
        (301, "https://x.example/account/sign-in", "unsubscribe-redirect"),
        (303, "", "unsubscribe-redirect"),
        (405, "", "unsubscribe-method"),
        (501, "", "unsubscribe-method"),
        (403, "", "unsubscribe-status"),
        (500, "", "unsubscribe-status"),
    ],
)
def test_standard_judges_the_answer(status, location, code):
    problems = unsub_std.check_response(status, location)
    assert [p.code for p in problems] == ([code] if code else [])


def test_standard_request_and_endpoint():
    req = unsub_std.one_click_request()
    assert (req.method, req.content_type, req.body) == (
        "POST",
        "application/x-www-form-urlencoded",
        b"List-Unsubscribe=One-Click",
    )
    ep = unsub_std.endpoint("https://Example.COM:8443/u?a=1")
    assert (ep.host, ep.port, ep.target) == ("example.com", 8443, "/u?a=1")
    assert unsub_std.endpoint("https://example.com").target == "/"
    for bad in ("http://example.com/u", "https://user:pw@example.com/u", "mailto:u@example.com", "https:///u"):
        assert [p.code for p in unsub_std.check_endpoint_url(bad)] == ["unsubscribe-url"]
        assert bad not in str(unsub_std.check_endpoint_url(bad)[0])  # a secure URL is never quoted
