"""SARIF 2.1.0 and Markdown reports; the workflow files."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import jsonschema
import yaml

from mailinfra.engine import run_plan
from mailinfra.markdown import plan_to_markdown
from mailinfra.policyrun import Violation, run_policies
from mailinfra.sarif import plan_to_sarif, write_sarif
from tests.test_policies_helpers import make_plan

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "tests" / "data" / "sarif-schema-2.1.0.json").read_text())
FIXTURE = Path(__file__).parent / "fixtures" / "policy_programs" / "sender"


def _bad_plan():
    return make_plan(
        [
            {"type": "aws:sesv2/configurationSet:ConfigurationSet", "name": "cs", "props": {}},
            {"type": "aws:kms/key:Key", "name": "k", "props": {"enableKeyRotation": True}},
        ],
        stack="prod",
    )


def test_sarif_validates_and_maps_rules_and_levels() -> None:
    plan = _bad_plan()
    violations = run_policies(plan)
    stream = io.StringIO()
    write_sarif(plan, violations, stream)
    sarif = json.loads(stream.getvalue())
    jsonschema.validate(sarif, SCHEMA)
    run = sarif["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert (
        "ses-configuration-set-tls-required" in rules and "REQUIRE" in rules["ses-configuration-set-tls-required"]["help"]["text"]
    )
    assert len(run["results"]) == len(violations) > 0
    for result in run["results"]:
        assert result["level"] in ("error", "warning")
        assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["locations"][0]["logicalLocations"][0]["fullyQualifiedName"].startswith(("urn:pulumi:", "stack:"))


def test_sarif_points_a_hand_written_resource_at_its_program_line() -> None:
    plan = run_plan(str(FIXTURE), "prod")
    violation = Violation(
        policy="spf-hard-fail",
        enforcement="mandatory",
        severity="medium",
        urn="urn:pulumi:prod::policyfixture::aws:route53/record:Record::spf",
        message="x",
        resource_name="mail-example-com-spf",
    )
    sarif = plan_to_sarif(plan, [violation], project_dir=str(FIXTURE))
    jsonschema.validate(sarif, SCHEMA)
    location = sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    # The sender program registers its records itself: the SDK's sourcePosition, not the stack file.
    assert location["artifactLocation"]["uri"].endswith("policy_programs/sender/__main__.py")
    lines = (FIXTURE / "__main__.py").read_text().splitlines()
    assert lines[location["region"]["startLine"] - 1].strip().startswith("aws.route53.Record(name,")


def test_sarif_of_a_clean_plan_is_valid() -> None:
    sarif = plan_to_sarif(make_plan([], stack="dev"), [])
    jsonschema.validate(sarif, SCHEMA)
    assert sarif["runs"][0]["results"] == []


def test_markdown_summary_is_bounded() -> None:
    plan = _bad_plan()
    many = [Violation("p", "advisory" if i % 2 else "mandatory", "low", f"urn:x::r{i}", f"message | {i}") for i in range(120)]
    text = plan_to_markdown(plan, many)
    assert "**60 mandatory**" in text and "60 advisory" in text
    assert text.count("\n| ") == 51  # header + 50 rows
    assert "_and 70 more_" in text and "message \\| " in text
    assert "✅ passes" in plan_to_markdown(plan, [])


def _workflow(name: str) -> dict:
    data = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads `on` as True
    return data


def test_preview_workflow() -> None:
    wf = _workflow("preview.yml")
    assert "pull_request" in wf["on"]
    job = next(iter(wf["jobs"].values()))
    assert [e["stack"] for e in job["strategy"]["matrix"]["include"]][:3] == ["dev", "staging", "prod"]
    assert wf["permissions"] == {} and job["permissions"]["id-token"] == "write"  # per job (test_workflows_lint)
    steps = {s.get("uses", "").split("@")[0]: s for s in job["steps"]}
    pulumi_step = steps["pulumi/actions"]
    assert re.fullmatch(r"pulumi/actions@[0-9a-f]{40}", pulumi_step["uses"])  # pinned (test_workflows_lint)
    assert pulumi_step["with"]["command"] == "preview" and pulumi_step["with"]["comment-on-pr"] is True
    assert "policies" in str(pulumi_step["with"]["policyPacks"])
    assert "aws-actions/configure-aws-credentials" in steps
    assert "PULUMI_ACCESS_TOKEN" in pulumi_step["env"] and "CLOUDFLARE_API_TOKEN" in pulumi_step["env"]


def test_policy_workflow() -> None:
    wf = _workflow("policy.yml")
    assert {"pull_request", "push"} <= set(wf["on"])
    job = next(iter(wf["jobs"].values()))
    assert [e["stack"] for e in job["strategy"]["matrix"]["include"]][:3] == ["dev", "staging", "prod"]
    text = yaml.safe_dump(job, width=10**6)
    assert "mailinfra plan --stack" in text and "--format sarif" in text and "GITHUB_STEP_SUMMARY" in text
    upload = next(s for s in job["steps"] if s.get("uses", "").startswith("github/codeql-action/upload-sarif"))
    assert upload["if"].startswith("always()") and "matrix.stack" in upload["with"]["category"]
    assert job["permissions"]["security-events"] == "write"
