"""Sharded fleets (README "Sharded fleets"): the stable shard hash, mailinfra:fleet's
config errors, the shipped core + 2 shards planned with ``mailinfra plan --fleet``, and
the cross-shard rules judged once over the union (a domain in two shards, SPF twice)."""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import re
import subprocess
import sys
from typing import Any

import pytest
import yaml

from mailinfra.components.config import ConfigError, parse_config
from mailinfra.components.shards import shard_of
from mailinfra.fleet import FleetError, discover, plan_fleet
from mailinfra.markdown import plan_to_markdown
from mailinfra.render import plan_to_json, plan_to_text
from mailinfra.sarif import write_sarif

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STACKS = os.path.join(ROOT, "stacks")
CLI = [sys.executable, "-m", "mailinfra.cli"]
IDENTITY = "aws:sesv2/emailIdentity:EmailIdentity"


def _raw(stack: str) -> tuple[dict[str, Any], str]:
    with open(os.path.join(STACKS, f"Pulumi.{stack}.yaml"), encoding="utf-8") as f:
        cfg = yaml.safe_load(f)["config"]
    return {k.split(":", 1)[1]: v for k, v in cfg.items() if k.startswith("mailinfra:")}, cfg["aws:region"]


# --- the hash ------------------------------------------------------------------------


def test_shard_of_is_sha256_of_the_lower_case_name() -> None:
    # fixed values: a change of the function would move every deployed domain
    assert [shard_of(n, 2) for n in ("news.brand-a.example", "billing.brand-a.example", "news.brand-b.example")] == [1, 0, 0]
    digest = hashlib.sha256(b"news.brand-a.example").digest()
    assert shard_of("news.brand-a.example", 7) == int.from_bytes(digest, "big") % 7
    assert shard_of("News.Brand-A.Example.", 16) == shard_of("news.brand-a.example", 16)


