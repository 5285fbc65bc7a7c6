"""The quota budget (issue 17, item 1): the default AWS quotas of standards/quotas.py,
their config (mailinfra:quotas), the aws-quota-budget rule counting what a stack
declares, and the README's table of them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mailinfra.components.config import ConfigError, parse_config
from mailinfra.policies.mailinfra_policy import ALL
from mailinfra.policies.mailinfra_policy.standards import quotas
from tests.test_config import stack_raw
from tests.test_policies_helpers import run_stack

ROOT = Path(__file__).resolve().parent.parent
POLICY = next(p for p in ALL if p.name == "aws-quota-budget")
DIST = "aws:cloudfront/distribution:Distribution"
RECORD = "aws:route53/record:Record"
ZONE = "aws:route53/zone:Zone"
KEY = "aws:iam/accessKey:AccessKey"
USER = "aws:iam/user:User"
IDENTITY = "aws:sesv2/emailIdentity:EmailIdentity"


def res(type_: str, name: str, props: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": type_, "name": name, "props": props, **extra}


def many(type_: str, n: int, **props: Any) -> list[dict[str, Any]]:
    return [res(type_, f"{type_.rsplit(':', 1)[-1].lower()}-{i}", dict(props)) for i in range(n)]


def messages(specs: list[dict[str, Any]], **kwargs: Any) -> list[str]:
    return [m for m, _ in run_stack(POLICY, specs, **kwargs)]


# ------------------------------------------------------------------- the standard


def test_every_quota_has_a_value_a_scope_and_its_aws_page() -> None:
    assert len(quotas.BY_KEY) == len(quotas.QUOTAS)
    for q in quotas.QUOTAS:
        assert q.default > 0 and q.scope in quotas.SCOPES and q.types
        assert q.url.startswith("https://docs.aws.amazon.com/"), q.key
        assert re.fullmatch(r"[a-z][A-Za-z0-9]+", q.key)
        if q.quota_code is not None:  # a Service Quotas code, for aws.servicequotas.ServiceQuota
            assert q.adjustable and q.service_code and re.fullmatch(r"L-[0-9A-F]{8}", q.quota_code)
    wanted = {
        "cloudfrontDistributions": 500,
        "route53RecordsPerHostedZone": 10_000,
        "route53HostedZones": 500,
        "iamUsers": 5_000,
        "iamAccessKeysPerUser": 2,
        "acmCertificates": 2_500,
        "sesIdentities": 10_000,
        "sesConfigurationSets": 10_000,
    }
    assert {k: quotas.BY_KEY[k].default for k in wanted} == wanted


def test_stated_values_are_checked_and_fixed_quotas_cannot_be_raised() -> None:
    assert quotas.check_value("cloudfrontDistributions", 1200) == 1200
    assert quotas.check_value("cloudfrontDistributions", "1200") == 1200
    for bad in (0, -1, True, 2.5, "many", None, quotas.MAX_STATED + 1):
        with pytest.raises(quotas.QuotaError, match="must be a whole number"):
            quotas.check_value("cloudfrontDistributions", bad)
    with pytest.raises(quotas.QuotaError, match="fixed at 2 and cannot be raised"):
        quotas.check_value("iamAccessKeysPerUser", 3)
    with pytest.raises(quotas.QuotaError, match="unknown quota"):
        quotas.check_value("distributions", 3)
    cf = quotas.BY_KEY["cloudfrontDistributions"]
    assert quotas.limit(cf, {"cloudfrontDistributions": 900}) == 900
    assert quotas.limit(cf, {"cloudfrontDistributions": "lots"}) == 500  # the pack never lifts the budget on junk
    assert quotas.limit(quotas.BY_KEY["iamAccessKeysPerUser"], {"iamAccessKeysPerUser": 9}) == 2


# ----------------------------------------------------------------------- config


@pytest.mark.parametrize(
    ("quota_config", "expected"),
    [
        ({"cloudfrontDistribution": 900}, "mailinfra.quotas.cloudfrontDistribution: unknown key 'cloudfrontDistribution'; "),
        ({"cloudfrontDistributions": 0}, "mailinfra.quotas.cloudfrontDistributions: CloudFront distributions per AWS account "),
        ({"iamAccessKeysPerUser": 3}, "mailinfra.quotas.iamAccessKeysPerUser: IAM access keys per user is fixed at 2"),
        ([900], "mailinfra.quotas: must be a mapping"),
    ],
)
def test_config_errors_name_the_key_and_the_value(quota_config: Any, expected: str) -> None:
    raw, region = stack_raw("fleet")
    raw["quotas"] = quota_config
    with pytest.raises(ConfigError) as err:
        parse_config(raw, stack="fleet", region=region)
    assert str(err.value).startswith(expected)
    assert "(got " in str(err.value)


def test_config_keeps_the_stated_quotas() -> None:
    raw, region = stack_raw("fleet")
    raw["quotas"] = {"cloudfrontDistributions": "1500", "route53RecordsPerHostedZone": 20_000}
    cfg = parse_config(raw, stack="fleet", region=region)
    assert cfg.quotas == {"cloudfrontDistributions": 1500, "route53RecordsPerHostedZone": 20_000}
    assert parse_config(stack_raw("fleet")[0], stack="fleet", region=region).quotas == {}


# ------------------------------------------------------------------------- rule


def test_a_default_quota_is_enforced_at_its_value() -> None:
    assert messages(many(DIST, 500)) == []
    (found,) = messages(many(DIST, 501))
    assert found.startswith("CloudFront distributions per AWS account: the stack declares 501, over AWS's default of 500")
    assert quotas.BY_KEY["cloudfrontDistributions"].url in found


def test_a_stated_quota_replaces_the_default_and_policy_config_wins() -> None:
    specs = many(DIST, 501)
    raised = {"mailinfra:quotas": {"cloudfrontDistributions": 1000}}
    assert messages(specs, stack_config=raised) == []
    (found,) = messages(many(DIST, 1001), stack_config=raised)
    assert "over the quota stated in mailinfra:quotas.cloudfrontDistributions (1000)" in found
    assert messages(specs, stack_config=raised, config={"quotas": {"cloudfrontDistributions": 400}})


def test_a_multitenant_distribution_counts_as_a_distribution_and_its_tenants_apart() -> None:
    multi = "aws:cloudfront/multitenantDistribution:MultitenantDistribution"
    tenant = "aws:cloudfront/distributionTenant:DistributionTenant"
    (found,) = messages([*many(DIST, 500), *many(multi, 1)])
    assert "CloudFront distributions per AWS account: the stack declares 501" in found
    assert messages([*many(multi, 1), *many(tenant, 10_000)]) == []
    (found,) = messages([*many(multi, 1), *many(tenant, 10_001)])
    assert found.startswith("CloudFront distribution tenants per AWS account: the stack declares 10001")
    (found,) = messages(many("aws:cloudfront/originAccessControl:OriginAccessControl", 101))
    assert found.startswith("CloudFront origin access controls per AWS account: the stack declares 101")


def test_records_count_per_hosted_zone_with_its_soa_and_ns() -> None:
    within = many(RECORD, 9_998, zoneId="Z1", type="TXT")  # + SOA + NS = 10,000
    other = [res(RECORD, "other", {"zoneId": "Z2", "type": "TXT"})]
    assert messages(within + other) == []
    (found,) = messages(within + [res(RECORD, "one-more", {"zoneId": "Z1", "type": "TXT"})] + other)
    assert found.startswith("Route 53 records per hosted zone: the stack declares 10001 in hosted zone Z1, over AWS's default")
    found_urn = run_stack(POLICY, within + [res(RECORD, "one-more", {"zoneId": "Z1", "type": "TXT"})])[0][1]
    assert found_urn is not None and found_urn.endswith("::one-more")  # the first record past the quota


def test_records_written_to_a_zone_of_the_stack_count_in_that_zone() -> None:
    zone = res(ZONE, "brand", {"name": "brand.example"})
    records = [res(RECORD, f"r{i}", {"type": "TXT"}, prop_deps={"zoneId": ["brand"]}) for i in range(4)]
    stated = {"mailinfra:quotas": {"route53RecordsPerHostedZone": 5}}
    (found,) = messages([zone, *records], stack_config=stated)
    assert "declares 6 in hosted zone urn:pulumi:test::mailinfra::aws:route53/zone:Zone::brand" in found
    assert messages([zone, *records[:3]], stack_config=stated) == []


def test_hosted_zones_are_the_zones_created_and_the_zones_written_to() -> None:
    records = [res(RECORD, f"r{i}", {"zoneId": f"Z{i}", "type": "TXT"}) for i in range(499)]
    zones = many(ZONE, 1)
    assert messages(records + zones) == []
    (found,) = messages(records + many(ZONE, 2))
    assert found.startswith("Route 53 hosted zones per AWS account: the stack declares 501, over AWS's default of 500")


def test_access_keys_count_per_user_also_through_the_user_they_depend_on() -> None:
    user = res(USER, "sender", {"path": "/mailinfra/"})
    three = [res(KEY, f"k{i}", {}, prop_deps={"user": ["sender"]}) for i in range(3)]
    (found,) = messages([user, *three])
    assert "IAM access keys per user: the stack declares 3 in IAM user urn:" in found and "it cannot be raised" in found
    assert messages([user, *three[:2]]) == []


def test_regional_quotas_count_each_region_apart() -> None:
    stated = {"mailinfra:quotas": {"sesIdentities": 2}}
    ids = [res(IDENTITY, f"id{i}", {"emailIdentity": f"d{i}.example", "region": r}) for i, r in enumerate(["eu-west-1"] * 2)]
    other = [res(IDENTITY, "us", {"emailIdentity": "us.example", "region": "us-east-1"})]
    assert messages(ids + other, stack_config=stated) == []
    third = [res(IDENTITY, "id9", {"emailIdentity": "d9.example", "region": "eu-west-1"})]
    (found,) = messages(ids + other + third, stack_config=stated)
    assert found.startswith("SES identities per AWS Region: the stack declares 3 in region eu-west-1")


def test_a_fleet_program_over_a_stated_quota_fails_its_plan(tmp_path: Path) -> None:
    # the real program, config and pack: a 10-domain generated fleet against a stated quota of 5
    from tests.test_fleet_stack import _genstack

    path = Path(_genstack().make_project(10, str(tmp_path / "fleet")))
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    # genstack's fleet shares one MTA-STS distribution: a tenant per domain counts
    doc["config"]["mailinfra:quotas"] = {"cloudfrontDistributionTenants": 5}
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    out = subprocess.run(
        [sys.executable, "-m", "mailinfra.cli", "plan", "--project", str(tmp_path / "fleet"), "--stack", "bench"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 1, out.stdout + out.stderr
    assert "aws-quota-budget" in out.stdout
    assert "CloudFront distribution tenants per AWS account: the stack declares 10, over the quota stated" in out.stdout
    assert "CloudFront distributions per AWS account" not in out.stdout  # one, within 500


# ------------------------------------------------------------------------ README


def test_the_readme_table_lists_every_quota_as_the_standard_does() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## AWS quotas", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 5 and cells[0].startswith("`") and cells[0].endswith("`"):
            rows[cells[0].strip("`")] = cells
    assert set(rows) == set(quotas.KEYS)
    for q in quotas.QUOTAS:
        key, name, default, scope, source = rows[q.key][:5]
        assert name == q.name and default == f"{q.default:,}" and scope == q.scope, q.key
        assert q.url in source, q.key
        if q.quota_code:
            assert q.quota_code in " ".join(rows[q.key]), q.key
