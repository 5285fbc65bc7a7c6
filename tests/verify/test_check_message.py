"""`mailinfra check-message` against real parts: messages signed here with dkimpy, keys
made here and served by Knot on loopback; one broken variant per rule."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import dkim  # type: ignore[import-untyped]
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from mailinfra.message import CheckMessageInputError, CheckMessageOptions, StackFacts, run_check_message
from mailinfra.message.parse import MAX_BYTES, MAX_HEADERS, parse_message
from mailinfra.policies.mailinfra_policy.standards import dkim as dkim_std

from .conftest import KnotServer, _start_knot, txt_rdata, zone_text

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOMAIN = "shop.example"
OTHER = "other.example"
ADDRESS = "Example Shop Ltd, 1 Main Street, Dublin D02 XY00, Ireland"
CONFIG_SET = "shop-example-relay"
STACK = StackFacts("test", {DOMAIN: CONFIG_SET}, ADDRESS)
SENDER_IP = "192.0.2.10"
SIGNED = ["from", "to", "subject", "date", "message-id", "list-unsubscribe", "list-unsubscribe-post"]


def _rsa(bits: int) -> tuple[bytes, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem, f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode()}"  # by hand: the builder refuses 1024 bits


KEYS: dict[str, tuple[bytes, str]] = {}


def keys() -> dict[str, tuple[bytes, str]]:
    if not KEYS:
        KEYS["s2048"] = _rsa(2048)
        KEYS["s1024"] = _rsa(1024)
        KEYS["other"] = _rsa(2048)
        ed = ed25519.Ed25519PrivateKey.generate()
        seed = ed.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
        KEYS["ed"] = (base64.b64encode(seed), dkim_std.dkim_txt_from_public_key(ed.public_key(), "ed25519"))
    return KEYS


@pytest.fixture(scope="module")
def ns() -> Iterator[str]:
    k = keys()
    zones = {
        DOMAIN: zone_text(
            DOMAIN,
            [
                ("s2048._domainkey", "TXT", txt_rdata(k["s2048"][1])),
                ("s1024._domainkey", "TXT", txt_rdata(k["s1024"][1])),
                ("ed._domainkey", "TXT", txt_rdata(k["ed"][1])),
                ("_dmarc", "TXT", txt_rdata("v=DMARC1; p=reject; adkim=s; aspf=r; rua=mailto:d@shop.example")),
                ("bounce", "TXT", txt_rdata(f"v=spf1 ip4:{SENDER_IP} -all")),
            ],
        ),
        OTHER: zone_text(OTHER, [("s1._domainkey", "TXT", txt_rdata(k["other"][1]))]),
    }
    server: KnotServer = _start_knot(zones)
    try:
        yield server.nameserver
    finally:
        server.stop()


def compose(
    drop: tuple[str, ...] = (),
    headers: dict[str, str] | None = None,
    body: str | None = None,
) -> bytes:
    fields = {
        "Return-Path": f"<bounces@bounce.{DOMAIN}>",
        "From": f"Example Shop <news@{DOMAIN}>",
        "To": "<alice@example.net>",
        "Reply-To": f"<help@{DOMAIN}>",
        "Subject": "Spring sale",
        "Date": "Tue, 01 Dec 2026 10:00:00 +0000",
        "Message-ID": f"<c1.42@{DOMAIN}>",
        "List-Unsubscribe": f"<https://{DOMAIN}/u/42>, <mailto:unsub@{DOMAIN}?subject=u42>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "X-SES-CONFIGURATION-SET": CONFIG_SET,
        "MIME-Version": "1.0",
        "Content-Type": "text/plain; charset=utf-8",
    }
    fields.update(headers or {})
    lines = [f"{k}: {v}" for k, v in fields.items() if k not in drop]
    footer = ADDRESS.replace(", ", ",\r\n")
    text = body if body is not None else f"Half price this week.\r\n\r\n--\r\n{footer}\r\n"
    return ("\r\n".join(lines) + "\r\n\r\n" + text).encode()


def sign(message: bytes, selector: str = "s2048", domain: str = DOMAIN, include: list[str] | None = None) -> bytes:
    key = keys()["other" if domain == OTHER else selector][0]
    algorithm = b"ed25519-sha256" if selector == "ed" else b"rsa-sha256"
    signer = dkim.DKIM(message, signature_algorithm=algorithm)
    sig = signer.sign(selector.encode(), domain.encode(), key, include_headers=[h.encode() for h in (include or SIGNED)])
    return sig + message


def check(ns: str, tmp_path: Any, data: bytes, stack: StackFacts | None = STACK, **kw: Any) -> tuple[dict[str, list[str]], int]:
    path = tmp_path / "m.eml"
    path.write_bytes(data)
    report, code = run_check_message(CheckMessageOptions(str(path), stack=stack, nameservers=(ns,), timeout=2.0, **kw))
    by: dict[str, list[str]] = {}
    for c in report.checks:
        by.setdefault(c.check, []).append(c.status)
        assert getattr(c, "rule", ""), c
    return by, code


def failing(by: dict[str, list[str]]) -> set[str]:
    return {check for check, statuses in by.items() if "fail" in statuses or "error" in statuses}


def test_compliant_message_passes(ns, tmp_path):
    by, code = check(ns, tmp_path, sign(compose()), client_ip=SENDER_IP)
    assert failing(by) == set(), by
    assert code == 0
    for name in ("dkim-signature", "dkim-key-size", "dkim-aligned", "dmarc-record", "dmarc-return-path", "spf", "dmarc-result",
                 "list-unsubscribe", "list-unsubscribe-post", "list-unsubscribe-signed", "postal-address", "from-header",
                 "reply-to-header", "message-id", "date", "declared-domain", "configuration-set"):  # fmt: skip
        assert by[name] == ["pass"], (name, by)


def test_ed25519_signature_passes(ns, tmp_path):
    by, code = check(ns, tmp_path, sign(compose(), selector="ed"))
    assert by["dkim-signature"] == ["pass"] and by["dkim-key-size"] == ["pass"], by
    assert code == 0, by


def test_without_client_ip_spf_is_a_warning_and_dmarc_rests_on_dkim(ns, tmp_path):
    by, code = check(ns, tmp_path, sign(compose()))
    assert by["spf"] == ["warn"] and by["dmarc-result"] == ["pass"] and code == 0


def test_spf_fails_for_a_foreign_ip(ns, tmp_path):
    by, code = check(ns, tmp_path, sign(compose()), client_ip="198.51.100.7")
    assert by["spf"] == ["fail"] and code == 1


@pytest.mark.parametrize(
    "make, wanted",
    [
        (
            lambda: sign(compose()).replace(b"Half price", b"Full price"),
            {"dkim-signature", "dkim-aligned", "dmarc-result", "list-unsubscribe-signed"},
        ),
        (lambda: sign(compose(), domain=OTHER, selector="s1"), {"dkim-aligned", "dmarc-result"}),
        (lambda: sign(compose(), selector="s1024"), {"dkim-key-size"}),
        (
            lambda: sign(compose(drop=("List-Unsubscribe-Post",)), include=SIGNED[:-1]),
            {"list-unsubscribe-post", "list-unsubscribe-signed"},
        ),
        (lambda: sign(compose(), include=SIGNED[:5]), {"list-unsubscribe-signed"}),
        (lambda: sign(compose(headers={"List-Unsubscribe": f"<http://{DOMAIN}/u/42>"})), {"list-unsubscribe"}),
        (lambda: sign(compose(drop=("List-Unsubscribe",)), include=SIGNED), {"list-unsubscribe"}),
        (lambda: sign(compose(body="Half price this week.\r\n")), {"postal-address"}),
        (lambda: sign(compose(body="Half price.\r\n\r\nOther Corp, 9 High Road, Leeds LS1 1AA\r\n")), {"postal-address"}),
        (lambda: sign(compose(drop=("Message-ID",)), include=[h for h in SIGNED if h != "message-id"]), {"message-id"}),
        (lambda: sign(compose(drop=("Date",)), include=[h for h in SIGNED if h != "date"]), {"date"}),
        (lambda: sign(compose(headers={"Reply-To": "not an address @@"})), {"reply-to-header"}),
        (lambda: sign(compose(headers={"Return-Path": "<b@bounce.elsewhere.example>"})), {"dmarc-return-path"}),
        (lambda: sign(compose(headers={"X-SES-CONFIGURATION-SET": "someone-else"})), {"configuration-set"}),
    ],
    ids=[
        "body-tampered",
        "unaligned-d",
        "rsa-1024",
        "no-post-header",
        "unsubscribe-not-signed",
        "http-uri",
        "no-list-unsubscribe",
        "no-postal-address",
        "wrong-postal-address",
        "no-message-id",
        "no-date",
        "bad-reply-to",
        "unaligned-return-path",
        "wrong-configuration-set",
    ],  # fmt: skip
)
def test_each_broken_variant_fails_its_rule(ns, tmp_path, make, wanted):
    by, code = check(ns, tmp_path, make())
    assert failing(by) == wanted, by
    assert code == 1


def test_unparsable_from_fails_from_and_alignment(ns, tmp_path):
    data = compose(headers={"From": "Example Shop news-at-shop"})
    by, code = check(ns, tmp_path, sign(data))
    assert "from-header" in failing(by) and "dkim-aligned" in failing(by) and code == 1


def test_foreign_from_domain_fails_declared_domain(ns, tmp_path):
    data = compose(headers={"From": f"<news@{OTHER}>", "Return-Path": f"<b@{OTHER}>"})
    by, code = check(ns, tmp_path, sign(data, domain=OTHER, selector="s1"))
    assert by["declared-domain"] == ["fail"] and by["dkim-aligned"] == ["pass"] and code == 1


def test_without_stack_the_address_heuristic_and_domain_warning(ns, tmp_path):
    by, code = check(ns, tmp_path, sign(compose()), stack=None)
    assert by["postal-address"] == ["pass"] and by["declared-domain"] == ["warn"] and code == 0
    by, code = check(ns, tmp_path, sign(compose(body="Buy now.\r\n")), stack=None)
    assert by["postal-address"] == ["fail"] and code == 1


def test_html_part_address_is_found(ns, tmp_path):
    html = f"<html><body><p>Sale</p><footer>{ADDRESS.replace(', ', '<br>')}</footer></body></html>"
    body = base64.b64encode(html.encode()).decode()
    data = compose(
        headers={"Content-Type": "text/html; charset=utf-8", "Content-Transfer-Encoding": "base64"}, body=body + "\r\n"
    )
    by, _ = check(ns, tmp_path, sign(data))
    assert by["postal-address"] == ["pass"], by


def test_missing_key_in_dns_fails_the_signature(ns, tmp_path):
    data = sign(compose()).replace(b"s=s2048", b"s=gone")
    by, _ = check(ns, tmp_path, data)
    assert by["dkim-signature"] == ["fail"]


def test_outputs_json_and_markdown(ns, tmp_path):
    path = tmp_path / "m.eml"
    path.write_bytes(sign(compose(drop=("Date",)), include=[h for h in SIGNED if h != "date"]))
    report, code = run_check_message(CheckMessageOptions(str(path), stack=STACK, nameservers=(ns,), timeout=2.0))
    doc = json.loads(report.render("json"))
    assert doc["message"] == str(path) and doc["stack"] == "test" and code == 1
    date = [c for c in doc["checks"] if c["check"] == "date"][0]
    assert date["status"] == "fail" and "RFC 5322 3.6.1" in date["rule"]
    assert doc["summary"]["fail"] == 1 and doc["summary"]["total"] == len(doc["checks"])
    md = report.render("markdown")
    assert md.startswith("## mailinfra check-message") and "| ❌ fail | `date` |" in md and "| rule |" in md
    text = report.render("text")
    assert "FAIL  date" in text and "rule:     RFC 5322 3.6.1" in text


# ------------------------------------------------------------------ hostile input


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00\xff\xfe garbage without headers",
        b"From: a@b\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64***\r\n--x",
        b"From: a@b\r\nContent-Type: multipart/mixed\r\n\r\nno boundary at all",
        b"".join(b"X-H%d: v\r\n" % i for i in range(10_000)) + b"\r\nbody",
        b"From: a@b\r\n"
        + b"".join(b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i) for i in range(3000)),
        b"DKIM-Signature: v=1; a=rsa-sha256; d=; s=\r\nFrom: a@shop.example\r\n\r\nx",
        b"DKIM-Signature: garbage;;;==\r\nFrom: a@shop.example\r\nList-Unsubscribe: <" + b"h" * 20000 + b">\r\n\r\nx",
    ],
    ids=["empty", "binary", "bad-base64", "no-boundary", "10000-headers", "deep-nesting", "empty-dkim-tags", "long-values"],
)
def test_hostile_messages_never_crash(ns, tmp_path, data):
    by, code = check(ns, tmp_path, data)
    assert code == 1 and by["message-syntax"]


def test_ten_thousand_headers_are_bounded():
    msg = parse_message(b"".join(b"X-H%d: v\r\n" % i for i in range(10_000)) + b"\r\nbody")
    assert len(msg.headers) == MAX_HEADERS and msg.too_big


def test_huge_message_is_refused_without_reading_it_all(ns, tmp_path):
    path = tmp_path / "big.eml"
    with open(path, "wb") as f:
        f.write(compose(body=""))
        f.write(b"x" * (MAX_BYTES + 10))
    report, code = run_check_message(CheckMessageOptions(str(path), nameservers=(ns,), timeout=2.0))
    statuses = {c.check: c.status for c in report.checks}
    assert statuses["message-syntax"] == "fail" and statuses["dkim-signature"] == "fail" and code == 1


# ------------------------------------------------------------------ CLI contract


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailinfra.cli", "check-message", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_cli_passes_writes_output_and_fails(ns, tmp_path):
    good = tmp_path / "good.eml"
    good.write_bytes(sign(compose()))
    out = tmp_path / "r.json"
    proc = _cli(str(good), "--nameserver", ns, "--format", "json", "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text())["summary"]["fail"] == 0
    bad = tmp_path / "bad.eml"
    bad.write_bytes(sign(compose()).replace(b"Half", b"Full"))
    proc = _cli(str(bad), "--nameserver", ns)
    assert proc.returncode == 1 and "FAIL  dkim-signature" in proc.stdout


def test_cli_with_a_shipped_stack_checks_its_domain(ns, tmp_path):
    msg = tmp_path / "m.eml"
    msg.write_bytes(sign(compose()))
    proc = _cli(str(msg), "--stack", "dev", "--nameserver", ns, "--format", "json")
    doc = json.loads(proc.stdout)
    statuses = {c["check"]: c["status"] for c in doc["checks"]}
    assert doc["stack"] == "dev" and statuses["declared-domain"] == "fail" and proc.returncode == 1


@pytest.mark.parametrize(
    "args, needle",
    [
        (("/nonexistent/m.eml",), "cannot read the message"),
        (("{msg}", "--nameserver", "bad host:x"), "--nameserver"),
        (("{msg}", "--client-ip", "300.1.1.1"), "--client-ip"),
        (("{msg}", "--output", "/nonexistent-dir/r.txt"), "--output"),
        (("{msg}", "--stack", "nosuchstack"), "nosuchstack"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(tmp_path, args, needle):
    msg = tmp_path / "m.eml"
    msg.write_bytes(compose())
    proc = _cli(*(a.replace("{msg}", str(msg)) for a in args))
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in proc.stderr


def test_options_reject_bad_input(tmp_path):
    with pytest.raises(CheckMessageInputError):
        CheckMessageOptions(str(tmp_path / "m.eml"), client_ip="nope").validate()
