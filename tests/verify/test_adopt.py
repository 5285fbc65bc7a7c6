"""mailinfra adopt -> import file -> plan --live, against zones served by the local Knot.

Three live domains: one with a workspace suite, a CRM and an old SES include; one whose
DMARC reports go to outside services; one with a site-verification TXT at the apex.
"""

from __future__ import annotations

import http.server
import json
import os
import threading
import urllib.parse
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from click.testing import CliRunner

from mailinfra.cli import main
from mailinfra.cliutil import make_plan
from tests.privacy.test_erase import endpoint  # noqa: F401 - the moto server fixture

from .conftest import txt_rdata, zone_text

REPO = Path(__file__).resolve().parents[2]
STACK = "dev"
DKIM_P = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" + "A" * 300 + "IDAQAB"

ZONES: dict[str, tuple[str, list[tuple[str, str, str]]]] = {
    "acme.example": (
        "Z0ACM1234567890ABCDE",
        [
            (
                "@",
                "TXT",
                txt_rdata("v=spf1 ip4:192.0.2.10 include:_spf.google.com include:_spf.salesforce.com include:amazonses.com -all"),
            ),
            ("@", "MX", "1 aspmx.l.google.com."),
            ("_dmarc", "TXT", txt_rdata("v=DMARC1; p=none; rua=mailto:dmarc@acme.example")),
            ("google._domainkey", "TXT", txt_rdata(f"v=DKIM1; k=rsa; p={DKIM_P}")),
            ("sf1._domainkey", "TXT", txt_rdata(f"v=DKIM1; k=rsa; p={DKIM_P}")),
        ],
    ),
    "bravo.example": (
        "Z0BRV1234567890ABCDE",
        [
            ("@", "TXT", txt_rdata("v=spf1 include:spf.protection.outlook.com -all")),
            ("@", "MX", "0 bravo-example.mail.protection.outlook.com."),
            (
                "_dmarc",
                "TXT",
                txt_rdata("v=DMARC1; p=quarantine; rua=mailto:x1@ag.dmarcian.com; ruf=mailto:f@in.ondmarc.com"),
            ),
            ("selector1._domainkey", "CNAME", "selector1-bravo-example._domainkey.bravo.onmicrosoft.com."),
        ],
    ),
    "charlie.example": (
        "Z0CHR1234567890ABCDE",
        [
            ("@", "TXT", txt_rdata("v=spf1 include:mail.zendesk.com -all")),
            ("@", "TXT", txt_rdata("google-site-verification=Ab12Cd34Ef56")),
            ("@", "MX", "10 mx.charlie.example."),
            ("zendesk1._domainkey", "CNAME", "zendesk1._domainkey.zendesk.com."),
        ],
    ),
}


@pytest.fixture
def live(knot):
    return knot({origin: zone_text(origin, recs) for origin, (_, recs) in ZONES.items()})


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project that runs this repo's program, with a dev stack that declares the three zones."""
    (tmp_path / "stacks").mkdir()
    (tmp_path / "Pulumi.yaml").write_text(
        f"name: mailinfra\nruntime: python\nmain: {REPO}\nstackConfigDir: stacks\n", encoding="utf-8"
    )
    data = yaml.safe_load((REPO / "stacks" / "Pulumi.dev.yaml").read_text(encoding="utf-8"))
    zones = data["config"]["mailinfra:zones"]
    for origin, (zone_id, _) in ZONES.items():
        zones[origin] = {"provider": "route53", "zoneId": zone_id}
    _save(tmp_path, data)
    return tmp_path


