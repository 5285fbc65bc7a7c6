"""Secrets never appear in any report format (issue 12, class 4).

A `secure:` owner: the tags built from it are secret Outputs in the program, so every
resource input holding them is `[secret]` in JSON, text, SARIF and Markdown. A program
that copies a secret into a plain string (or a policy message that quotes one) is
caught by the plan's redactor. On the mock engine a secure value is the placeholder
"mock-secret-<key>": that string must appear nowhere.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailinfra import render
from mailinfra.engine import Plan, run_plan
from mailinfra.markdown import plan_to_markdown
from mailinfra.planformat import SECRET_SIG, SIG_KEY
from mailinfra.policyrun import Violation, run_policies
from mailinfra.sarif import plan_to_sarif
from mailinfra.values import MIN_REDACTED_LENGTH, SECRET_TEXT, Redactor, Secret, redactor_for
from tests.error_contract import (
    ROOT,
    SARIF_SCHEMA,
    SECRET_MARK,
    STACKS,
    assert_contract,
    assert_report,
    cli,
    make_project,
    write_stack,
)

OWNER_PLACEHOLDER = "mock-secret-owner"
LEAK = ROOT / "tests" / "fixtures" / "programs" / "secret_leak"


def _json(plan: Plan) -> str:
    buf = io.StringIO()
    render.plan_to_json(plan, buf)
    return buf.getvalue()


def _sarif(plan: Plan, project: Path) -> str:
    sarif = plan_to_sarif(plan, plan.violations, project_dir=str(project))
    jsonschema.validate(sarif, SARIF_SCHEMA)
    return json.dumps(sarif)


FORMATS: dict[str, Callable[[Plan, Path], str]] = {
    "json": lambda plan, _: _json(plan),
    "dict": lambda plan, _: json.dumps(render.plan_to_dict(plan)),
    "text": lambda plan, _: render.plan_to_text(plan),
    "sarif": _sarif,
    "markdown": lambda plan, _: plan_to_markdown(plan, plan.violations),
}


@pytest.fixture(scope="module")
def secure_owner(tmp_path_factory: pytest.TempPathFactory) -> tuple[Plan, Path]:
    project = make_project(tmp_path_factory.mktemp("secure-owner"), stacks=())
    text = (STACKS / "Pulumi.prod.yaml").read_text()
    owner_line = next(line for line in text.splitlines() if line.strip().startswith("mailinfra:owner:"))
    indent = owner_line[: len(owner_line) - len(owner_line.lstrip())]
    text = text.replace(owner_line, f"{indent}mailinfra:owner:\n{indent}  secure: v1:b3duZXItY2lwaGVydGV4dA==")
    write_stack(project, "prod", text)
    plan = run_plan(str(project), "prod")
    plan.violations = run_policies(plan)
    return plan, project


def _tag_owners(value: Any) -> list[Any]:
    """Every `owner` value inside a `tags` / `defaultTags` mapping of a plan value."""
    found: list[Any] = []

    def walk(item: Any, in_tags: bool) -> None:
        if isinstance(item, Secret):
            walk(item.reveal(), in_tags)
        elif isinstance(item, dict):
            for key, sub in item.items():
                if in_tags and key == "owner":
                    found.append(sub)
                walk(sub, key in ("tags", "tagsAll"))
        elif isinstance(item, list):
            for sub in item:
                walk(sub, in_tags)

    walk(value, False)
    return found


def test_tags_from_a_secure_owner_are_secret_in_the_plan(secure_owner):
    plan, _ = secure_owner
    owners = [owner for r in plan.resources for owner in _tag_owners(r.inputs)]
    assert len(owners) > 20  # keys, topics, security groups, log groups, provider default tags ...
    assert all(isinstance(owner, Secret) and owner.reveal() == OWNER_PLACEHOLDER for owner in owners)
    assert plan.config["mailinfra:owner"] == Secret(OWNER_PLACEHOLDER)


def test_the_pack_still_sees_the_owner_tag(secure_owner):
    """Policies get secrets decrypted, as under CrossGuard: the required-tags rule passes."""
    plan, _ = secure_owner
    assert [v for v in plan.violations if v.enforcement == "mandatory"] == []


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_a_secure_owner_appears_in_no_format(secure_owner, fmt):
    plan, project = secure_owner
    text = FORMATS[fmt](plan, project)
    assert SECRET_MARK not in text and OWNER_PLACEHOLDER not in text
    if fmt in ("json", "dict"):
        data = json.loads(text)
        owners = [owner for r in data["resources"] for owner in _tag_owners(r["inputs"])]
        # the plan file has the typed marker (mailinfra/planformat.py), the in-process view the text
        expected = SECRET_TEXT if fmt == "dict" else {SIG_KEY: SECRET_SIG}
        assert owners and all(owner == expected for owner in owners)


def test_a_secure_owner_through_the_cli(secure_owner, tmp_path):
    _, project = secure_owner
    report = tmp_path / "plan.json"
    out = cli("plan", "--stack", "prod", "--project", str(project), "--format", "json", "--output", str(report))
    assert out.code == 0 and out.stdout == "" and SECRET_MARK not in out.stderr, out.stderr
    assert_report(report.read_text(), "json")
    data = json.loads(report.read_text())
    assert SECRET_MARK not in report.read_text() and data["config"]["mailinfra:owner"] == {SIG_KEY: SECRET_SIG}
    owners = [owner for r in data["resources"] for owner in _tag_owners(r["inputs"])]
    assert owners and all(owner == {SIG_KEY: SECRET_SIG} for owner in owners)


# --- a program that copies a secret into plain strings -----------------------------------


@pytest.fixture(scope="module")
def leaky() -> Plan:
    plan = run_plan(str(LEAK), "dev")
    # a policy message that quotes what it judged (policies get secrets decrypted)
    holder = plan.resources[0]
    plan.violations = [
        Violation(
            policy="quotes-a-secret",
            enforcement="mandatory",
            severity="high",
            urn=holder.urn,
            message="label 'token-mock-secret-apiToken' | leaks mock-secret-apiToken",
            resource_type=holder.type,
            resource_name=holder.name,
        )
    ]
    return plan


def test_the_leak_is_real(leaky):
    """Without the redactor the placeholder is in plain strings of the plan."""
    assert leaky.resources[0].inputs["label"] == "token-mock-secret-apiToken"
    assert leaky.outputs["leak"] == "prefix-mock-secret-apiToken"
    assert isinstance(leaky.outputs["kept"], Secret)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_a_secret_copied_into_plain_strings_is_redacted(leaky, fmt):
    text = FORMATS[fmt](leaky, LEAK)
    assert SECRET_MARK not in text
    if fmt in ("json", "dict"):
        data = json.loads(text)
        # a kept secret is the plan file's typed marker; a copied one is redacted text
        kept = SECRET_TEXT if fmt == "dict" else {SIG_KEY: SECRET_SIG}
        assert data["outputs"] == {"kept": kept, "leak": f"prefix-{SECRET_TEXT}"}
        assert data["resources"][0]["inputs"]["tags"] == {"owner": SECRET_TEXT, "team": "mail"}  # copied: redacted
        assert data["violations"][0]["message"] == "label 'token-[secret]' | leaks [secret]"
    else:
        assert SECRET_TEXT in text


def test_the_leaky_program_through_the_cli():
    for fmt in ("json", "text", "markdown"):
        out = cli("plan", "--stack", "dev", "--project", str(LEAK), "--format", fmt, "--no-policies")
        assert_contract(out, fmt)
        if fmt != "markdown":  # (markdown lists violations only)
            assert "visible-label" in out.stdout  # not everything is redacted: only the secret


def test_sarif_fingerprints_do_not_carry_the_secret(leaky):
    sarif = plan_to_sarif(leaky, leaky.violations, project_dir=str(LEAK))
    (result,) = sarif["runs"][0]["results"]
    assert SECRET_MARK not in result["partialFingerprints"]["mailinfraViolation/v2"]


# --- the redactor ---------------------------------------------------------------------


def test_redactor_ignores_short_values_and_the_marker():
    red = Redactor(["abc", SECRET_TEXT, "x" * MIN_REDACTED_LENGTH])
    assert red.texts == ("x" * MIN_REDACTED_LENGTH,)
    assert red.text("abc [secret] xxxxxxxx") == "abc [secret] [secret]"
    assert not Redactor([]) and Redactor([]).jsonable({"a": ["b"]}) == {"a": ["b"]}


def test_redactor_longest_secret_first_and_keys_too():
    red = Redactor(["mock-secret-owner", "mock-secret-owner.team"])
    assert red.text("x mock-secret-owner.team y") == "x [secret] y"
    assert red.jsonable({"k-mock-secret-owner": ["mock-secret-owner", 1, None]}) == {"k-[secret]": ["[secret]", 1, None]}


def test_redactor_for_reads_the_plans_secure_config(secure_owner):
    plan, _ = secure_owner
    assert OWNER_PLACEHOLDER in redactor_for(plan).texts
    assert not redactor_for(replace(plan, config={"mailinfra:owner": "plain"}))


SECRETS = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=MIN_REDACTED_LENGTH, max_size=20)
NOISE = st.text(alphabet=st.sampled_from("[]secrtab-_ x\u00e9"), max_size=30)


@settings(max_examples=300, derandomize=True, database=None)
@given(st.lists(SECRETS, min_size=1, max_size=3), st.lists(NOISE, min_size=1, max_size=4), st.data())
def test_redacted_text_never_contains_a_secret(secrets, pieces, data):
    """Whatever surrounds it, and even where the marker and its neighbours would spell
    the secret again (`ret]abcd` + `abcd`), no secret survives redaction."""
    text = ""
    for piece in pieces:
        text += piece + data.draw(st.sampled_from(secrets))
    red = Redactor(secrets)
    out = red.text(text)
    for secret in red.texts:
        assert secret not in out
    assert red.jsonable({text: [text]}) == {out: [out]}
