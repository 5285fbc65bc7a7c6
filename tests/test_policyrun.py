"""The offline runner: hand-built plans, and whole programs planned by the engine."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

from mailinfra.engine import run_plan
from mailinfra.policyrun import PolicyPackError, Violation, load_pack, run_policies
from tests.test_policies_helpers import UNKNOWN, make_plan

FIXTURE = Path(__file__).parent / "fixtures" / "policy_programs" / "sender"
ROOT = Path(__file__).resolve().parent.parent


def _variant(tmp_path: Path, **changes: object) -> str:
    """Copy the compliant program and change settings of its prod stack."""
    target = tmp_path / "sender"
    shutil.copytree(FIXTURE, target)
    stack = target / "stacks" / "Pulumi.prod.yaml"
    data = yaml.safe_load(stack.read_text())
    for key, value in changes.items():
        data["config"][f"policyfixture:{key}"] = value
    stack.write_text(yaml.safe_dump(data))
    return str(target)


def _mandatory(project: str, stack: str = "prod") -> list[Violation]:
    return [v for v in run_policies(run_plan(project, stack)) if v.enforcement == "mandatory"]


def test_compliant_program_has_no_violation() -> None:
    """Compliant variants: an asymmetric DNSSEC key (no rotation, us-east-1), an SPF with
    exactly 10 lookups, and a 2048-bit DKIM key split for Route53."""
    assert run_policies(run_plan(str(FIXTURE), "prod")) == []


@pytest.mark.parametrize(
    ("change", "policy"),
    [
        ({"tlsPolicy": "OPTIONAL"}, "ses-configuration-set-tls-required"),
        ({"spfIncludes": 11}, "spf-lookup-limit"),
        ({"splitDkim": False}, "dns-txt-string-length"),
        ({"dkimBits": 1024}, "dkim-key-strength"),
        ({"kskRegion": "eu-west-1"}, "kms-dnssec-ksk"),
        ({"kskRegion": "us-west-2"}, "compliance-region-residency"),
        ({"protectKeys": False}, "kms-key-protected"),
    ],
)
def test_one_setting_change_is_rejected(tmp_path: Path, change: dict[str, object], policy: str) -> None:
    found = _mandatory(_variant(tmp_path, **change))
    assert policy in {v.policy for v in found}, found


def test_dev_environment_downgrades_prod_only_rules(tmp_path: Path) -> None:
    project = _variant(tmp_path, protectKeys=False, environment="dev")
    found = [v for v in run_policies(run_plan(project, "prod")) if v.policy == "kms-key-protected"]
    assert found and {v.enforcement for v in found} == {"advisory"}
    # The runner's environment= acts as <project>:environment.
    found = [v for v in run_policies(run_plan(project, "prod"), environment="prod") if v.policy == "kms-key-protected"]
    assert {v.enforcement for v in found} == {"mandatory"}


def test_violation_fields_and_json_contract() -> None:
    plan = make_plan([{"type": "aws:sesv2/configurationSet:ConfigurationSet", "name": "cs", "props": {}}], stack="prod")
    found = [v for v in run_policies(plan) if v.policy == "ses-configuration-set-tls-required"]
    assert len(found) == 1
    v = found[0]
    assert v.urn.endswith("::cs") and v.resource_type.endswith("ConfigurationSet") and v.resource_name == "cs"
    assert v.severity == "high" and v.enforcement == "mandatory" and "REQUIRE" in v.remediation
    assert set(v.to_dict()) == {"policy", "enforcement", "severity", "urn", "message"}


def test_unknowns_reach_policies_as_crossguard_sentinels() -> None:
    plan = make_plan(
        [
            {
                "type": "aws:sesv2/configurationSet:ConfigurationSet",
                "name": "cs",
                "props": {"deliveryOptions": {"tlsPolicy": UNKNOWN}},
            },
            {"type": "aws:kms/key:Key", "name": "k", "props": {"enableKeyRotation": UNKNOWN}, "protect": True},
        ],
        stack="prod",
    )
    assert not [v for v in run_policies(plan) if v.policy in ("ses-configuration-set-tls-required", "kms-symmetric-key-rotation")]


def test_policy_config_file_and_shipped_environment_configs(tmp_path: Path) -> None:

    from mailinfra.policies.mailinfra_policy import policy_config_for

    for env in ("dev", "staging", "prod"):
        shipped = json.loads((ROOT / "policies" / "config" / f"{env}.json").read_text())
        assert shipped == policy_config_for(env)
    plan = make_plan([{"type": "aws:kms/key:Key", "name": "k", "props": {}}], stack="prod")
    found = [
        v
        for v in run_policies(plan, policy_config=str(ROOT / "policies" / "config" / "dev.json"))
        if v.policy == "kms-key-protected"
    ]
    assert {v.enforcement for v in found} == {"advisory"}


def test_foreign_pack_is_loaded_without_serving(tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "__main__.py").write_text(
        "from pulumi_policy import PolicyPack, ResourceValidationPolicy, EnforcementLevel\n"
        "def no_buckets(args, report):\n"
        "    if args.resource_type == 'aws:s3/bucket:Bucket':\n"
        "        report('no buckets here')\n"
        "PolicyPack(name='foreign', policies=[ResourceValidationPolicy(name='no-buckets', description='d', "
        "validate=no_buckets, enforcement_level=EnforcementLevel.MANDATORY)])\n"
    )
    plan = make_plan([{"type": "aws:s3/bucket:Bucket", "name": "b", "props": {}}])
    found = run_policies(plan, policy_pack_dir=str(pack))
    assert [(v.policy, v.enforcement, v.message) for v in found] == [("no-buckets", "mandatory", "no buckets here")]
    assert load_pack(str(pack)).name == "foreign"


def test_broken_pack_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyPackError):
        load_pack(str(tmp_path))
    (tmp_path / "__main__.py").write_text("raise RuntimeError('boom')\n")
    with pytest.raises(PolicyPackError, match="boom"):
        load_pack(str(tmp_path))


def test_shipped_main_holds_only_the_pack() -> None:
    text = (ROOT / "policies" / "__main__.py").read_text()
    assert text.count("PolicyPack(") == 1 and "PACK_NAME" in text
    for path in (ROOT / "policies" / "mailinfra_policy").rglob("*.py"):
        assert "PolicyPack(" not in path.read_text(), path
    assert load_pack().name == "mailinfra-security"


def test_process_environment_is_restored() -> None:
    before = {k: os.environ.get(k) for k in ("PULUMI_CONFIG", "PULUMI_STACK", "PULUMI_PROJECT")}
    run_policies(make_plan([], stack="prod"))
    assert before == {k: os.environ.get(k) for k in before}


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_shipped_stacks_have_no_mandatory_violation(stack: str) -> None:
    """Each stack in its own process (the engine plans the repo's program once per process)."""
    import subprocess
    import sys

    if not (ROOT / "__main__.py").is_file():
        pytest.skip("the project's __main__.py is not there yet")
    code = (
        "import json, sys\n"
        "from mailinfra.engine import run_plan\n"
        "from mailinfra.policyrun import run_policies\n"
        f"found = run_policies(run_plan({str(ROOT)!r}, {stack!r}))\n"
        "print(json.dumps([v.to_dict() for v in found]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300, check=True)
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert [v for v in found if v["enforcement"] == "mandatory"] == []


def test_stack_policies_share_one_view_per_resource_list_and_never_a_stale_one() -> None:
    from pulumi_policy import StackValidationArgs

    from mailinfra.policies.mailinfra_policy import dns
    from mailinfra.policies.mailinfra_policy.common import StackView
    from tests.test_policies_helpers import policy_resources, run_stack

    record = "aws:route53/record:Record"
    one = [{"type": record, "name": "spf", "props": {"name": "ex.com", "type": "TXT", "records": ["v=spf1 -all"]}}]
    two = one + [{"type": record, "name": "spf2", "props": {"name": "ex.com", "type": "TXT", "records": ["v=spf1 ~all"]}}]

    resources = policy_resources(one)
    first = StackView.of(StackValidationArgs(resources, None))
    assert StackView.of(StackValidationArgs(resources, {"x": 1})) is first  # same run: shared
    assert StackView.of(StackValidationArgs(policy_resources(one), None)) is not first  # next run: rebuilt

    one_spf = next(p for p in dns.POLICIES if p.name == "dns-one-spf-per-name")
    assert run_stack(one_spf, one) == []
    found = run_stack(one_spf, two)  # a cached view of the first list would miss the duplicate
    assert len(found) == 1 and "more than one SPF record" in found[0][0]
