"""Regression tests for the policy defects of issue 11: region residency through an
explicit provider (4), Cloudflare zone TLS settings only where HTTPS is served (5),
strict SPF alignment with SES's MAIL FROM subdomain (2), the rule's config section on
the rule (6, SARIF), and the policies judging through the standards' problem codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mailinfra.components.config import TOP_KEYS
from mailinfra.engine import run_plan
from mailinfra.policyrun import Violation
from mailinfra.sarif import plan_to_sarif
from mailinfra.policies.mailinfra_policy import ALL, common
from mailinfra.policies.mailinfra_policy.standards import txt
from mailinfra.policies.mailinfra_policy.standards._common import ENVIRONMENTS
from tests.test_policies_helpers import UNKNOWN, run_resource, run_stack

ROOT = Path(__file__).resolve().parent.parent
RESIDENCY = Path(__file__).parent / "fixtures" / "policy_programs" / "residency"
SENDER = Path(__file__).parent / "fixtures" / "policy_programs" / "sender"
BY_NAME = {p.name: p for p in ALL}

BUCKET = "aws:s3/bucket:Bucket"
R53 = "aws:route53/record:Record"
CF = "cloudflare:index/dnsRecord:DnsRecord"
ZS = "cloudflare:index/zoneSetting:ZoneSetting"
ZONE = "cloudflare:index/zone:Zone"
ROUTE = "cloudflare:index/workersRoute:WorkersRoute"
CUSTOM_DOMAIN = "cloudflare:index/workersCustomDomain:WorkersCustomDomain"
MAIL_FROM = "aws:sesv2/emailIdentityMailFromAttributes:EmailIdentityMailFromAttributes"
MAIL_FROM_V1 = "aws:ses/mailFrom:MailFrom"
EU_ONLY = {"aws:region": "eu-west-1", "mailinfra:compliance": {"allowedRegions": ["eu-west-1"]}}


def res(type_: str, name: str, props: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": type_, "name": name, "props": props, **extra}


def r53(name: str, value: str) -> dict[str, Any]:
    return {"zoneId": "Z1", "name": name, "type": "TXT", "ttl": 300, "records": [txt.route53_txt(value)]}


# ------------------------------------------------------------ defect 4: residency


def test_unknown_own_region_falls_back_to_the_explicit_providers_region() -> None:
    policy = BY_NAME["compliance-region-residency"]
    bucket = res(BUCKET, "reports", {"region": UNKNOWN}, provider={"region": "us-east-1"})
    found = run_stack(policy, [bucket], stack_config=EU_ONLY)
    assert [m for m, _ in found] == ["aws:s3/bucket:Bucket 'reports' is in us-east-1, outside the allowed regions (eu-west-1)"]
    inside = res(BUCKET, "reports", {"region": UNKNOWN}, provider={"region": "eu-west-1"})
    assert run_stack(policy, [inside], stack_config=EU_ONLY) == []


def test_unknown_own_region_without_a_provider_uses_the_stack_region() -> None:
    policy = BY_NAME["compliance-region-residency"]
    bucket = res(BUCKET, "reports", {"region": UNKNOWN})
    assert run_stack(policy, [bucket], stack_config={**EU_ONLY, "aws:region": "us-west-2"})
    assert run_stack(policy, [bucket], stack_config=EU_ONLY) == []


def test_known_own_region_wins_and_unknown_everywhere_is_not_judged() -> None:
    policy = BY_NAME["compliance-region-residency"]
    own = res(BUCKET, "reports", {"region": "eu-west-1"}, provider={"region": "us-east-1"})
    assert run_stack(policy, [own], stack_config=EU_ONLY) == []
    unknowable = res(BUCKET, "reports", {"region": UNKNOWN}, provider={"region": UNKNOWN})
    assert run_stack(policy, [unknowable], stack_config=EU_ONLY) == []


def _plan_cli(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailinfra.cli", "plan", "--stack", "prod", "--project", str(project), "--format", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_mailinfra_plan_flags_a_bucket_through_a_us_east_1_provider(tmp_path: Path) -> None:
    proc = _plan_cli(RESIDENCY)
    assert proc.returncode == 1, proc.stderr
    plan = json.loads(proc.stdout)
    bucket = next(r for r in plan["resources"] if r["type"] == BUCKET)
    assert "region" not in bucket["inputs"]  # its region is the provider's, unknown as an output
    assert [(v["policy"], v["urn"]) for v in plan["violations"]] == [("compliance-region-residency", bucket["urn"])]

    inside = tmp_path / "residency"
    shutil.copytree(RESIDENCY, inside)
    stack = inside / "stacks" / "Pulumi.prod.yaml"
    data = yaml.safe_load(stack.read_text())
    data["config"]["residencyfixture:bucketRegion"] = "eu-west-1"
    stack.write_text(yaml.safe_dump(data))
    proc = _plan_cli(inside)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["violations"] == []


# ------------------------------------------------ defect 5: Cloudflare zone settings

TLS = [
    res(ZS, "tls", {"zoneId": "z1", "settingId": "min_tls_version", "value": "1.2"}),
    res(ZS, "https", {"zoneId": "z1", "settingId": "always_use_https", "value": "on"}),
]


def _zone_settings(specs: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    return run_stack(BY_NAME["cloudflare-zone-tls-settings-present"], specs)


def test_dns_only_zone_needs_no_tls_settings() -> None:
    records = [
        res(CF, "spf", {"zoneId": "z1", "name": "example.org", "type": "TXT", "content": '"v=spf1 -all"'}),
        res(CF, "mx", {"zoneId": "z1", "name": "example.org", "type": "MX", "content": "mx.example.org", "priority": 10}),
        res(CF, "www", {"zoneId": "z1", "name": "www.example.org", "type": "A", "content": "192.0.2.1", "proxied": False}),
    ]
    assert _zone_settings(records) == []


@pytest.mark.parametrize(
    "server",
    [
        res(CF, "host", {"zoneId": "z1", "name": "mta-sts.example.org", "type": "AAAA", "content": "100::", "proxied": True}),
        res(CF, "host", {"zoneId": "z1", "name": "www.example.org", "type": "A", "content": "192.0.2.1", "proxied": UNKNOWN}),
        res(ROUTE, "route", {"zoneId": "z1", "pattern": "mta-sts.example.org/*", "script": "mta-sts"}),
        res(CUSTOM_DOMAIN, "domain", {"zoneId": "z1", "hostname": "mta-sts.example.org", "service": "mta-sts"}),
    ],
    ids=["proxied-record", "unknown-proxied", "workers-route", "workers-custom-domain"],
)
def test_zone_serving_https_needs_both_settings(server: dict[str, Any]) -> None:
    found = _zone_settings([server, TLS[0]])
    assert len(found) == 1 and "always_use_https" in found[0][0] and "min_tls_version" not in found[0][0]
    assert found[0][1] == f"urn:pulumi:test::mailinfra::{server['type']}::{server['name']}"
    assert _zone_settings([server, *TLS]) == []


def test_zone_created_by_the_program_is_matched_through_the_zone_id_dependency() -> None:
    zone = res(ZONE, "zone", {"name": "example.org", "id": UNKNOWN})
    route = res(ROUTE, "route", {"zoneId": UNKNOWN, "pattern": "mta-sts.example.org/*"}, prop_deps={"zoneId": ["zone"]})
    settings = [res(ZS, s["name"], {**s["props"], "zoneId": UNKNOWN}, prop_deps={"zoneId": ["zone"]}) for s in TLS]
    found = _zone_settings([zone, route])
    assert len(found) == 1 and "zone 'zone'" in found[0][0]
    assert _zone_settings([zone, route, *settings]) == []


# ---------------------------------------------- defect 2: aspf=s with SES MAIL FROM


def _alignment(
    dmarc: str, mail_from: dict[str, Any], *, dmarc_name: str = "_dmarc.example.com", type_: str = MAIL_FROM
) -> list[tuple[str, str | None]]:
    return run_stack(
        BY_NAME["dmarc-spf-alignment"], [res(R53, "dmarc", r53(dmarc_name, dmarc)), res(type_, "mail-from", mail_from)]
    )


def test_strict_spf_alignment_with_a_mail_from_subdomain_is_flagged() -> None:
    mail_from = {"emailIdentity": "example.com", "mailFromDomain": "bounce.example.com"}
    found = _alignment("v=DMARC1; p=reject; aspf=s", mail_from)
    assert len(found) == 1 and found[0][1] == f"urn:pulumi:test::mailinfra::{MAIL_FROM}::mail-from"
    assert "aspf=s" in found[0][0] and "bounce.example.com" in found[0][0]
    assert _alignment("v=DMARC1; p=reject; aspf=r", mail_from) == []
    assert _alignment("v=DMARC1; p=reject", mail_from) == []  # relaxed is RFC 9989's default


def test_alignment_uses_the_organisational_domains_record_and_the_ses_v1_type() -> None:
    mail_from = {"domain": "news.example.com", "mailFromDomain": "bounce.news.example.com"}
    assert _alignment("v=DMARC1; p=reject; aspf=s", mail_from, type_=MAIL_FROM_V1)
    # The domain's own record takes precedence over the organisational domain's.
    own = run_stack(
        BY_NAME["dmarc-spf-alignment"],
        [
            res(R53, "org", r53("_dmarc.example.com", "v=DMARC1; p=reject; aspf=s")),
            res(R53, "own", r53("_dmarc.news.example.com", "v=DMARC1; p=reject; aspf=r")),
            res(MAIL_FROM_V1, "mail-from", mail_from),
        ],
    )
    assert own == []


def test_alignment_unknown_mail_from_or_no_dmarc_is_not_judged() -> None:
    assert _alignment("v=DMARC1; p=reject; aspf=s", {"emailIdentity": "example.com", "mailFromDomain": UNKNOWN}) == []
    assert (
        _alignment(
            "v=DMARC1; p=reject; aspf=s",
            {"emailIdentity": "example.com", "mailFromDomain": "bounce.example.com"},
            dmarc_name="_dmarc.other.example",
        )
        == []
    )


# ------------------------------------------------ standards' problems, by code


def test_dns_rules_report_the_standards_findings() -> None:
    spf_rule, dmarc_rule = BY_NAME["spf-lookup-limit"], BY_NAME["dmarc-no-removed-tags"]
    eleven = "v=spf1 " + " ".join(f"include:s{i}.example.net" for i in range(11)) + " +all"
    # The lookup budget is counted on a record that also ends in +all (no longer hidden by a parse error).
    assert run_resource(spf_rule, R53, r53("example.com", eleven)) == [
        "SPF record has 11 DNS-querying terms, over the limit of 10"
    ]
    assert run_resource(BY_NAME["spf-no-permissive-all"], R53, r53("example.com", eleven)) == [
        "SPF record allows every sender ('+all')"
    ]
    assert run_resource(dmarc_rule, R53, r53("_dmarc.example.com", "v=DMARC1; p=reject; pct=50; ri=3600")) == [
        "DMARC tag 'pct' was removed by RFC 9989 (pct, rf and ri are gone)",
        "DMARC tag 'ri' was removed by RFC 9989 (pct, rf and ri are gone)",
    ]


def test_rule_with_an_unknown_problem_code_fails_at_definition() -> None:
    from mailinfra.policies.mailinfra_policy import dns

    with pytest.raises(ValueError, match="unknown problem codes"):
        dns._problems(dns._spf, dns._check_spf, "spf-no-such-code")


# ------------------------------------------------ defect 6 (SARIF): config sections

# The sections of the stack file a rule can point at (not the scalar top-level keys).
STACK_SECTIONS = set(TOP_KEYS) - {"environment", "owner", "dataClassification", "accountId", "domainDefaults"}


def test_every_rule_carries_its_config_section() -> None:
    assert set(common.SECTION) == set(BY_NAME)
    for policy in ALL:
        assert policy.config_section == common.SECTION[policy.name]
        assert policy.config_section in STACK_SECTIONS, policy.name
    assert common.ENVIRONMENTS is ENVIRONMENTS  # one tuple, from the standards


def test_sarif_points_a_domainless_violation_at_its_rules_section(tmp_path: Path) -> None:
    project = tmp_path / "sender"
    shutil.copytree(SENDER, project)
    stack = project / "stacks" / "Pulumi.prod.yaml"
    stack.write_text(stack.read_text() + "  policyfixture:keys:\n    alias: fixture\n")
    plan = run_plan(str(project), "prod")
    found = Violation(
        policy="kms-key-protected",
        enforcement="mandatory",
        severity="high",
        urn="",  # stack-wide: a resource of this hand-written program points at its program line
        message="not protected",
    )
    sarif = plan_to_sarif(plan, [found], project_dir=str(project))
    region = sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]
    assert stack.read_text().splitlines()[region["startLine"] - 1].strip() == "policyfixture:keys:"
