"""Workflows that run the Pulumi CLI install into exactly the virtualenvs the project files name.

Pulumi's Python host looks for `runtime.options.virtualenv` (relative to the project or
pack directory) and stops with "'virtualenv' ... doesn't exist" when it is not there.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def _virtualenv(project_file: Path) -> str:
    options = yaml.safe_load(project_file.read_text())["runtime"]["options"]
    return str(Path(project_file.parent.relative_to(ROOT), options["virtualenv"]).as_posix()).removeprefix("./")


def _steps(workflow: Path) -> list[dict]:
    data = yaml.safe_load(workflow.read_text())
    return [step for job in data["jobs"].values() for step in job.get("steps", [])]


def _created_venvs(steps: list[dict]) -> set[str]:
    made: set[str] = set()
    for step in steps:
        for match in re.finditer(r"python3? -m venv\s+(\S+)", step.get("run", "")):
            made.add(match.group(1).rstrip("/").removeprefix("./"))
    return made


def _pip_targets(steps: list[dict]) -> set[str]:
    return {m.group(1).removeprefix("./") for s in steps for m in re.finditer(r"(\S+)/bin/pip install", s.get("run", ""))}


_RUNS_PROGRAM = ("preview", "up", "refresh", "destroy")  # `stack output` does not start the program


def _runs_pulumi(steps: list[dict]) -> bool:
    for step in steps:
        if str(step.get("uses", "")).startswith("pulumi/actions") and (step.get("with") or {}).get("command") in _RUNS_PROGRAM:
            return True
        if re.search(r"\bpulumi (%s)\b" % "|".join(_RUNS_PROGRAM), step.get("run", "")):
            return True
    return False


def _uses_pack(steps: list[dict]) -> bool:
    return any("policyPacks" in (s.get("with") or {}) or "--policy-pack" in s.get("run", "") for s in steps)


def test_project_files_name_their_virtualenvs():
    assert _virtualenv(ROOT / "Pulumi.yaml") == ".venv"
    assert _virtualenv(ROOT / "policies" / "PulumiPolicy.yaml") == "policies/venv"


def test_every_pulumi_workflow_installs_into_the_named_virtualenvs():
    program = _virtualenv(ROOT / "Pulumi.yaml")
    pack = _virtualenv(ROOT / "policies" / "PulumiPolicy.yaml")
    checked = 0
    for workflow in WORKFLOWS:
        steps = _steps(workflow)
        if not _runs_pulumi(steps):
            continue
        checked += 1
        wanted = {program} | ({pack} if _uses_pack(steps) else set())
        assert _created_venvs(steps) == wanted, workflow.name
        assert _pip_targets(steps) == wanted, workflow.name
    assert checked, "no workflow runs the Pulumi CLI"


def test_a_wrong_virtualenv_is_detected():
    steps = [
        {"run": "python -m venv venv\nvenv/bin/pip install -e ."},
        {"uses": "pulumi/actions@v6", "with": {"command": "preview"}},
    ]
    assert _runs_pulumi(steps)
    assert _created_venvs(steps) == {"venv"} != {_virtualenv(ROOT / "Pulumi.yaml")}
    assert not _runs_pulumi([{"uses": "pulumi/actions@v6", "with": {"command": "output"}}])


def _policy_configs(workflow: str) -> set[str]:
    """Every policy config a workflow hands to the pack (preview's input, plan's flag)."""
    steps = _steps(ROOT / ".github" / "workflows" / workflow)
    found = {str((s.get("with") or {}).get("policyPackConfigs")) for s in steps if (s.get("with") or {}).get("policyPackConfigs")}
    found |= {
        m.group(1) for s in steps for m in re.finditer(r"--policy-pack-config\s+((?:\$\{\{[^}]*\}\}|\S)+)", s.get("run", ""))
    }
    # A run script takes expressions through its step's env: `--policy-pack-config "$NAME"`.
    envs = {name: value for s in steps for name, value in (s.get("env") or {}).items()}
    return {envs.get(m.group(1), f) if (m := re.fullmatch(r'"?\$(\w+)"?', f)) else f for f in found}


def test_offline_check_and_pr_preview_use_the_same_policy_config():
    # The offline `mailinfra plan` and `pulumi preview --policy-pack` must judge with one config.
    assert _policy_configs("preview.yml") == {"policies/config/${{ matrix.config }}.json"}
    assert _policy_configs("policy.yml") == _policy_configs("preview.yml")
    for stack in ("dev", "staging", "prod"):
        assert (ROOT / "policies" / "config" / f"{stack}.json").is_file()


def _matrix(workflow: str, job: str) -> list[dict]:
    data = yaml.safe_load((ROOT / ".github" / "workflows" / workflow).read_text())
    return list(data["jobs"][job]["strategy"]["matrix"]["include"])


def _stack_files() -> dict[str, str]:
    """Every stack file in stacks/ -> its mailinfra:environment."""
    found = {}
    for f in (ROOT / "stacks").glob("Pulumi.*.yaml"):
        config = yaml.safe_load(f.read_text())["config"]
        found[f.name.removeprefix("Pulumi.").removesuffix(".yaml")] = config["mailinfra:environment"]
    return found


def test_every_stack_is_planned_and_previewed_with_its_environments_config():
    # a fleet's core and shards included: each a matrix entry of its own
    stacks = _stack_files()
    assert {"fleet-core", "fleet-shard-0", "fleet-shard-1"} <= set(stacks)
    for workflow, job in (("policy.yml", "plan"), ("preview.yml", "preview")):
        entries = _matrix(workflow, job)
        assert {e["stack"]: e["config"] for e in entries} == stacks, workflow
        assert len(entries) == len(stacks), workflow  # no stack twice
    # the cross-shard rules: the fleet job plans each core with --fleet
    cores = {s for s in stacks if (ROOT / "stacks" / f"Pulumi.{s}.yaml").read_text().count("role: core")}
    assert {e["core"]: e["config"] for e in _matrix("policy.yml", "fleet")} == {c: stacks[c] for c in cores}
    fleet_runs = [
        s.get("run", "") for s in yaml.safe_load((ROOT / ".github/workflows/policy.yml").read_text())["jobs"]["fleet"]["steps"]
    ]
    assert any('mailinfra plan --fleet "$CORE"' in r for r in fleet_runs)
