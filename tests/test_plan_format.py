"""The JSON plan file is replayable (issue 13, item 3) and `mailinfra plan` gives feedback (item 9).

A plan written by `mailinfra plan --format json` validates against docs/plan.schema.json
and carries everything the pack is given (outputs, property dependencies, typed
unknown/secret markers, config), so judging the plan re-read from the file alone gives
the violations of the live plan. The text report ends with a verdict; on a terminal the
plan shows rich progress on stderr, and nothing extra when not on one.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from rich.console import Console

from mailinfra import render
from mailinfra.engine import Plan, run_plan
from mailinfra.planfile import PlanFileError, load_plan_file
from mailinfra.planformat import (
    FORMAT_VERSION,
    SECRET_SIG,
    SIG_KEY,
    UNKNOWN_SENTINEL,
    from_document,
    placeholder_view,
    plan_from_document,
    to_document,
)
from mailinfra.policyrun import run_policies
from mailinfra.progress import plan_progress
from mailinfra.values import UNKNOWN, Secret
from tests.error_contract import ROOT, SECRET_MARK, cli

SCHEMA = json.loads((ROOT / "docs" / "plan.schema.json").read_text())
SENDER = ROOT / "tests" / "fixtures" / "policy_programs" / "sender"
SHIPPED = ("dev", "staging", "prod", "fleet")


def _document(plan: Plan) -> dict[str, Any]:
    buf = io.StringIO()
    render.plan_to_json(plan, buf)
    return json.loads(buf.getvalue())


def _judged(project: Path, stack: str) -> Plan:
    plan = run_plan(str(project), stack)
    plan.violations = run_policies(plan)
    return plan


def _contract(violations: list[Any]) -> list[dict[str, str]]:
    return [v.to_dict() for v in violations]


@pytest.fixture(scope="module")
def sender() -> Plan:
    return _judged(SENDER, "prod")


@pytest.fixture(scope="module")
def dev() -> Plan:
    return _judged(ROOT, "dev")


def test_the_schema_is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("stack", SHIPPED)
def test_plans_of_the_shipped_stacks_validate_against_the_schema(stack):
    doc = _document(_judged(ROOT, stack))
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    assert doc["formatVersion"] == FORMAT_VERSION
    assert any(r["propertyDependencies"] for r in doc["resources"])
    assert any(r["outputs"] for r in doc["resources"] if r["custom"])


def test_the_sender_fixture_validates(sender):
    jsonschema.Draft202012Validator(SCHEMA).validate(_document(sender))


def test_the_schema_refuses_a_plain_string_where_a_secret_marker_has_a_value(dev):
    doc = _document(dev)
    version = next(r for r in doc["resources"] if r["type"] == "aws:secretsmanager/secretVersion:SecretVersion")
    assert version["inputs"]["secretString"] == {SIG_KEY: SECRET_SIG}  # no "value": never written
    version["inputs"]["secretString"] = {SIG_KEY: SECRET_SIG, "value": "hunter2"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, SCHEMA)


@pytest.mark.parametrize(("project", "stack"), [(SENDER, "prod"), (ROOT, "dev")])
def test_re_judging_the_json_alone_gives_the_live_violations(project, stack, request):
    live = request.getfixturevalue("sender" if project == SENDER else "dev")
    replayed = plan_from_document(json.loads(json.dumps(_document(live))))
    assert _contract(run_policies(replayed)) == _contract(live.violations)


def test_without_outputs_and_property_dependencies_the_sender_is_wrongly_flagged(sender):
    """What the unversioned format lost: the port-25 rule cannot be tied to its MX group."""
    assert sender.violations == []
    doc = _document(sender)
    for r in doc["resources"]:
        r["outputs"], r["propertyDependencies"] = {}, {}
    found = run_policies(plan_from_document(doc))
    assert [v.policy for v in found] == ["network-smtp-inbound-mx-only"]
    assert found[0].urn.endswith("::mx-smtp")


def test_markers_are_typed_and_round_trip():
    value = {"a": [UNKNOWN, Secret("s3cret-value")], "b": {"c": 1}, "[secret]": "[unknown]"}
    doc = to_document(value)
    assert doc == {"a": [UNKNOWN_SENTINEL, {SIG_KEY: SECRET_SIG}], "b": {"c": 1}, "[secret]": "[unknown]"}
    back = from_document(doc)
    assert back["a"][0] is UNKNOWN and isinstance(back["a"][1], Secret) and back["a"][1].reveal() is UNKNOWN
    # a real value that looks like the old placeholders stays a plain string
    assert back["[secret]"] == "[unknown]"
    assert placeholder_view(doc)["a"] == ["[unknown]", "[secret]"]


def test_no_secret_in_clear_in_the_plan_file(dev):
    text = json.dumps(_document(dev))
    assert SECRET_MARK not in text and "PRIVATE KEY" not in text
    secure = [k for k, v in dev.config.items() if isinstance(v, Secret)]
    doc = json.loads(text)
    assert all(doc["config"][k] == {SIG_KEY: SECRET_SIG} for k in secure)


def test_verify_reads_the_new_format_and_the_old_one(dev, tmp_path):
    new = tmp_path / "new.json"
    new.write_text(json.dumps(_document(dev)))
    data = load_plan_file(str(new))
    view = render.plan_to_dict(dev)  # what verify reads from a fresh plan
    assert [{k: r[k] for k in view["resources"][0]} for r in data["resources"]] == view["resources"]
    assert data["outputs"] == view["outputs"]
    old = tmp_path / "old.json"
    old.write_text(json.dumps(render.plan_to_dict(dev)))  # the unversioned format: placeholders
    assert load_plan_file(str(old))["resources"] == render.plan_to_dict(dev)["resources"]


@pytest.mark.parametrize("version", [1, 3, "2", True, None])
def test_another_format_version_is_refused_in_one_line(dev, tmp_path, version):
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({**_document(dev), "formatVersion": version}))
    with pytest.raises(PlanFileError) as err:
        load_plan_file(str(path))
    message = str(err.value)
    assert message.startswith(f"--plan: {path}: formatVersion: ") and "\n" not in message


def test_zone_export_reads_the_plan_file(dev):
    from mailinfra.zone import zone_files

    assert zone_files(_document(dev)) == zone_files(dev)


# --- item 9: verdict line, progress ------------------------------------------------------


def test_the_text_report_ends_with_a_verdict(dev, sender):
    assert render.plan_to_text(dev).splitlines()[-1] == "Verdict: passes with advisories (0 mandatory, 2 advisory violations)"
    assert render.plan_to_text(sender).splitlines()[-1] == "Verdict: passes (0 mandatory, 0 advisory violations)"
    blocked = [{"policy": "p", "enforcement": "mandatory", "severity": "high", "urn": "", "message": "m"}]
    assert render.plan_to_text(sender, blocked).splitlines()[-1] == "Verdict: blocked (1 mandatory, 0 advisory violations)"
    assert render.plan_to_text(sender, [], judged=False).splitlines()[-1] == "Verdict: not judged (--no-policies)"


def test_not_on_a_terminal_the_plan_writes_nothing_to_stderr():
    out = cli("plan", "--stack", "dev")
    assert out.code == 0 and out.stderr == "", out.stderr
    assert out.stdout.splitlines()[-1].startswith("Verdict: passes")


def test_progress_on_a_terminal_counts_registrations_and_judgements():
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120)
    calls: list[tuple[int, int]] = []
    with plan_progress(console) as progress:
        assert progress is not None
        plan = run_plan(str(SENDER), "prod", on_register=progress.registered)

        def judged(done: int, total: int) -> None:
            calls.append((done, total))
            progress.judged(done, total)

        run_policies(plan, on_judged=judged)
        tasks = {t.description: t for t in progress.progress.tasks}
        assert tasks["resources registered"].completed == len(plan.resources)
        assert tasks["policies judged"].completed == tasks["policies judged"].total == calls[-1][1] > 0
    assert calls[0][0] == 0 and [d for d, _ in calls] == sorted(d for d, _ in calls)
    text = screen.getvalue()
    assert "resources registered" in text and "policies judged" in text


def test_no_progress_without_a_terminal():
    with plan_progress(Console(file=io.StringIO(), force_terminal=False)) as progress:
        assert progress is None
