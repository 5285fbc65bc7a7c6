"""verify against real parts: Knot DNS, an HTTPS server with a test CA, aiosmtpd.

The good world passes every check; each fault test breaks exactly one thing.
"""

from __future__ import annotations

import json
import socket

import pytest
from click.testing import CliRunner

from mailinfra.verify import (
    CheckResult,
    Report,
    VerifyInputError,
    run_verify,
)
from mailinfra.verify.cli import verify as verify_cmd
from mailinfra.policies.mailinfra_policy.standards import mtasts as mtasts_std

from .conftest import (
    DOMAIN,
    REPORTS,
    SELECTOR,
    SENDER_IP,
    free_port,
    good_policy,
    options,
    txt_rdata,
)
from .dnsserver import ZoneServer


def only(report: Report, check: str, name: str | None = None) -> list[CheckResult]:
    return [c for c in report.checks if c.check == check and (name is None or c.name == name)]


def not_passing(report: Report) -> list[CheckResult]:
    return [c for c in report.checks if c.status != "pass"]


def test_good_world_all_pass(run, world, smtp_servers):
    report, code = run(world, dkim_key=None)
    bad = not_passing(report)
    assert bad == [], "\n" + report.to_text()
    assert code == 0
    checks = {c.check for c in report.checks}
    assert {
        "record",
        "spf-single",
        "spf-syntax",
        "spf-budget",
        "spf-sender",
        "dkim-key",
        "dmarc-syntax",
        "dmarc-report-auth",
        "mta-sts-id",
        "mta-sts-policy",
        "mta-sts-mx",
        "tls-rpt",
        "smtp-starttls",
        "smtp-starttls-required",
        "smtp-tls-version",
        "smtp-certificate",
    } <= checks
    # SPF sender checks run on the MAIL FROM domain (the SPF name with an MX)
    assert {c.name for c in only(report, "spf-sender")} == {
        f"mail.{DOMAIN} from {SENDER_IP}",
        f"mail.{DOMAIN} from 2001:db8::25",
    }
    assert only(report, "smtp-tls-version")[0].found in ("TLSv1.2", "TLSv1.3")
    data = json.loads(report.to_json())
    assert set(data) == {"stack", "checks", "summary"}
    assert set(data["checks"][0]) == {
        "name",
        "check",
        "status",
        "expected",
        "found",
        "message",
    }
    assert data["summary"]["fail"] == 0 and data["summary"]["total"] == len(report.checks)
    assert "| status |" in report.to_markdown()


def test_dkim_sign_verifies_against_served_key(run, world, pki, tmp_path):
    key = tmp_path / "dkim.pem"
    key.write_bytes(pki.dkim_private_pem)
    report, code = run(world, dkim_key=str(key), dkim_selector=SELECTOR)
    sign = only(report, "dkim-sign")
    assert [c.status for c in sign] == ["pass"], report.to_text()
    assert code == 0
    wrong = tmp_path / "other.pem"
    wrong.write_bytes(pki.other_private_pem)
    report, code = run(world, dkim_key=str(wrong), dkim_selector=SELECTOR)
    assert [c.status for c in only(report, "dkim-sign")] == ["fail"]
    assert code == 1
    assert "PRIVATE KEY" not in report.to_text()


def test_spf_nested_includes_past_ten_lookups(run, world):
    # every record alone is well within 10; the tree is 11
    world.replace(DOMAIN, "@", "TXT", txt_rdata("v=spf1 include:s1.example.com -all"))
    world.zones[DOMAIN].append(("@", "TXT", txt_rdata("google-site-verification=abc")))
    world.declared[0] = (DOMAIN, "TXT", ["v=spf1 include:s1.example.com -all"])
    for n in range(1, 4):
        world.zones[DOMAIN].append(
            (
                f"s{n}",
                "TXT",
                txt_rdata(f"v=spf1 a:mx1.example.com mx:example.com include:s{n + 1}.example.com -all"),
            )
        )
    world.zones[DOMAIN].append(("s4", "TXT", txt_rdata("v=spf1 a:mx1.example.com ip4:192.0.2.0/24 -all")))
    report, code = run(world)
    budget = only(report, "spf-budget", DOMAIN)
    assert budget[0].status == "fail", report.to_text()
    assert budget[0].found.startswith("11 DNS-querying terms")
    assert code == 1
    assert only(report, "spf-syntax", DOMAIN)[0].status == "pass"  # the root record itself is fine
    assert only(report, "record", DOMAIN)[0].status == "pass"
    assert {c.check for c in not_passing(report)} == {"spf-budget"}


