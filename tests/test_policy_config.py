"""Policy config read, reconciled and validated the way the Pulumi CLI does it (mailinfra.policyconfig),
and `mailinfra plan --policy-pack-config FILE` using it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from mailinfra.engine import run_plan
from mailinfra.policyconfig import PolicyConfig, PolicyConfigError, PolicyInfo, load_policy_config, parse_policy_config, reconcile
from mailinfra.policyrun import PolicyPackError, run_policies
from tests.error_contract import cli

ROOT = Path(__file__).resolve().parent.parent
SENDER = ROOT / "tests" / "fixtures" / "policy_programs" / "sender"

INFOS = [
    PolicyInfo("a", "mandatory", {"limit": {"type": "integer", "minimum": 1, "default": 3}}),
    PolicyInfo("b", "advisory", {"names": {"type": "array", "items": {"type": "string"}}}),
    PolicyInfo("c", "mandatory", {"must": {"type": "string"}}, ("must",)),
]


def test_parse_follows_the_cli() -> None:
    parsed = parse_policy_config(
        {"all": "advisory", "a": {"enforcementLevel": "disabled", "limit": 5}, "b": {}, "environments": ["acme/policy-env"]}
    )
    assert parsed == {"all": PolicyConfig("advisory"), "a": PolicyConfig("disabled", {"limit": 5})}  # empty "b" dropped
    for bad, text in [
        ({"a": "strict"}, "a: 'strict' is not a valid enforcement level"),
        ({"a": {"enforcementLevel": 1}}, "a.enforcementLevel: 1 is not a valid enforcement level"),
        ({"a": 3}, "a: 3 is not a valid value; must be a string or object"),
        ({"environments": "x"}, '"environments" must be an array of strings'),
        ([], "must be a JSON object"),
    ]:
        with pytest.raises(PolicyConfigError, match=text):
            parse_policy_config(bad, "f.json")


def test_load_reads_json_and_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "empty.json").write_text("  \n")
    assert load_policy_config(tmp_path / "empty.json") == {}
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(PolicyConfigError, match=r"bad\.json: not JSON"):
        load_policy_config(tmp_path / "bad.json")
    with pytest.raises(PolicyConfigError, match=r"missing\.json: No such file"):
        load_policy_config(tmp_path / "missing.json")


def test_reconcile_layers_defaults_initial_then_given() -> None:
    initial = {"a": PolicyConfig("advisory", {"limit": 4})}
    given = parse_policy_config({"all": "disabled", "b": {"names": ["x"]}, "c": {"must": "m"}})
    out = reconcile(INFOS, initial, given)
    assert out["a"] == PolicyConfig("disabled", {"limit": 4})  # initial's property stays; all's level wins
    assert out["b"] == PolicyConfig("disabled", {"names": ["x"]})
    assert out["c"] == PolicyConfig("disabled", {"must": "m"})
    assert out["all"] == PolicyConfig("disabled")  # the engine sends the `all` entry on, as here


def test_reconcile_validates_every_policy_against_its_schema() -> None:
    given = parse_policy_config({"a": {"limit": 0}, "b": {"names": ["x", 2]}})
    with pytest.raises(PolicyConfigError) as caught:
        reconcile(INFOS, None, given, source="p.json")
    assert caught.value.problems == [
        "a: limit: 0 is less than the minimum of 1",
        "b: names.1: 2 is not of type 'string'",
        "c: 'must' is a required property",
    ]
    assert str(caught.value).startswith("p.json: a: limit: 0 is less than the minimum of 1; ")


def test_unknown_policy_names() -> None:
    """The CLI carries an unknown name along; with a level the pack ignores it, without one
    Configure fails. strict (mailinfra plan) rejects it outright."""
    ok = {"c": {"must": "m"}}
    assert reconcile(INFOS, None, parse_policy_config({**ok, "zzz": "advisory"}))["zzz"] == PolicyConfig("advisory")
    with pytest.raises(PolicyConfigError, match=r"zzz: invalid enforcement level ''"):
        reconcile(INFOS, None, parse_policy_config({**ok, "zzz": {"x": 1}}))
    with pytest.raises(PolicyConfigError, match=r"zzz: no such policy in the pack"):
        reconcile(INFOS, None, parse_policy_config({**ok, "zzz": "advisory"}), strict=True)


def test_a_bad_value_never_reaches_a_rule() -> None:
    """Regression: minRsaBits 'big' reached dkim-key-strength, which crashed on int('big')."""
    plan = run_plan(str(SENDER), "prod")
    with pytest.raises(PolicyPackError, match=r"policy config: dkim-key-strength: minRsaBits: 'big' is not of type 'integer'"):
        run_policies(plan, policy_config={"dkim-key-strength": {"minRsaBits": "big"}})
    with pytest.raises(PolicyPackError, match=r"no-such-policy: no such policy in the pack"):
        run_policies(plan, policy_config={"no-such-policy": "advisory"})


def _unprotected_sender(tmp_path: Path) -> str:
    target = tmp_path / "sender"
    shutil.copytree(SENDER, target)
    stack = target / "stacks" / "Pulumi.prod.yaml"
    data = yaml.safe_load(stack.read_text())
    data["config"]["policyfixture:protectKeys"] = False
    stack.write_text(yaml.safe_dump(data))
    return str(target)


def test_plan_takes_the_shipped_environment_files(tmp_path: Path) -> None:
    project = _unprotected_sender(tmp_path)
    strict = cli("plan", "--project", project, "--stack", "prod", "--format", "json")
    assert strict.code == 1
    assert {v["enforcement"] for v in json.loads(strict.stdout)["violations"]} == {"mandatory"}
    relaxed = cli(
        "plan",
        "--project",
        project,
        "--stack",
        "prod",
        "--format",
        "json",
        "--policy-pack-config",
        str(ROOT / "policies" / "config" / "dev.json"),
    )
    assert relaxed.code == 0, relaxed.stderr
    found = json.loads(relaxed.stdout)["violations"]
    assert found and {(v["policy"], v["enforcement"]) for v in found} == {("kms-key-protected", "advisory")}


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ({"dkim-key-strength": {"minRsaBits": "big"}}, "dkim-key-strength: minRsaBits: 'big' is not of type 'integer'"),
        (
            {"spf-hard-fail": {"enforcementLevel": "strict"}},
            "spf-hard-fail.enforcementLevel: 'strict' is not a valid enforcement level (one of advisory, mandatory, remediate, disabled)",
        ),
        ({"no-such-policy": "advisory"}, "no-such-policy: no such policy in the pack"),
    ],
)
def test_plan_rejects_a_bad_config_before_the_program_runs(tmp_path: Path, content: dict, named: str) -> None:
    project = tmp_path / "project"
    (project / "stacks").mkdir(parents=True)
    (project / "Pulumi.yaml").write_text("name: marker\nruntime: python\nstackConfigDir: stacks\n")
    (project / "stacks" / "Pulumi.dev.yaml").write_text("config: {}\n")
    (project / "__main__.py").write_text(f"open({str(tmp_path / 'ran')!r}, 'w').close()\n")
    config = tmp_path / "policy.json"
    config.write_text(json.dumps(content))
    outcome = cli("plan", "--project", str(project), "--stack", "dev", "--policy-pack-config", str(config))
    assert outcome.code == 2 and outcome.stdout == ""
    assert outcome.stderr == f"mailinfra: error: --policy-pack-config {config}: {named}\n"
    assert not (tmp_path / "ran").exists()  # rejected before the program ran
