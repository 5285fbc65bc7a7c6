"""The pack judged by the real CrossGuard runtime: started as the Pulumi CLI starts it, driven over gRPC.

The pack runs in its own venv made only from `policies/requirements.txt` (built once per
requirements file under `build/`, shared by the xdist workers), as `<venv>/bin/python -u
-m pulumi.policy <engine-address> .` in `policies/`, with a live Engine service at that
address. `mailinfra.analyzer_harness` plays the CLI's part (ConfigureStack,
GetAnalyzerInfo, Configure with the reconciled and validated config, Analyze per
resource, AnalyzeStack). Every diagnostic must equal a violation of `mailinfra plan`'s
offline runner: policy, URN, enforcement, severity and message.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mailinfra.analyzer_harness import AnalyzerError, AnalyzerRun, Diagnostic, analyze_plan
from mailinfra.crossguard import stack_urn
from mailinfra.engine import Plan, run_plan
from mailinfra.policyconfig import PolicyConfigError, load_policy_config, parse_policy_config
from mailinfra.policyrun import PolicyPackError, Violation, load_pack, policy_infos, run_policies

ROOT = Path(__file__).resolve().parent.parent
PACK = ROOT / "policies"
SENDER = ROOT / "tests" / "fixtures" / "policy_programs" / "sender"
AWS_BASIC = ROOT / "tests" / "fixtures" / "programs" / "aws_basic"


# ------------------------------------------------------------------ the pack's venv


@pytest.fixture(scope="session")
def pack_python() -> str:
    """`<venv>/bin/python` of a venv made only from policies/requirements.txt (pip, the configured index)."""
    requirements = PACK / "requirements.txt"
    key = hashlib.sha256(requirements.read_bytes() + sys.version.encode() + platform.machine().encode()).hexdigest()[:16]
    base = ROOT / "build" / "policy-pack-venvs"
    base.mkdir(parents=True, exist_ok=True)
    target = base / key
    python = target / "bin" / "python"
    with open(base / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build, whichever xdist worker comes first
        if not (target / ".complete").is_file():
            shutil.rmtree(target, ignore_errors=True)
            steps = [
                [sys.executable, "-m", "venv", str(target)],
                [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", "-r", str(requirements)],
            ]
            for step in steps:
                done = subprocess.run(step, capture_output=True, text=True, timeout=900)
                if done.returncode != 0:
                    raise RuntimeError(
                        f"building the policy pack's venv failed: {' '.join(step)}\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
                    )
            (target / ".complete").write_text(requirements.read_text())
    return str(python)


# ------------------------------------------------------------------ comparing


def _from_diagnostic(d: Diagnostic) -> tuple[str, str, str, str, str]:
    """A pack diagnostic in the offline runner's terms: the report's own message (the pack
    prefixes every reported message with the policy description and a newline)."""
    message = d.message
    if message.startswith(d.description + "\n"):
        message = message[len(d.description) + 1 :]
    else:
        assert message == d.description or message.startswith("can't run policy "), d
    return (d.policy, d.urn, d.enforcement, d.severity, message)


def _from_violation(v: Violation) -> tuple[str, str, str, str, str]:
    return (v.policy, v.urn, v.enforcement, v.severity, v.message)


def judged_alike(
    plan: Plan,
    python: str,
    *,
    pack_dir: Path = PACK,
    config_file: Path | None = None,
    config: dict[str, Any] | None = None,
    environment: str | None = None,
) -> tuple[AnalyzerRun, list[Violation]]:
    """Judge `plan` with the pack process and with the offline runner; assert they agree."""
    given = load_policy_config(config_file) if config_file else (parse_policy_config(config) if config else None)
    run = analyze_plan(plan, python=python, pack_dir=str(pack_dir), policy_config=given, environment=environment)
    offline = run_policies(
        plan, policy_pack_dir=str(pack_dir), environment=environment, policy_config=str(config_file) if config_file else config
    )
    real = sorted(_from_diagnostic(d) for d in run.diagnostics)
    assert real == sorted(_from_violation(v) for v in offline), "\n".join(
        [f"pack only:    {x}" for x in sorted(set(real) - {_from_violation(v) for v in offline})]
        + [f"offline only: {x}" for x in sorted({_from_violation(v) for v in offline} - set(real))]
    )
    assert "Traceback" not in run.stderr, run.stderr
    assert not [log for log in run.logs if log.severity == "error"], run.logs
    return run, offline


def _variant(tmp_path: Path, **changes: object) -> str:
    """The compliant sender program with settings of its prod stack changed."""
    target = tmp_path / "sender"
    shutil.copytree(SENDER, target)
    stack = target / "stacks" / "Pulumi.prod.yaml"
    data = yaml.safe_load(stack.read_text())
    for key, value in changes.items():
        data["config"][f"policyfixture:{key}"] = value
    stack.write_text(yaml.safe_dump(data))
    return str(target)


# ------------------------------------------------------------------ the contract


def test_the_pack_starts_and_answers_as_the_cli_expects(pack_python: str) -> None:
    plan = run_plan(str(SENDER), "prod")
    run, _ = judged_alike(plan, pack_python)
    pinned = dict(line.split("==") for line in (PACK / "requirements.txt").read_text().split() if "==" in line)
    assert run.pack == "mailinfra-security" and run.plugin_version == pinned["pulumi-policy"]
    assert run.handshake == "UNIMPLEMENTED"  # pulumi_policy has no Handshake; the CLI falls back, as here
    # GetAnalyzerInfo reports what the offline runner reads from the pack, level by level.
    offline_pack = load_pack(str(PACK))
    from mailinfra.policyrun import _pack_process_env

    with _pack_process_env(plan, None):
        expected = sorted((p.name, p.enforcement) for p in policy_infos(offline_pack))
    assert sorted((p.name, p.enforcement) for p in run.policies) == expected
    assert set(run.config) == {p.name for p in run.policies}
    # Analyze saw the root stack first, then the default aws provider before its first user.
    assert run.analyzed[0] == stack_urn(plan)
    assert "urn:pulumi:prod::policyfixture::pulumi:providers:aws::default_7_51_1" in run.analyzed
    assert set(run.analyzed) >= {r.urn for r in plan.resources}
    assert run.stack_resources == len(run.analyzed)


@pytest.mark.parametrize("stack", ["dev", "staging", "prod", "fleet"])
def test_shipped_stacks_are_judged_alike(pack_python: str, stack: str, tmp_path: Path) -> None:
    """Without policy config, with the shipped config of the stack's environment, and with a
    probe pack that reports what the runtime hands it (so the comparison is never empty)."""
    plan = run_plan(str(ROOT), stack)
    environment = plan.config.get("mailinfra:environment", stack)
    judged_alike(plan, pack_python)
    judged_alike(plan, pack_python, config_file=PACK / "config" / f"{environment}.json")
    run, _ = judged_alike(plan, pack_python, pack_dir=_probe_pack(tmp_path))
    assert len(run.analyzed) > len(plan.resources)  # the root stack and the default providers too


@pytest.mark.parametrize(
    ("change", "policy"),
    [
        ({}, None),
        ({"tlsPolicy": "OPTIONAL"}, "ses-configuration-set-tls-required"),
        ({"spfIncludes": 11}, "spf-lookup-limit"),
        ({"splitDkim": False}, "dns-txt-string-length"),
        ({"dkimBits": 1024}, "dkim-key-strength"),
        ({"kskRegion": "eu-west-1"}, "kms-dnssec-ksk"),
        ({"kskRegion": "us-west-2"}, "compliance-region-residency"),
        ({"protectKeys": False}, "kms-key-protected"),
        ({"protectKeys": False, "environment": "dev"}, "kms-key-protected"),
    ],
)
def test_noncompliant_programs_are_judged_alike(
    pack_python: str, tmp_path: Path, change: dict[str, object], policy: str | None
) -> None:
    run, _ = judged_alike(run_plan(_variant(tmp_path, **change), "prod"), pack_python)
    found = {d.policy for d in run.diagnostics}
    assert policy in found if policy else not found


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_a_program_with_components_and_secrets_is_judged_alike(pack_python: str, stack: str) -> None:
    run, _ = judged_alike(run_plan(str(AWS_BASIC), stack), pack_python)
    assert "compliance-required-tags" in {d.policy for d in run.diagnostics}


def test_policy_config_reaches_the_pack_as_the_cli_sends_it(pack_python: str, tmp_path: Path) -> None:
    plan = run_plan(_variant(tmp_path, dkimBits=1024, protectKeys=False), "prod")
    config = {"all": "advisory", "dkim-key-strength": {"minRsaBits": 4096}, "kms-key-protected": "disabled"}
    run, _ = judged_alike(plan, pack_python, config=config)
    assert {(d.policy, d.enforcement) for d in run.diagnostics} == {("dkim-key-strength", "advisory")}
    assert run.config["dkim-key-strength"].properties["minRsaBits"] == 4096
    # The environment override of `mailinfra plan --environment` reaches both alike.
    run, _ = judged_alike(plan, pack_python, environment="dev")
    assert {d.enforcement for d in run.diagnostics if d.policy == "kms-key-protected"} == {"advisory"}


def test_a_bad_policy_config_stops_both_paths_before_any_rule(pack_python: str) -> None:
    plan = run_plan(str(SENDER), "prod")
    bad = {"dkim-key-strength": {"minRsaBits": "big"}}
    with pytest.raises(PolicyConfigError, match=r"dkim-key-strength: minRsaBits: 'big' is not of type 'integer'"):
        analyze_plan(plan, python=pack_python, pack_dir=str(PACK), policy_config=parse_policy_config(bad))
    with pytest.raises(PolicyPackError, match=r"dkim-key-strength: minRsaBits: 'big' is not of type 'integer'"):
        run_policies(plan, policy_config=bad)
    with pytest.raises(PolicyConfigError, match=r"spf-hard-fail: 'strict' is not a valid enforcement level"):
        parse_policy_config({"spf-hard-fail": "strict"})


# ------------------------------------------------------------------ the runtime's details


PROBE = '''
"""A probe pack: each policy reports what the runtime hands it."""

import pulumi
from pulumi_policy import (EnforcementLevel, PolicyConfigSchema, PolicyPack, ResourceValidationPolicy,
                           Severity, StackValidationPolicy)


def engine_resources(args, report):
    if args.resource_type == "pulumi:pulumi:Stack" or args.resource_type.startswith("pulumi:providers:"):
        report(f"analyzed {args.resource_type} {args.name} parent={args.opts.parent!r} props={sorted(args.props)}")


def numbers(args, report):
    if args.resource_type == "aws:cloudwatch/logGroup:LogGroup":
        report(f"retention {args.props['retentionInDays']!r} limit {args.get_config()['limit']!r}")


def unknown_read(args, report):
    if args.resource_type == "aws:secretsmanager/secret:Secret":
        report(f"key {args.props['kmsKeyId']}")


def provider_of(args, report):
    if args.resource_type in ("aws:cloudwatch/logGroup:LogGroup", "aws:kms/alias:Alias") and args.provider:
        report(f"provider {args.provider.name} {args.provider.urn} {sorted(args.provider.props)}")


def logs(args, report):
    if args.resource_type == "pulumi:pulumi:Stack":
        pulumi.log.warn("probe: analyzing the stack")


def stack_view(args, report):
    report(f"{len(args.resources)} resources")
    for r in args.resources:
        if r.resource_type.split(":")[0] not in ("aws", "cloudflare"):
            report(f"state of {r.resource_type}: {sorted(r.props)} parent={getattr(r.parent, 'urn', None)}", r.urn)
    report("a URN not in the stack", "urn:pulumi:nowhere::x::t::n")


PolicyPack(name="probe", enforcement_level=EnforcementLevel.ADVISORY, policies=[
    ResourceValidationPolicy(name="engine-resources", description="Root stack and providers are analyzed.",
                             validate=engine_resources, severity=Severity.LOW),
    ResourceValidationPolicy(name="numbers", description="Numbers as the pack sees them.", validate=numbers,
                             config_schema=PolicyConfigSchema({"limit": {"type": "integer", "default": 3}}),
                             enforcement_level=EnforcementLevel.MANDATORY),
    ResourceValidationPolicy(name="unknown-read", description="Reads a value unknown during preview.",
                             validate=unknown_read, severity=Severity.HIGH),
    ResourceValidationPolicy(name="provider-of", description="The provider a resource gets.", validate=provider_of),
    ResourceValidationPolicy(name="logs", description="Logs through pulumi.log.", validate=logs),
    StackValidationPolicy(name="stack-view", description="What a stack policy sees.", validate=stack_view,
                          severity=Severity.MEDIUM),
])
'''


def _probe_pack(tmp_path: Path) -> Path:
    pack = tmp_path / "probe"
    pack.mkdir(exist_ok=True)
    (pack / "__main__.py").write_text(PROBE)
    (pack / "PulumiPolicy.yaml").write_text("runtime:\n  name: python\n  options:\n    virtualenv: venv\nversion: 0.1.0\n")
    return pack


def test_the_offline_runner_hands_rules_what_the_runtime_hands_them(pack_python: str, tmp_path: Path) -> None:
    """Regression: the offline runner skipped the root stack and default providers, named the
    default provider `default` (the engine: `default_<version>`, with a `version` input), gave
    top-level resources no parent, passed numbers as ints (the wire makes them doubles), left
    the "can't run policy" diagnostic without the pack's name and URN, and gave components
    their inputs as stack state (the engine: their registered outputs)."""
    plan = run_plan(str(SENDER), "prod")
    run, _ = judged_alike(plan, pack_python, pack_dir=_probe_pack(tmp_path))
    said = {_from_diagnostic(d)[4] for d in run.diagnostics}
    root = stack_urn(plan)
    default = "urn:pulumi:prod::policyfixture::pulumi:providers:aws::default_7_51_1"
    assert "analyzed pulumi:pulumi:Stack policyfixture-prod parent=None props=[]" in said
    assert "analyzed pulumi:providers:aws default_7_51_1 parent=None props=['region', 'version']" in said
    assert any(m.startswith(f"analyzed pulumi:providers:aws dnssec-region parent={root!r}") and "'version'" in m for m in said)
    assert "retention 365.0 limit 3.0" in said
    assert f"provider default_7_51_1 {default} ['region', 'version']" in said
    unknown = next(d for d in run.diagnostics if d.policy == "unknown-read")
    assert (
        unknown.urn.endswith("::smtp-credentials")
        and unknown.enforcement == "advisory"
        and unknown.severity == "unspecified"
        and unknown.message
        == "can't run policy 'unknown-read' from policy pack 'probe@v0.0.1' during preview: "
        "string value at .kmsKeyId can't be known during preview"
    )
    assert f"{len(run.analyzed)} resources" in said
    stray = next(d for d in run.diagnostics if d.message.endswith("a URN not in the stack"))
    assert stray.urn == ""  # the engine files it under the whole stack
    # pulumi.policy takes the engine address but, in this SDK, logs to its stderr.
    assert (
        any("probe: analyzing the stack" in log.message for log in run.logs)
        or "warning: probe: analyzing the stack" in run.stderr
    )


def test_components_reach_stack_policies_with_their_registered_outputs(pack_python: str, tmp_path: Path) -> None:
    plan = run_plan(str(AWS_BASIC), "dev")
    run, _ = judged_alike(plan, pack_python, pack_dir=_probe_pack(tmp_path))
    said = {_from_diagnostic(d)[4] for d in run.diagnostics}
    assert any(m.startswith("state of fixture:index:Bundle: ['keyArn', 'zoneId']") for m in said), said


def test_a_pack_that_cannot_load_is_reported_not_awaited(pack_python: str, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "__main__.py").write_text("raise RuntimeError('no pack today')\n")
    with pytest.raises(AnalyzerError, match="no pack today"):
        analyze_plan(run_plan(str(SENDER), "prod"), python=pack_python, pack_dir=str(broken), timeout=60)


def test_the_pack_venv_holds_only_the_requirements(pack_python: str) -> None:
    """The pack imports nothing of the repository: only its requirements and its own folder."""
    code = (
        "import importlib.util, json; "
        "print(json.dumps({m: importlib.util.find_spec(m) is not None for m in "
        "('pulumi_policy', 'pulumi', 'dns', 'cryptography', 'mailinfra', 'components', 'pulumi_aws')}))"
    )
    found = json.loads(
        subprocess.run([pack_python, "-c", code], cwd=PACK, capture_output=True, text=True, check=True, timeout=120).stdout
    )
    assert found == {
        "pulumi_policy": True,
        "pulumi": True,
        "dns": True,
        "cryptography": True,
        "mailinfra": False,
        "components": False,
        "pulumi_aws": False,
    }
