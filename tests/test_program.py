"""The repo's own program, planned offline: the shipped stacks, the CLI contract,
exit codes, zone export, and that no secret reaches any output."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys

import dns.zone
import pytest
import yaml

from mailinfra import render
from mailinfra.dnsplan import declared_records
from mailinfra.engine import run_plan
from mailinfra.policyrun import run_policies
from mailinfra.zone import zone_files

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def plans():
    out = {}
    for stack in ("dev", "staging", "prod"):
        plan = run_plan(ROOT, stack)
        plan.violations = run_policies(plan)
        out[stack] = plan
    return out


def _json(plan) -> dict:
    buf = io.StringIO()
    render.plan_to_json(plan, buf)
    return json.loads(buf.getvalue())


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_shipped_stacks_have_no_mandatory_violation(plans, stack):
    mandatory = [v for v in plans[stack].violations if v.enforcement == "mandatory"]
    assert mandatory == [], [(v.policy, v.urn, v.message) for v in mandatory]


def test_prod_declares_every_auth_record_on_both_providers(plans):
    data = _json(plans["prod"])
    recs = declared_records(data)
    purposes: dict[str, set[str]] = {"route53": set(), "cloudflare": set()}
    for r in recs:
        if r.values is None:
            if r.type == "CNAME" and "easy-dkim" in r.urn:
                purposes[r.provider].add("dkim")
            continue
        assert r.name is not None
        text = r.values[0]
        if text.startswith("v=spf1") and not r.name.startswith("bounce."):
            purposes[r.provider].add("spf")
        elif text.startswith("v=DMARC1") and r.name.startswith("_dmarc."):
            purposes[r.provider].add("dmarc")
        elif text.startswith("v=STSv1"):
            purposes[r.provider].add("mta-sts")
        elif text.startswith("v=TLSRPTv1"):
            purposes[r.provider].add("tls-rpt")
    # Cloudflare's domain uses BYODKIM: its TXT value is known only after the key exists
    purposes["cloudflare"].update("dkim" for r in recs if r.provider == "cloudflare" and r.name and "._domainkey." in r.name)
    for provider in ("route53", "cloudflare"):
        assert {"spf", "dkim", "dmarc", "mta-sts", "tls-rpt"} <= purposes[provider], provider


def test_prod_keys_are_protected_and_relays_require_tls(plans):
    plan = plans["prod"]
    keys = [r for r in plan.resources if r.type == "aws:kms/key:Key"]
    assert keys and all(r.options["protect"] for r in keys)
    sets = [r for r in plan.resources if r.type == "aws:sesv2/configurationSet:ConfigurationSet"]
    assert len(sets) == 2 and all(r.inputs["deliveryOptions"]["tlsPolicy"] == "REQUIRE" for r in sets)
    dev_keys = [r for r in plans["dev"].resources if r.type == "aws:kms/key:Key"]
    assert dev_keys and not any(r.options["protect"] for r in dev_keys)


def test_no_secret_in_any_output(plans):
    for stack, plan in plans.items():
        buf = io.StringIO()
        render.plan_to_json(plan, buf)
        text = buf.getvalue() + render.plan_to_text(plan, plan.violations)
        assert "PRIVATE KEY" not in text and "mock-secret" not in text, stack
        # secret versions carry the typed secret marker, never a value
        assert '"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"\n' in buf.getvalue() or stack == "dev"
        for r in plan.resources:
            if r.type == "aws:secretsmanager/secretVersion:SecretVersion":
                assert _json(plan) and r.inputs["secretString"].__class__.__name__ == "Secret"


def test_zone_files_load_with_dnspython(plans):
    files = zone_files(plans["prod"])
    assert set(files) == {"example.com", "example.org"}
    for name, text in files.items():
        zone = dns.zone.from_text(text, origin=name, relativize=False)
        txts = [rd.to_text() for _, _, rd in zone.iterate_rdatas("TXT")]
        assert any("v=DMARC1; p=reject" in t for t in txts), name
    org = dns.zone.from_text(files["example.org"], origin="example.org", relativize=False)
    # the external report destination's authorisation, declared in the zone this stack owns
    assert org.get_rdataset("mail.example.com._report._dmarc.example.org.", "TXT") is not None


def _cli(*args: str, cwd: str = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mailinfra.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.fixture()
def project_copy(tmp_path):
    dst = tmp_path / "proj"
    shutil.copytree(ROOT, dst, ignore=shutil.ignore_patterns(".venv", ".git", "tests", "bench", "*.egg-info", "__pycache__"))
    return dst


def _edit_stack(project, stack, fn):
    path = project / "stacks" / f"Pulumi.{stack}.yaml"
    data = yaml.safe_load(path.read_text())
    fn(data["config"])
    path.write_text(yaml.safe_dump(data))


BAD_CONFIGS = [
    (
        "ttl",
        lambda c: c["mailinfra:domains"][0].update(ttl=5),
        "mailinfra.domains[0](mail.dev.example.com).ttl: must be an integer from 60 to 86400 (got 5)",
    ),
    (
        "cidr",
        lambda c: c["mailinfra:network"].update(allowedCidrs=["10.0.0.0/40"]),
        "mailinfra.network.allowedCidrs[0]: must be a CIDR block",
    ),
    (
        "email",
        lambda c: c["mailinfra:keys"].update(alertEmail="security"),
        "mailinfra.keys.alertEmail: must be an email address (got 'security')",
    ),
    (
        "domain",
        lambda c: c["mailinfra:domains"][0].update(name="bad_domain..com"),
        "mailinfra.domains[0].name: must be a domain name",
    ),
    ("unknown", lambda c: c.update({"mailinfra:dmarcc": {}}), "mailinfra.dmarcc: unknown key 'dmarcc'"),
]


@pytest.mark.parametrize(("label", "edit", "message"), BAD_CONFIGS, ids=[b[0] for b in BAD_CONFIGS])
def test_bad_config_exits_2_with_one_line(project_copy, label, edit, message):
    _edit_stack(project_copy, "dev", edit)
    proc = _cli("plan", "--stack", "dev", "--project", str(project_copy), "--format", "json")
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1
    assert proc.stdout == ""


def test_missing_stack_and_project(project_copy, tmp_path):
    proc = _cli("plan", "--stack", "qa", "--project", str(project_copy))
    assert proc.returncode == 2 and "Pulumi.qa.yaml" in proc.stderr and "dev" in proc.stderr
    proc = _cli("plan", "--stack", "dev", "--project", str(tmp_path / "nowhere"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_cli_plan_json_and_exit_1_on_mandatory_violation(project_copy):
    proc = _cli("plan", "--stack", "prod", "--project", str(project_copy), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert (
        data["stack"] == "prod" and data["violations"] == [] or all(v["enforcement"] != "mandatory" for v in data["violations"])
    )
    # one setting: a prod domain's DMARC only monitors -> the pack rejects it
    _edit_stack(project_copy, "prod", lambda c: c["mailinfra:domains"][1]["dmarc"].update(policy="none"))
    proc = _cli("plan", "--stack", "prod", "--project", str(project_copy), "--format", "json")
    assert proc.returncode == 1, proc.stderr
    data = json.loads(proc.stdout)
    assert any(v["enforcement"] == "mandatory" and "dmarc" in v["policy"] for v in data["violations"])
    # BIMI under a monitoring DMARC cannot even be built: bad input, exit 2
    _edit_stack(project_copy, "prod", lambda c: c["mailinfra:domains"][0].setdefault("dmarc", {}).update(policy="none"))
    proc = _cli("plan", "--stack", "prod", "--project", str(project_copy))
    assert (
        proc.returncode == 2
        and "mailinfra.domains[0](mail.example.com).bimi: BIMI needs DMARC quarantine or reject" in proc.stderr
    )
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_prod_contains_the_sending_side(plans):
    plan = plans["prod"]
    types = [r.type for r in plan.resources]
    by_type = {t: [r for r in plan.resources if r.type == t] for t in set(types)}
    # the sending domains' identities (the report intake's receive-only identity is ReportIntake's)
    idents = [r for r in by_type["aws:sesv2/emailIdentity:EmailIdentity"] if "ReportIntake" not in r.urn]
    sets = {r.inputs["configurationSetName"] for r in by_type["aws:sesv2/configurationSet:ConfigurationSet"]}
    assert len(idents) == 2 and all(r.inputs["configurationSetName"] in sets for r in idents)
    mail_from = by_type["aws:sesv2/emailIdentityMailFromAttributes:EmailIdentityMailFromAttributes"]
    assert sorted(r.inputs["mailFromDomain"] for r in mail_from) == ["bounce.mail.example.com", "bounce.news.example.org"]
    (endpoint,) = by_type["aws:ec2/vpcEndpoint:VpcEndpoint"]
    assert endpoint.inputs["serviceName"] == "com.amazonaws.eu-west-1.email-smtp" and endpoint.inputs["privateDnsEnabled"] is True
    rules = by_type["aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"]
    assert {r.inputs["fromPort"] for r in rules} == {587, 465, 2587}
    assert {r.inputs.get("cidrIpv4") for r in rules} == {"10.30.0.0/16", "198.51.100.0/24"}
    settings = {(r.inputs["settingId"], r.inputs["value"]) for r in by_type["cloudflare:index/zoneSetting:ZoneSetting"]}
    assert {("min_tls_version", "1.2"), ("always_use_https", "on"), ("tls_1_3", "on")} <= settings
    # MTA-STS hosting on both providers
    assert by_type["aws:cloudfront/distribution:Distribution"] and by_type["aws:acm/certificate:Certificate"]
    workers = [t for t in by_type if t.startswith("cloudflare:index/workers")]
    assert "cloudflare:index/workersRoute:WorkersRoute" in workers and any("Script" in t for t in workers)
    # DNSSEC KSK for the Route53 zone, asymmetric, in us-east-1 through its own provider
    ksk_keys = [r for r in by_type["aws:kms/key:Key"] if r.inputs.get("customerMasterKeySpec") == "ECC_NIST_P256"]
    assert len(ksk_keys) == 1 and ksk_keys[0].inputs["keyUsage"] == "SIGN_VERIFY"
    assert by_type["aws:route53/keySigningKey:KeySigningKey"] and by_type["aws:route53/hostedZoneDnsSec:HostedZoneDnsSec"]
    # the served MTA-STS policy and the TXT id come from one builder
    from mailinfra.policies.mailinfra_policy.standards import mtasts

    (obj,) = [r for r in plan.resources if r.type == "aws:s3/bucketObjectv2:BucketObjectv2"]
    served = obj.inputs["content"]
    txt = next(
        r for r in plan.resources if r.type == "aws:route53/record:Record" and r.inputs.get("name") == "_mta-sts.mail.example.com"
    )
    assert f"id={mtasts.policy_id(served)}" in txt.inputs["records"][0]