def test_spf_void_lookups_and_loop(run, world):
    world.zones[DOMAIN].append(("_spf", "TXT", "x"))  # placeholder removed below
    world.replace(
        DOMAIN,
        "_spf",
        "TXT",
        txt_rdata("v=spf1 a:nx1.example.com a:nx2.example.com exists:nx3.example.com include:_spf.example.com -all"),
    )
    report, _ = run(world)
    budget = only(report, "spf-budget", DOMAIN)[0]
    assert budget.status == "fail"
    assert "3 void lookups" in budget.message and "include loop" in budget.message


def test_two_spf_records_at_one_name(run, world):
    world.zones[DOMAIN].append(("@", "TXT", txt_rdata("v=spf1 ip4:198.51.100.1 -all")))
    report, code = run(world)
    single = only(report, "spf-single", DOMAIN)
    assert [c.status for c in single] == ["fail"]
    assert "2 SPF records" in single[0].message
    assert code == 1
    assert {(c.check, c.name) for c in not_passing(report)} == {("spf-single", DOMAIN)}


def test_truncated_dkim_key(run, world, pki):
    cut = pki.dkim_public_b64[:200]
    world.replace(DOMAIN, f"{SELECTOR}._domainkey", "TXT", txt_rdata(f"v=DKIM1; k=rsa; p={cut}"))
    report, code = run(world)
    key = only(report, "dkim-key", f"{SELECTOR}._domainkey.{DOMAIN}")
    assert [c.status for c in key] == ["fail"], report.to_text()
    assert pki.dkim_public_b64[:40] not in key[0].message  # no key material in messages
    assert only(report, "record", f"{SELECTOR}._domainkey.{DOMAIN}")[0].status == "fail"
    assert code == 1


