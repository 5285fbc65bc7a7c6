"""verify's side of issue 11: a plan of another stack or project, Easy DKIM in regions
with a regional DKIM domain, strict SPF alignment with a subdomain MAIL FROM, the SPF
MX limit, SMTP through smtplib (an IP literal relay), and no cli <-> verify.cli cycle."""

from __future__ import annotations

import ast
import json
import os
from typing import Any

import pytest
from click.testing import CliRunner

from mailinfra.verify import VerifyInputError, run_verify
from mailinfra.verify.cli import verify as verify_cmd
from mailinfra.verify.expect import build_expectations

from .conftest import DOMAIN, REPORTS, txt_rdata
from .test_verify_live import not_passing, only

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REGION = "il-central-1"  # SES's Easy DKIM domain there is dkim.il-central-1.amazonses.com
REGIONAL = f"dkim.{REGION}.amazonses.com"


# ----------------------------------------------------------------------------- defect 7


@pytest.mark.parametrize(
    "field,value,fragments",
    [
        ("stack", "prod", ["stack 'prod'", "--stack 'dev'"]),
        ("project", "shop", ["project 'shop'", "project 'mailinfra'"]),
    ],
)
def test_plan_of_another_stack_or_project_is_refused(world, tmp_path, field, value, fragments):
    plan = world.plan()
    plan["stack"] = "dev" if field == "project" else value
    plan[field] = value
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    # a dead nameserver: the refusal must come before any DNS question
    args = ["--stack", "dev", "--plan", str(path), "--project", ROOT, "--nameserver", "127.0.0.1:9"]
    result = CliRunner().invoke(verify_cmd, args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mailinfra: error: --plan: ")
    assert all(f in lines[0] for f in fragments), lines[0]


def test_plan_data_of_another_stack_is_refused(world):
    from mailinfra.verify import VerifyOptions

    opts = VerifyOptions(stack="dev", plan_data=world.plan(), nameservers=("127.0.0.1:9",), project=ROOT)
    with pytest.raises(VerifyInputError, match="stack 'test', not of --stack 'dev'"):
        run_verify(opts)


def test_main_cli_refuses_a_prod_plan_for_dev(world, tmp_path):
    from mailinfra.cli import main

    plan = {**world.plan(), "stack": "prod"}
    path = tmp_path / "prod-plan.json"
    path.write_text(json.dumps(plan))
    result = CliRunner().invoke(main, ["verify", "--stack", "dev", "--plan", str(path), "--nameserver", "127.0.0.1:9"])
    assert result.exit_code == 2
    assert "'prod'" in result.output and "'dev'" in result.output


# ----------------------------------------------------------------------------- Easy DKIM region


def _identity(region: Any, provider: str | None = None) -> dict[str, Any]:
    return {
        "urn": "urn:pulumi:test::mailinfra::aws:sesv2/emailIdentity:EmailIdentity::id",
        "type": "aws:sesv2/emailIdentity:EmailIdentity",
        "name": "id",
        "parent": None,
        "inputs": {"emailIdentity": DOMAIN, **({"region": region} if region is not None else {})},
        "dependencies": [],
        "options": {"provider": provider},
    }


def _regional_world(world: Any) -> None:
    world.declared = [d for d in world.declared if not d[0].startswith("tok1.")]
    world.declared.append(("[unknown]", "CNAME", ["[unknown]"]))
    world.replace(DOMAIN, "tok1._domainkey", "CNAME", f"tok1.{REGIONAL}.")
    world.zones[REGIONAL] = world.zones.pop("dkim.amazonses.com")
    world.outputs = {"relay": {"domain": DOMAIN, "dkim_tokens": ["tok1"]}}


def test_easy_dkim_expects_the_regional_target(run, world):
    _regional_world(world)
    plan = world.plan()
    plan["resources"].append(_identity(REGION))
    report, code = run(world, plan_data=plan)
    record = only(report, "record", f"tok1._domainkey.{DOMAIN}")[0]
    assert record.status == "pass" and record.expected == f"tok1.{REGIONAL}", report.to_text()
    assert only(report, "dkim-key", f"tok1._domainkey.{DOMAIN}")[0].status == "pass"
    assert code == 0, report.to_text()


def test_easy_dkim_region_comes_from_the_identity_or_its_provider():
    provider_urn = "urn:pulumi:test::mailinfra::pulumi:providers:aws::il"
    provider = {"urn": provider_urn, "type": "pulumi:providers:aws", "name": "il", "inputs": {"region": REGION}}
    for resources in ([_identity(REGION)], [provider, _identity("[unknown]", f"{provider_urn}::04da6b54")]):
        plan = {"stack": "test", "project": "mailinfra", "resources": resources, "outputs": {}}
        exp = build_expectations(plan, {"dkim_tokens": {DOMAIN: ["tok1"]}})
        assert exp.ses_regions == {DOMAIN: REGION}
        assert [r.values for r in exp.by_purpose("easy-dkim")] == [(f"tok1.{REGIONAL}",)]
    plain = build_expectations({"resources": [_identity("eu-west-1")]}, {"dkim_tokens": {DOMAIN: ["tok1"]}})
    assert [r.values for r in plain.by_purpose("easy-dkim")] == [("tok1.dkim.amazonses.com",)]


# ----------------------------------------------------------------------------- SPF alignment


def test_strict_spf_alignment_with_a_subdomain_mail_from_warns(run, world):
    dmarc = f"v=DMARC1; p=reject; aspf=s; rua=mailto:dmarc@example.com,mailto:agg@{REPORTS}"
    world.replace(DOMAIN, "_dmarc", "TXT", txt_rdata(dmarc))
    world.declared = [d if d[0] != f"_dmarc.{DOMAIN}" else (d[0], "TXT", [dmarc]) for d in world.declared]
    report, code = run(world)
    align = only(report, "dmarc-spf-alignment", f"_dmarc.{DOMAIN}")
    assert [c.status for c in align] == ["warn"], report.to_text()
    assert "aspf=s" in align[0].message and f"mail.{DOMAIN}" in align[0].message
    assert {c.check for c in not_passing(report)} == {"dmarc-spf-alignment"}
    assert code == 0  # a warning


def test_relaxed_spf_alignment_passes(run, world):
    report, _ = run(world)
    assert [c.status for c in only(report, "dmarc-spf-alignment")] == ["pass"], report.to_text()


# ----------------------------------------------------------------------------- SPF MX limit


def test_spf_mx_term_over_ten_hosts_fails_the_budget(run, world):
    world.replace(DOMAIN, "_spf", "TXT", txt_rdata("v=spf1 mx:many.example.com -all"))
    world.zones[DOMAIN] += [("many", "MX", f"{i} mx{i}.example.com.") for i in range(11)]
    report, code = run(world)
    budget = only(report, "spf-budget", DOMAIN)[0]
    assert budget.status == "fail" and "11 MX records, over the limit of 10" in budget.message
    assert code == 1


# ----------------------------------------------------------------------------- SMTP (smtplib)


def test_relay_given_as_an_address_is_checked_not_crashed(run, world, smtp_servers):
    # the certificate names relay.example.com, not 127.0.0.1: a finding, not an internal error
    report, code = run(world, smtp=(f"127.0.0.1:{smtp_servers.good}",))
    label = f"127.0.0.1:{smtp_servers.good}"
    assert only(report, "smtp-starttls", label)[0].status == "pass", report.to_text()
    assert only(report, "smtp-starttls-required", label)[0].status == "pass"
    cert = only(report, "smtp-certificate", label)[0]
    assert cert.status == "fail" and "certificate verification failed" in cert.message
    assert not [c for c in report.checks if "internal error" in c.message]
    assert code == 1


# ----------------------------------------------------------------------------- import cycle


def test_verify_does_not_import_the_main_cli():
    """mailinfra.cli attaches verify; verify must not import mailinfra.cli back (issue 11)."""
    verify_dir = os.path.join(ROOT, "mailinfra", "verify")
    offenders = []
    for file in sorted(os.listdir(verify_dir)):
        if not file.endswith(".py"):
            continue
        with open(os.path.join(verify_dir, file), encoding="utf-8") as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom) and node.level == 0
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            if isinstance(node, ast.ImportFrom) and node.level == 2 and node.module == "cli":
                names = ["mailinfra.cli"]
            offenders += [f"{file}: {n}" for n in names if n == "mailinfra.cli" or n.startswith("mailinfra.cli.")]
    assert offenders == []