def _save(project: Path, data: dict[str, Any]) -> None:
    (project / "stacks" / f"Pulumi.{STACK}.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def _load(project: Path) -> dict[str, Any]:
    return yaml.safe_load((project / "stacks" / f"Pulumi.{STACK}.yaml").read_text(encoding="utf-8"))


def _adopt(project: Path, ns: str, domain: str, tmp: Path) -> tuple[int, dict[str, Any], dict[str, Any], dict[str, Any]]:
    frag, imp = tmp / f"{domain}.yaml", tmp / f"{domain}.import.json"
    res = CliRunner().invoke(
        main,
        ["adopt", "--domain", domain, "--stack", STACK, "--project", str(project), "--nameserver", ns,
         "--format", "json", "--fragment", str(frag), "--import-file", str(imp)],
    )  # fmt: skip
    assert res.exit_code in (0, 1), res.output
    return res.exit_code, json.loads(res.stdout), yaml.safe_load(frag.read_text()), json.loads(imp.read_text())


def _merge(project: Path, fragment: dict[str, Any]) -> None:
    data = _load(project)
    entry = fragment["mailinfra:domains"][0]
    domains = [d for d in data["config"]["mailinfra:domains"] if d.get("name") != entry["name"]]
    data["config"]["mailinfra:domains"] = [*domains, entry]
    _save(project, data)


def _plan_live(project: Path, ns: str, *extra: str) -> tuple[int, dict[str, Any]]:
    res = CliRunner().invoke(
        main, ["plan", "--stack", STACK, "--project", str(project), "--live", "--nameserver", ns, "--format", "json", *extra]
    )
    assert res.exit_code in (0, 1), res.output
    return res.exit_code, json.loads(res.stdout)


def _urn_of(entry: dict[str, Any], entries: dict[str, dict[str, Any]]) -> str:
    """The URN pulumi import gives an entry: its type chain through its parents."""
    chain = [entry]
    while "parent" in chain[-1]:
        chain.append(entries[chain[-1]["parent"]])
    types = "$".join(e["type"] for e in reversed(chain))
    return f"urn:pulumi:{STACK}::mailinfra::{types}::{entry.get('logicalName', entry['name'])}"


def _round_trip(project: Path, ns: str, domain: str, tmp: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    code, report, fragment, imports = _adopt(project, ns, domain, tmp)
    assert code == 0, report["losses"]
    assert report["losses"] == []
    _merge(project, fragment)
    plan = make_plan(str(project), STACK)
    urns = {r.urn: r for r in plan.resources}
    entries = {e["name"]: e for e in imports["resources"]}
    zone_id = ZONES[domain][0]
    for e in imports["resources"]:
        urn = _urn_of(e, entries)
        assert urn in urns, f"import entry {e['name']} would take {urn}, which the program does not register"
        assert urns[urn].type == e["type"]
        if not e.get("component"):
            res = urns[urn]
            assert e["id"] == f"{zone_id}_{res.inputs['name']}_{res.inputs['type']}"
    # every declared record that is live is imported: the first `up` creates none of them
    imported = {_urn_of(e, entries) for e in imports["resources"] if not e.get("component")}
    for change in report["changes"]:
        if change["status"] in ("unchanged", "replaced"):
            assert change["urn"] in imported, change
    code, planned = _plan_live(project, ns)
    assert [v for v in planned["violations"] if v["policy"] == "live-sender-preserved"] == []
    # the adopted entry (other senders' includes, the other apex TXT) passes the pack
    mine = [v for v in planned["violations"] if domain in v["message"] or domain.replace(".", "-") in v["urn"]]
    assert [v for v in mine if v["enforcement"] == "mandatory"] == [], mine
    return report, fragment, imports


def _change(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in report["changes"] if c["name"] == name and c["type"] == "TXT")


def test_workspace_crm_and_old_ses_are_kept(live, project, tmp_path):
    report, fragment, imports = _round_trip(project, live.nameserver, "acme.example", tmp_path)
    entry = fragment["mailinfra:domains"][0]
    assert entry["spf"]["includes"] == ["_spf.google.com", "_spf.salesforce.com", "amazonses.com"]
    assert entry["spf"]["ip4"] == ["192.0.2.10"]
    assert sorted(entry["dkim"]["foreignSelectors"]) == ["google", "sf1"]
    assert entry["dmarc"]["rua"] == ["mailto:dmarc@acme.example"]
    assert entry["dmarc"]["policy"] == "none"
    assert _change(report, "acme.example")["status"] == "unchanged"
    assert _change(report, "_dmarc.acme.example")["status"] in ("unchanged", "replaced")
    ids = {e["id"] for e in imports["resources"] if "id" in e}
    assert {"Z0ACM1234567890ABCDE_acme.example_TXT", "Z0ACM1234567890ABCDE__dmarc.acme.example_TXT"} <= ids
    kept = " ".join(report["kept"])
    assert "Google Workspace" in kept and "Salesforce" in kept and "Amazon SES" in kept


def test_dmarc_external_destinations_are_kept(live, project, tmp_path):
    report, fragment, _ = _round_trip(project, live.nameserver, "bravo.example", tmp_path)
    entry = fragment["mailinfra:domains"][0]
    assert entry["dmarc"]["rua"] == ["mailto:x1@ag.dmarcian.com"]
    assert entry["dmarc"]["ruf"] == ["mailto:f@in.ondmarc.com"]
    assert entry["dmarc"]["policy"] == "quarantine"
    assert entry["dkim"]["foreignSelectors"] == ["selector1"]
    assert entry["spf"]["includes"] == ["spf.protection.outlook.com"]


def test_other_apex_txt_is_kept_in_the_record_set(live, project, tmp_path):
    report, fragment, _ = _round_trip(project, live.nameserver, "charlie.example", tmp_path)
    entry = fragment["mailinfra:domains"][0]
    assert entry["otherTxt"] == ["google-site-verification=Ab12Cd34Ef56"]
    spf = _change(report, "charlie.example")
    assert spf["status"] == "unchanged"
    assert sorted(spf["declared"]) == sorted(spf["live"])


def test_dropping_a_live_include_is_caught_with_the_sender_named(live, project, tmp_path):
    _, _, fragment, _ = _adopt(project, live.nameserver, "acme.example", tmp_path)
    fragment["mailinfra:domains"][0]["spf"]["includes"].remove("_spf.salesforce.com")
    _merge(project, fragment)
    code, planned = _plan_live(project, live.nameserver)
    lost = [v for v in planned["violations"] if v["policy"] == "live-sender-preserved"]
    assert len(lost) == 1, lost
    assert "Salesforce" in lost[0]["message"] and "include:_spf.salesforce.com" in lost[0]["message"]
    assert lost[0]["enforcement"] == "advisory"  # dev
    assert lost[0]["urn"].endswith("::acme-example-records-spf-apex")
    code, planned = _plan_live(project, live.nameserver, "--environment", "prod")
    lost = [v for v in planned["violations"] if v["policy"] == "live-sender-preserved"]
    assert [v["enforcement"] for v in lost] == ["mandatory"]
    assert code == 1


def test_dropping_the_other_apex_txt_is_caught(live, project, tmp_path):
    _, _, fragment, _ = _adopt(project, live.nameserver, "charlie.example", tmp_path)
    del fragment["mailinfra:domains"][0]["otherTxt"]
    _merge(project, fragment)
    _, planned = _plan_live(project, live.nameserver)
    lost = [v["message"] for v in planned["violations"] if v["policy"] == "live-sender-preserved"]
    assert len(lost) == 1 and "google-site-verification=Ab12Cd34Ef56" in lost[0] and "Google Workspace" in lost[0]


def test_adopt_text_output_and_bad_domain(live, project, tmp_path):
    res = CliRunner().invoke(
        main, ["adopt", "--domain", "acme.example", "--stack", STACK, "--project", str(project), "--nameserver", live.nameserver]
    )
    assert res.exit_code == 0, res.output
    assert "unchanged TXT   acme.example" in res.stdout
    assert "mailinfra:domains:" in res.stdout  # the fragment, on stdout without --fragment
    res = CliRunner().invoke(
        main,
        ["adopt", "--domain", "nowhere.invalid", "--stack", STACK, "--project", str(project), "--nameserver", live.nameserver],
    )
    assert res.exit_code == 2
    assert "no zone under mailinfra:zones" in res.output
    assert os.path.exists(project / "stacks" / f"Pulumi.{STACK}.yaml")


def test_ses_identity_and_configuration_set_are_imported_by_name(live, project, tmp_path, monkeypatch, endpoint):  # noqa: F811 - the fixture
    url = endpoint  # moto's server on loopback
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(key, value)
    ses = boto3.client("sesv2", region_name="eu-west-1", endpoint_url=url)
    ses.create_email_identity(EmailIdentity="acme.example")
    ses.create_configuration_set(ConfigurationSetName="acme-example-relay")
    imp = tmp_path / "import.json"
    res = CliRunner().invoke(
        main,
        ["adopt", "--domain", "acme.example", "--stack", STACK, "--project", str(project), "--nameserver",
         live.nameserver, "--format", "json", "--import-file", str(imp), "--ses", "--endpoint-url", url],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    fragment = json.loads(res.stdout)["fragment"]
    _merge(project, fragment)
    doc = json.loads(imp.read_text())
    entries = {e["name"]: e for e in doc["resources"]}
    plan = make_plan(str(project), STACK)
    urns = {r.urn: r for r in plan.resources}
    by_type = {e["type"]: e for e in doc["resources"] if not e.get("component")}
    identity = by_type["aws:sesv2/emailIdentity:EmailIdentity"]
    config_set = by_type["aws:sesv2/configurationSet:ConfigurationSet"]
    assert identity["id"] == "acme.example" and config_set["id"] == "acme-example-relay"
    for e in (identity, config_set):
        assert _urn_of(e, entries) in urns
    assert entries[identity["parent"]]["type"] == "mailinfra:relay:SesRelay"


CF_ZONE, CF_ACCOUNT = "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"
DELTA = [
    ("@", "TXT", txt_rdata("v=spf1 include:sendgrid.net -all")),
    ("@", "TXT", txt_rdata("MS=ms1234")),
    ("_dmarc", "TXT", txt_rdata("v=DMARC1; p=none; rua=mailto:dmarc@delta.example")),
]


class _CloudflareApi(http.server.BaseHTTPRequestHandler):
    """The dns_records listing of Cloudflare's API, for one zone, on loopback."""

    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        url = urllib.parse.urlparse(self.path)
        query = urllib.parse.parse_qs(url.query)
        type(self).seen.append(self.headers.get("Authorization", ""))
        result = []
        if url.path == f"/zones/{CF_ZONE}/dns_records" and query.get("name") == ["delta.example"]:
            result = [
                {"id": "rec-spf", "type": "TXT", "content": '"v=spf1 include:sendgrid.net -all"'},
                {"id": "rec-ms", "type": "TXT", "content": '"MS=ms1234"'},
            ]
        elif url.path == f"/zones/{CF_ZONE}/dns_records" and query.get("name") == ["_dmarc.delta.example"]:
            result = [{"id": "rec-dmarc", "type": "TXT", "content": '"v=DMARC1; p=none; rua=mailto:dmarc@delta.example"'}]
        body = json.dumps({"success": True, "result": result}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_cloudflare_records_need_a_token_or_are_imported_by_id(knot, project, tmp_path, monkeypatch):
    server = knot({"delta.example": zone_text("delta.example", DELTA)})
    data = _load(project)
    data["config"]["mailinfra:zones"]["delta.example"] = {"provider": "cloudflare", "zoneId": CF_ZONE, "accountId": CF_ACCOUNT}
    _save(project, data)
    args = ["adopt", "--domain", "delta.example", "--stack", STACK, "--project", str(project),
            "--nameserver", server.nameserver, "--format", "json", "--import-file", str(tmp_path / "imp.json")]  # fmt: skip
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN", raising=False)
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    # Cloudflare keeps one record per value: the verification TXT is not the SPF resource's to lose
    assert report["losses"] == []
    assert "otherTxt" in report["fragment"]["mailinfra:domains"][0]
    assert any(n.startswith("delta.example TXT") for n in report["import"]["needsToken"])
    assert json.loads((tmp_path / "imp.json").read_text())["resources"] == []

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _CloudflareApi)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "test-token")
        res = CliRunner().invoke(main, [*args, "--cloudflare-api", f"http://127.0.0.1:{httpd.server_address[1]}"])
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert res.exit_code == 0, res.output
    assert "test-token" not in res.output
    assert "Bearer test-token" in _CloudflareApi.seen
    doc = json.loads((tmp_path / "imp.json").read_text())
    ids = {e["id"] for e in doc["resources"] if "id" in e}
    assert {f"{CF_ZONE}/rec-spf", f"{CF_ZONE}/rec-dmarc"} <= ids  # the live records the stack declares
    entries = {e["name"]: e for e in doc["resources"]}
    _merge(project, json.loads(res.stdout)["fragment"])
    plan = make_plan(str(project), STACK)
    urns = {r.urn for r in plan.resources}
    for e in doc["resources"]:
        assert _urn_of(e, entries) in urns


def test_terms_the_config_cannot_say_are_notes_and_losses_not_crashes(knot, project, tmp_path):
    odd = [
        ("@", "TXT", txt_rdata("v=spf1 a:relay.echo.example exists:%{i}._spf.echo.example include:_spf.google.com ?all")),
        ("_dmarc", "TXT", txt_rdata("v=DMARC1; p=bogus; rua=mailto:d@echo.example; pct=50")),
        ("_smtp._tls", "TXT", txt_rdata("v=TLSRPTv1; rua=nonsense")),
    ]
    server = knot({"echo.example": zone_text("echo.example", odd)})
    data = _load(project)
    data["config"]["mailinfra:zones"]["echo.example"] = {"provider": "route53", "zoneId": "Z0ECH1234567890ABCDE"}
    _save(project, data)
    res = CliRunner().invoke(
        main,
        ["adopt", "--domain", "echo.example", "--stack", STACK, "--project", str(project),
         "--nameserver", server.nameserver, "--format", "json"],
    )  # fmt: skip
    assert res.exit_code == 1, res.output  # the terms it cannot keep would be lost: said, not hidden
    report = json.loads(res.stdout)
    notes = " ".join(report["notes"])
    assert "a:relay.echo.example" in notes and "exists:%{i}._spf.echo.example" in notes and "?all" in notes
    lost = {x["term"] for x in report["losses"]}
    assert {"a:relay.echo.example", "exists:%{i}._spf.echo.example"} <= lost
    assert "include:_spf.google.com" not in lost
    entry = report["fragment"]["mailinfra:domains"][0]
    assert entry["spf"]["all"] == "~"
    assert "the live DMARC does not parse" in notes and "policy" not in entry.get("dmarc", {})
    assert "the live TLS-RPT record does not parse" in notes