def test_short_rsa_dkim_key(run, world):
    import base64

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    short = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    p = base64.b64encode(short.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
    value = f"v=DKIM1; k=rsa; p={p}"
    world.replace(DOMAIN, f"{SELECTOR}._domainkey", "TXT", txt_rdata(value))
    world.declared[4] = (f"{SELECTOR}._domainkey.{DOMAIN}", "TXT", [value])
    report, _ = run(world)
    key = only(report, "dkim-key", f"{SELECTOR}._domainkey.{DOMAIN}")[0]
    assert key.status == "fail" and key.found == "rsa 1024 bits"


def test_external_rua_without_authorisation(run, world):
    world.zones[REPORTS] = [("other", "TXT", txt_rdata("unrelated"))]
    report, code = run(world)
    auth = only(report, "dmarc-report-auth")
    assert [c.status for c in auth] == ["fail"]
    assert auth[0].name == f"{DOMAIN}._report._dmarc.{REPORTS}"
    assert code == 1
    assert {c.check for c in not_passing(report)} == {"dmarc-report-auth"}


def test_missing_tlsrpt_record(run, world):
    world.replace(DOMAIN, "_smtp._tls", "TXT", None)
    report, code = run(world)
    assert [c.status for c in only(report, "tls-rpt")] == ["fail"]
    record = only(report, "record", f"_smtp._tls.{DOMAIN}")[0]
    assert record.status == "fail" and "NXDOMAIN" in record.found
    assert code == 1


def test_record_drifted_from_declared_value(run, world):
    drifted = f"v=DMARC1; p=none; rua=mailto:dmarc@example.com,mailto:agg@{REPORTS}"
    world.replace(DOMAIN, "_dmarc", "TXT", txt_rdata(drifted))
    report, code = run(world)
    record = only(report, "record", f"_dmarc.{DOMAIN}")[0]
    assert record.status == "fail"
    assert "p=reject" in record.expected and "p=none" in record.found
    assert "drift" in record.message
    assert code == 1


def test_trailing_dots_and_case_are_normalised(run, world):
    world.declared[1] = (DOMAIN, "MX", ["10 MX1.Example.com."])
    report, _ = run(world)
    assert only(report, "record", DOMAIN)[0].status == "pass"
    mx = [c for c in only(report, "record") if c.name == DOMAIN and "mx1" in c.expected.lower()]
    assert mx and all(c.status == "pass" for c in mx)


def test_nxdomain_declared_name(run, world):
    world.declared.append((f"missing.{DOMAIN}", "TXT", ["v=spf1 -all"]))
    report, code = run(world)
    rec = only(report, "record", f"missing.{DOMAIN}")[0]
    assert rec.status == "fail" and "NXDOMAIN" in rec.found
    null_spf = only(report, "spf-single", f"missing.{DOMAIN}")[0]
    assert null_spf.status == "fail"
    assert code == 1


def test_unknown_values_use_outputs(run, world):
    # the Easy DKIM CNAME is unknown in the plan; its token comes from the outputs
    world.declared = [d for d in world.declared if not d[0].startswith("tok1.")]
    plan_extra = ("[unknown]", "CNAME", ["[unknown]"])
    world.declared.append(plan_extra)
    report, _ = run(world)
    assert [c.status for c in report.checks if c.name.startswith("[unknown")] == ["warn"]
    world.outputs = {"relay": {"domain": DOMAIN, "dkim_tokens": ["tok1"]}}
    report, code = run(world)
    rec = only(report, "record", f"tok1._domainkey.{DOMAIN}")
    assert [c.status for c in rec] == ["pass"] and code == 0, report.to_text()
    assert only(report, "dkim-key", f"tok1._domainkey.{DOMAIN}")[0].status == "pass"


# ----------------------------------------------------------------------------- MTA-STS


def test_mta_sts_bad_mode(run, world, https_server):
    text = good_policy().replace("mode: enforce", "mode: strict")
    https_server.files["/.well-known/mta-sts.txt"] = (200, "text/plain", text.encode())
    report, code = run(world)
    policy = only(report, "mta-sts-policy")[0]
    assert policy.status == "fail" and "mode" in policy.message
    assert code == 1


def test_mta_sts_mx_not_covered(run, world, https_server):
    text = good_policy(mx=("mx.other.example",))
    https_server.files["/.well-known/mta-sts.txt"] = (200, "text/plain", text.encode())
    report, code = run(world)
    mx = only(report, "mta-sts-mx")[0]
    assert mx.status == "fail" and "mx1.example.com" in mx.message
    assert only(report, "mta-sts-policy")[0].status == "warn"  # not the declared policy (hash)
    assert code == 1


def test_mta_sts_wrong_id(run, world):
    world.replace(DOMAIN, "_mta-sts", "TXT", txt_rdata(mtasts_std.build_txt("0" * 32)))
    report, code = run(world)
    ids = only(report, "mta-sts-id")
    assert [c.status for c in ids] == ["fail"] and "0" * 32 in ids[0].found
    assert code == 1


def test_mta_sts_untrusted_certificate(run, world, tmp_path):
    """A CA file without our test CA: the policy fetch must fail certificate validation."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "unrelated CA")])
    now = dt.datetime.now(dt.timezone.utc)
    ca = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=9))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    other = tmp_path / "other-ca.pem"
    other.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    report, code = run(world, ca_file=str(other), smtp=())
    policy = only(report, "mta-sts-policy")[0]
    assert policy.status == "fail" and "certificate verification failed" in policy.message
    assert code == 1


# ----------------------------------------------------------------------------- SMTP


def test_smtp_without_starttls(run, world, smtp_servers):
    report, code = run(world, smtp=(f"plain.example.com:{smtp_servers.plain}",))
    starttls = only(report, "smtp-starttls")[0]
    assert starttls.status == "fail"
    assert only(report, "smtp-starttls-required")[0].status == "fail"
    assert code == 1


def test_smtp_expired_certificate(run, world, smtp_servers):
    report, code = run(world, smtp=(f"expired.example.com:{smtp_servers.expired}",))
    cert = only(report, "smtp-certificate")[0]
    assert cert.status == "fail" and "expired" in cert.message, report.to_text()
    assert only(report, "smtp-starttls")[0].status == "pass"
    assert only(report, "smtp-starttls-required")[0].status == "pass"
    assert code == 1


def test_smtp_certificate_near_expiry_with_injected_time(run, world):
    import datetime as dt

    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=80)  # the good cert has 90 days
    report, _ = run(world, now=later)
    cert = only(report, "smtp-certificate")[0]
    assert cert.status == "fail" and "expires in" in cert.message


def test_declared_mx_hosts_probed_on_smtp_port(run, world, smtp_servers):
    # without --smtp the declared MX hosts are probed (STARTTLS offered is enough)
    report, code = run(world, smtp=(), smtp_port=smtp_servers.good)
    assert [c.status for c in only(report, "smtp-starttls")] == ["pass"]
    assert only(report, "smtp-starttls")[0].name == f"mx1.example.com:{smtp_servers.good}"
    assert not only(report, "smtp-starttls-required")
    assert code == 0, report.to_text()


# ----------------------------------------------------------------------------- DNS faults


def test_dead_nameserver_port_is_error_not_crash(world, pki, https_server, smtp_servers):
    port = free_port()  # nothing listens
    report, code = run_verify(options(world, f"127.0.0.1:{port}", pki, https_server, smtp_servers, timeout=0.5))
    assert code == 1
    assert report.checks and all(c.status in ("error", "warn", "fail") for c in report.checks)
    assert any("refused" in c.message or "timeout" in c.message for c in report.checks)


def test_silent_nameserver_times_out(world, pki, https_server, smtp_servers):
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        report, code = run_verify(
            options(
                world,
                f"127.0.0.1:{silent.getsockname()[1]}",
                pki,
                https_server,
                smtp_servers,
                timeout=0.3,
                smtp=(),
            )
        )
    finally:
        silent.close()
    assert code == 1
    records = only(report, "record")
    assert records and all(c.status == "error" and "timeout" in c.message for c in records)


@pytest.mark.parametrize("rcode,text", [(2, "SERVFAIL"), (5, "REFUSED")])
def test_servfail_and_refused(world, pki, https_server, smtp_servers, rcode, text):
    server = ZoneServer().start()
    try:
        names = {d[0] for d in world.declared} | {
            f"_dmarc.{DOMAIN}",
            f"mta-sts.{DOMAIN}",
            "relay.example.com",
        }
        server.set_records({}, rcode_for={n: rcode for n in names})
        report, code = run_verify(
            options(
                world,
                f"127.0.0.1:{server.port}",
                pki,
                https_server,
                smtp_servers,
                timeout=0.5,
            )
        )
    finally:
        server.stop()
    assert code == 1
    record = only(report, "record", f"_dmarc.{DOMAIN}")[0]
    assert record.status == "error" and text in record.message


# ----------------------------------------------------------------------------- input and CLI


@pytest.mark.parametrize(
    "kw,fragment",
    [
        ({"nameservers": ("127.0.0.1:99999",)}, "--nameserver"),
        ({"nameservers": ("[::1",)}, "--nameserver"),
        ({"smtp": ("relay.example.com:x",)}, "--smtp"),
        ({"plan_data": None, "plan": "/nonexistent/plan.json"}, "--plan"),
        ({"outputs_data": None, "outputs": "/nonexistent/out.json"}, "--outputs"),
        ({"sender_ips": ("not-an-ip",)}, "--sender-ip"),
    ],
)
def test_bad_input_raises(world, pki, https_server, smtp_servers, kw, fragment):
    opts = options(world, "127.0.0.1:53", pki, https_server, smtp_servers, **kw)
    with pytest.raises(VerifyInputError, match=fragment.replace("-", "\\-")):
        run_verify(opts)


def test_cli_json_and_exit_codes(knot, world, pki, https_server, smtp_servers, tmp_path):
    server = knot(world.zone_files())
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(world.plan()))
    args = [
        "--stack",
        "test",
        "--plan",
        str(plan),
        "--nameserver",
        server.nameserver,
        "--format",
        "json",
        "--ca-file",
        pki.ca_file,
        "--mta-sts-port",
        str(https_server.port),
        "--smtp",
        f"relay.example.com:{smtp_servers.good}",
        "--sender-ip",
        SENDER_IP,
        "--timeout",
        "2",
    ]
    result = CliRunner().invoke(verify_cmd, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["stack"] == "test" and data["summary"]["fail"] == 0
    out = tmp_path / "report.md"
    result = CliRunner().invoke(
        verify_cmd,
        [
            *args[:-8],
            "--format",
            "markdown",
            "--output",
            str(out),
            "--smtp",
            "relay.example.com:1",
        ],
    )
    assert result.exit_code == 1
    assert out.read_text().startswith("## mailinfra verify")
    bad_plan = tmp_path / "bad.json"
    bad_plan.write_text("{not json")
    result = CliRunner().invoke(verify_cmd, ["--stack", "test", "--plan", str(bad_plan)])
    assert result.exit_code == 2 and "--plan" in result.output
    result = CliRunner().invoke(
        verify_cmd,
        ["--stack", "test", "--plan", str(plan), "--nameserver", "1.2.3.4:0"],
    )
    assert result.exit_code == 2


def test_outputs_published_records_form(run, world):
    # this repo's program exports {"domains": {d: {"records": {"<name>/<TYPE>": [values]}}}}
    world.declared = [d for d in world.declared if not d[0].startswith("tok1.")]
    world.declared.append(("[unknown]", "CNAME", ["[unknown]"]))
    world.outputs = {"domains": {DOMAIN: {"records": {"tok1._domainkey.example.com/CNAME": ["tok1.dkim.amazonses.com"]}}}}
    report, code = run(world)
    assert [c.status for c in only(report, "record", f"tok1._domainkey.{DOMAIN}")] == ["pass"]
    assert code == 0, report.to_text()


def test_sender_ips_come_from_the_plan_when_not_given(run, world):
    plan = world.plan()
    plan.setdefault("outputs", {})["senderIps"] = [SENDER_IP]
    report, _ = run(world, dkim_key=None, plan_data=plan, sender_ips=())
    assert {c.name for c in only(report, "spf-sender")} == {f"mail.{DOMAIN} from {SENDER_IP}"}
    assert all(c.status == "pass" for c in only(report, "spf-sender"))
    # a bad declared IP is bad input, like a bad --sender-ip
    plan["outputs"]["senderIps"] = ["not-an-ip"]
    with pytest.raises(VerifyInputError, match="--sender-ip: 'not-an-ip' is not an IP address"):
        run(world, dkim_key=None, plan_data=plan, sender_ips=())