def test_shard_of_is_the_same_in_every_process() -> None:
    names = [f"d{i}.example.com" for i in range(50)]
    code = f"from mailinfra.components.shards import shard_of; print([shard_of(n, 5) for n in {names!r}])"
    seen = set()
    for seed in ("1", "2", "random"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
        seen.add(out.strip())
    assert seen == {str([shard_of(n, 5) for n in names])}


def test_shard_of_spreads_a_fleet_evenly() -> None:
    counts = [0] * 4
    for i in range(4000):
        counts[shard_of(f"mail{i}.brand{i % 37}.example", 4)] += 1
    assert all(900 <= c <= 1100 for c in counts), counts


# --- config --------------------------------------------------------------------------


def test_hash_shards_partition_the_domains_and_keep_the_written_index() -> None:
    kept: list[str] = []
    for i in (0, 1):
        raw, region = _raw(f"fleet-shard-{i}")
        cfg = parse_config(raw, stack=f"fleet-shard-{i}", region=region)
        assert cfg.fleet is not None and (cfg.fleet.role, cfg.fleet.core, cfg.fleet.shard) == ("shard", "fleet-core", i)
        assert all(shard_of(d.name, 2) == i for d in cfg.domains)
        for index, d in enumerate(cfg.domains):  # errors name the domain where the file has it
            assert cfg.domain_path(index) == f"mailinfra.domains[{raw['domains'].index(d.name)}]({d.name})"
        kept += [d.name for d in cfg.domains]
    raw, _ = _raw("fleet-shard-0")
    assert sorted(kept) == sorted(raw["domains"])


def test_list_shard_keeps_its_domains_and_core_has_none() -> None:
    raw, region = _raw("fleet-shard-0")
    raw["fleet"] = {"role": "shard", "core": "org/mailinfra/fleet-core", "shards": 3, "shard": 2}
    cfg = parse_config(raw, stack="s", region=region)
    assert [d.name for d in cfg.domains] == raw["domains"] and cfg.fleet is not None and cfg.fleet.select == "list"
    core_raw, region = _raw("fleet-core")
    core = parse_config(core_raw, stack="fleet-core", region=region)
    assert core.domains == () and core.fleet is not None and core.fleet.role == "core"


def _shard(**fleet: Any) -> dict[str, Any]:
    raw, _ = _raw("fleet-shard-0")
    raw["fleet"] = {**raw["fleet"], **fleet}
    return raw


@pytest.mark.parametrize(
    ("edit", "path", "reason"),
    [
        (lambda r: r["fleet"].update(role="hub"), "mailinfra.fleet.role", "must be one of core, shard"),
        (lambda r: r["fleet"].pop("core"), "mailinfra.fleet.core", "is required"),
        (lambda r: r["fleet"].update(core="bad name!"), "mailinfra.fleet.core", "stack name"),
        (lambda r: r["fleet"].update(shard=2), "mailinfra.fleet.shard", "from 0 to 1"),
        (lambda r: r["fleet"].update(shards=0), "mailinfra.fleet.shards", "from 1 to 1024"),
        (lambda r: r["fleet"].update(select="random"), "mailinfra.fleet.select", "must be one of list, hash"),
        (lambda r: r["fleet"].update(colour="red"), "mailinfra.fleet.colour", "unknown key"),
        (lambda r: r["zones"]["brand-a.example"].update(dnssec=True), "mailinfra.zones.brand-a.example.dnssec", "core"),
        (lambda r: r.update(reports={"enabled": True}), "mailinfra.reports.enabled", "sharded fleet"),
        (lambda r: r["keys"].update(perDomain=True), "mailinfra.keys.perDomain", "core's key"),
        (lambda r: r.update(domains=["news.brand-a.example"]), "mailinfra.fleet.shard", "no domain"),
    ],
)
def test_fleet_config_errors_name_the_key(edit: Any, path: str, reason: str) -> None:
    raw = copy.deepcopy(_shard())
    edit(raw)
    with pytest.raises(ConfigError) as err:
        parse_config(raw, stack="fleet-shard-0", region="eu-west-1")
    assert err.value.path == path and reason in str(err.value), str(err.value)


def test_core_refuses_domains_and_shard_keys() -> None:
    raw, region = _raw("fleet-core")
    with pytest.raises(ConfigError) as err:
        parse_config({**raw, "domains": ["news.brand-a.example"]}, stack="fleet-core", region=region)
    assert err.value.path == "mailinfra.domains" and "core holds no sending domains" in str(err.value)
    with pytest.raises(ConfigError) as err:
        parse_config({**raw, "fleet": {"role": "core", "shard": 1}}, stack="fleet-core", region=region)
    assert err.value.path == "mailinfra.fleet.shard" and "only for a shard" in str(err.value)


# --- planning ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped() -> Any:
    return plan_fleet(ROOT, "fleet-core", jobs=2)


def test_shipped_fleet_plans_with_no_mandatory_violation(shipped: Any) -> None:
    assert [m.stack for m in shipped.members] == ["fleet-core", "fleet-shard-0", "fleet-shard-1"]
    assert [v for v in shipped.plan.violations if v.enforcement == "mandatory"] == []
    by_stack = {s: run.plan for s, run in shipped.runs.items()}
    assert by_stack["fleet-core"].by_type(IDENTITY) == []  # the core sends nothing
    assert by_stack["fleet-core"].by_type("aws:cloudtrail/trail:Trail")  # the account's trail is the core's
    for i in (0, 1):
        shard = by_stack[f"fleet-shard-{i}"]
        assert shard.by_type("aws:cloudtrail/trail:Trail") == [] and shard.by_type("aws:kms/key:Key") == []
        assert {r.inputs["emailIdentity"] for r in shard.by_type(IDENTITY)} == {
            d for d in _raw("fleet-shard-0")[0]["domains"] if shard_of(d, 2) == i
        }
        # the shard's secrets are under the core's key, read through the StackReference
        # (the core's update-mode plan: known, as a real preview reads the deployed core's state)
        secrets = shard.by_type("aws:secretsmanager/secret:Secret")
        assert secrets and all(
            re.fullmatch(r"arn:aws:kms:eu-west-1:\d{12}:key/[0-9a-f-]+", str(s.inputs["kmsKeyId"])) for s in secrets
        )
    assert len(shipped.plan.resources) == sum(len(p.resources) for p in by_stack.values())


def test_the_fleet_serves_mta_sts_through_the_cores_one_multitenant_distribution(shipped: Any) -> None:
    by_stack = {s: run.plan for s, run in shipped.runs.items()}
    core = by_stack["fleet-core"]
    (dist,) = core.by_type("aws:cloudfront/multitenantDistribution:MultitenantDistribution")
    (bucket,) = [b for b in core.by_type("aws:s3/bucket:Bucket") if b.name == "mta-sts-policy"]
    tenants = []
    for i in (0, 1):
        shard = by_stack[f"fleet-shard-{i}"]
        assert shard.by_type("aws:cloudfront/distribution:Distribution") == []
        assert shard.by_type("aws:cloudfront/originAccessControl:OriginAccessControl") == []
        domains = {r.inputs["emailIdentity"] for r in shard.by_type(IDENTITY)}
        shard_tenants = shard.by_type("aws:cloudfront/distributionTenant:DistributionTenant")
        assert {t.inputs["parameters"][0]["value"] for t in shard_tenants} == domains
        # each policy object goes under its domain's prefix of the core's bucket
        objects = {o.inputs["key"] for o in shard.by_type("aws:s3/bucketObjectv2:BucketObjectv2")}
        assert objects == {f"{d}/.well-known/mta-sts.txt" for d in domains}
        tenants += shard_tenants
    assert len(tenants) == 6
    # the whole fleet: one distribution however many domains (the account's quota is 500)
    assert len(shipped.plan.by_type("aws:cloudfront/distribution:Distribution")) == 0
    assert len(shipped.plan.by_type("aws:cloudfront/multitenantDistribution:MultitenantDistribution")) == 1
    assert dist.inputs["origins"][0]["originPath"] == "/{{domain}}"
    assert bucket.inputs["region"] == "eu-west-1"


def test_mta_sts_hosting_is_shared_in_a_fleet_and_own_by_default_elsewhere() -> None:
    assert parse_config(_shard(), stack="fleet-shard-0", region="eu-west-1").mta_sts_hosting == "shared"
    assert parse_config(_raw("fleet-core")[0], stack="fleet-core", region="eu-west-1").mta_sts_hosting == "shared"
    assert parse_config(_raw("prod")[0], stack="prod", region="eu-west-1").mta_sts_hosting == "own"
    raw = _raw("prod")[0]
    raw["mtaStsHosting"] = "shared"
    assert parse_config(raw, stack="prod", region="eu-west-1").mta_sts_hosting == "shared"
    raw["mtaStsHosting"] = "pooled"
    with pytest.raises(ConfigError) as err:
        parse_config(raw, stack="prod", region="eu-west-1")
    assert err.value.path == "mailinfra.mtaStsHosting" and "must be one of own, shared" in str(err.value)


def test_merged_report_in_every_format(shipped: Any) -> None:
    plan = shipped.plan
    out = io.StringIO()
    plan_to_json(plan, out)
    data = json.loads(out.getvalue())
    stacks = {r["urn"].split("::")[0].removeprefix("urn:pulumi:") for r in data["resources"]}
    assert stacks == {"fleet-core", "fleet-shard-0", "fleet-shard-1"}
    assert set(data["outputs"]) == stacks
    text = plan_to_text(plan, plan.violations)
    assert "0 mandatory" in text
    sarif = io.StringIO()
    write_sarif(plan, plan.violations, sarif, project_dir=ROOT)
    assert json.loads(sarif.getvalue())["version"] == "2.1.0"
    assert "mailinfra" in plan_to_markdown(plan, plan.violations)


def _project(tmp_path: Any, shards: list[list[str]]) -> str:
    """A fleet of list-selected shards: fleet-core and one stack per list of domains."""
    for entry in ("__main__.py", "Pulumi.yaml", "components", "policies"):
        os.symlink(os.path.join(ROOT, entry), tmp_path / entry)
    (tmp_path / "stacks").mkdir()
    with open(os.path.join(STACKS, "Pulumi.fleet-core.yaml"), encoding="utf-8") as f:
        (tmp_path / "stacks" / "Pulumi.fleet-core.yaml").write_text(f.read())
    with open(os.path.join(STACKS, "Pulumi.fleet-shard-0.yaml"), encoding="utf-8") as f:
        template = yaml.safe_load(f)
    for i, domains in enumerate(shards):
        doc = copy.deepcopy(template)
        doc["config"]["mailinfra:fleet"] = {"role": "shard", "core": "fleet-core", "shards": len(shards), "shard": i}
        doc["config"]["mailinfra:domains"] = domains
        (tmp_path / "stacks" / f"Pulumi.fleet-shard-{i}.yaml").write_text(yaml.safe_dump(doc))
    return str(tmp_path)


def test_a_domain_in_two_shards_fails_the_fleet(tmp_path: Any) -> None:
    project = _project(tmp_path, [["news.brand-a.example"], ["news.brand-a.example", "offers.brand-b.example"]])
    run = subprocess.run(
        [*CLI, "plan", "--fleet", "fleet-core", "--project", project, "--format", "json", "--jobs", "2"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 1, run.stderr
    violations = json.loads(run.stdout)["violations"]
    twice = [v for v in violations if v["policy"] == "ses-identity-once"]
    assert len(twice) == 1 and "news.brand-a.example" in twice[0]["message"]
    assert "urn:pulumi:fleet-shard-1::" in twice[0]["urn"]
    spf = [v for v in violations if v["policy"] == "dns-one-spf-per-name"]
    # the domain's SPF and its MAIL FROM's SPF, each published by both shards
    assert {v["message"].split()[0] for v in spf} == {"news.brand-a.example", "bounce.news.brand-a.example"}
    assert all(v["enforcement"] == "mandatory" for v in twice + spf)


def test_fleet_discovery_errors(tmp_path: Any) -> None:
    project = _project(tmp_path, [["news.brand-a.example"], ["offers.brand-b.example"]])
    path = tmp_path / "stacks" / "Pulumi.fleet-shard-1.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["config"]["mailinfra:fleet"]["shard"] = 0
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(FleetError, match=r"Pulumi.fleet-shard-1.yaml: mailinfra:fleet.shard: 0 is also the index of"):
        discover(project, "fleet-core")
    with pytest.raises(FleetError, match=r"mailinfra:fleet.role: --fleet fleet-shard-0 needs the core"):
        discover(project, "fleet-shard-0")
    run = subprocess.run([*CLI, "plan", "--fleet", "fleet-core", "--project", project], capture_output=True, text=True)
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and "is also the index of" in run.stderr
    run = subprocess.run([*CLI, "plan", "--stack", "dev", "--jobs", "2"], capture_output=True, text=True)
    assert run.returncode == 2 and "--jobs is only for --fleet" in run.stderr


def test_a_shard_alone_plans_against_its_core(tmp_path: Any) -> None:
    run = subprocess.run([*CLI, "plan", "--stack", "fleet-shard-0", "--format", "json"], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    # the account-wide rules are the core's: not judged on a shard alone
    assert [v for v in data["violations"] if v["enforcement"] == "mandatory"] == []
    assert data["outputs"]["fleetCore"] == "fleet-core"
    project = _project(tmp_path, [["news.brand-a.example"]])
    os.remove(tmp_path / "stacks" / "Pulumi.fleet-core.yaml")
    run = subprocess.run([*CLI, "plan", "--stack", "fleet-shard-0", "--project", project], capture_output=True, text=True)
    assert run.returncode == 2 and "fleet-core" in run.stderr and "Traceback" not in run.stderr


def _child_peak() -> int:
    from mailinfra.fleet import peak_rss_kib

    return peak_rss_kib()


def test_a_workers_peak_is_its_own_not_its_parents() -> None:
    """ru_maxrss survives exec with the forking parent's size; the worker's figure must not."""
    import multiprocessing

    ballast = b"x" * (400 << 20)  # resident in this (the parent) process
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        child = pool.apply(_child_peak)
    assert len(ballast) == 400 << 20
    assert 0 < child < 300 << 10, child  # KiB: a fresh interpreter, far below the 400 MiB parent
