"""SARIF that GitHub code scanning uses well (issue 13, item 5): security-severity per
rule, fingerprints that survive a changed value, results at the stack key or program
line that caused them, helpUri to the README catalogue, the upload's category."""

from __future__ import annotations

import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from mailinfra.components.config import config_keys
from mailinfra import sarif as sarif_module
from mailinfra.engine import run_plan
from mailinfra.policyrun import Violation, run_policies
from mailinfra.sarif import FINGERPRINT, fingerprint, help_uri, plan_to_sarif, repository_url
from mailinfra.policies.mailinfra_policy import ALL, SEVERITY
from tests.error_contract import SARIF_SCHEMA, make_project
from tests.test_policies_helpers import make_plan

ROOT = Path(__file__).resolve().parent.parent
SENDER = ROOT / "tests" / "fixtures" / "policy_programs" / "sender"
BANDS = {"critical": (9.0, 10.0), "high": (7.0, 8.9), "medium": (5.0, 5.9), "low": (3.0, 3.9)}
GITHUB_ENV = ("MAILINFRA_REPOSITORY_URL", "GITHUB_REPOSITORY", "GITHUB_SERVER_URL", "GITHUB_SHA")


@pytest.fixture
def no_github(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in GITHUB_ENV:
        monkeypatch.delenv(name, raising=False)


def _rules(sarif: dict) -> dict[str, dict]:
    return {r["id"]: r for r in sarif["runs"][0]["tool"]["driver"]["rules"]}


def test_every_rule_has_a_security_severity_in_its_registered_band(no_github: None) -> None:
    rules = _rules(plan_to_sarif(make_plan([], stack="prod"), []))
    assert set(rules) == {p.name for p in ALL}
    for name, rule in rules.items():
        severity = SEVERITY[name].value  # the pack's registry (common.py)
        low, high = BANDS[severity]
        value = rule["properties"]["security-severity"]
        assert low < float(value) <= high or (severity != "critical" and float(value) == low), (name, value)
        assert "security" in rule["properties"]["tags"]  # what makes code scanning read it


def _violation(
    message: str, urn: str = "urn:pulumi:prod::p::aws:kms/key:Key::k", policy: str = "kms-deletion-window"
) -> Violation:
    return Violation(policy, "mandatory", "medium", urn, message)


def test_fingerprint_survives_a_changed_value_but_not_another_resource() -> None:
    before = fingerprint(_violation("deletionWindowInDays is 7, below the minimum 30 ('alias/a')"), "prod")
    after = fingerprint(_violation("deletionWindowInDays is 10, below the minimum 30 ('alias/b')"), "prod")
    assert before == after
    assert fingerprint(_violation("x 7", urn="urn:pulumi:prod::p::aws:kms/key:Key::other"), "prod") != fingerprint(
        _violation("x 7"), "prod"
    )
    assert fingerprint(_violation("x 7", policy="kms-key-protected"), "prod") != fingerprint(_violation("x 7"), "prod")
    assert fingerprint(_violation("DMARC tag 'p' is 'none'"), "prod") != fingerprint(_violation("SPF ends in '~all'"), "prod")
    # stack-wide violations: one per stack
    assert fingerprint(_violation("m", urn=""), "prod") != fingerprint(_violation("m", urn=""), "dev")


def test_sarif_fingerprints_equal_for_two_runs_differing_in_a_value(no_github: None) -> None:
    plan = make_plan([], stack="prod")
    one = plan_to_sarif(plan, [_violation("DMARC tag 'p' is 'none', weaker than the required 'quarantine'")])
    two = plan_to_sarif(plan, [_violation("DMARC tag 'p' is 'quarantine', weaker than the required 'reject'")])
    (a,), (b,) = one["runs"][0]["results"], two["runs"][0]["results"]
    assert a["partialFingerprints"] == b["partialFingerprints"] and set(a["partialFingerprints"]) == {FINGERPRINT}
    assert re.fullmatch(r"[0-9a-f]{64}", a["partialFingerprints"][FINGERPRINT])


def _result_line(sarif: dict, policy: str, project: Path) -> tuple[str, str]:
    result = next(r for r in sarif["runs"][0]["results"] if r["ruleId"] == policy)
    location = result["locations"][0]["physicalLocation"]
    uri, line = location["artifactLocation"]["uri"], location["region"]["startLine"]
    path = project / "stacks" / Path(uri).name if uri.endswith(".yaml") else Path(uri)
    return uri, path.read_text().splitlines()[line - 1].strip()


def test_a_component_violation_points_at_the_violated_stack_key(tmp_path: Path, no_github: None) -> None:
    project = make_project(tmp_path / "proj", ("prod",))
    stack = project / "stacks" / "Pulumi.prod.yaml"
    text = stack.read_text()
    marker = "      dmarc:\n        rua: [mailto:dmarc@example.org]"
    assert marker in text
    stack.write_text(text.replace(marker, "      dmarc:\n        policy: none\n        rua: [mailto:dmarc@example.org]"))
    plan = run_plan(str(project), "prod")
    sarif = plan_to_sarif(plan, run_policies(plan), project_dir=str(project))
    jsonschema.validate(sarif, SARIF_SCHEMA)
    uri, line = _result_line(sarif, "dmarc-enforcing", project)
    assert uri.endswith("stacks/Pulumi.prod.yaml") and line == "policy: none"  # not "- name: news.example.org"


def test_a_default_the_domain_inherits_points_at_domain_defaults(tmp_path: Path, no_github: None) -> None:
    project = make_project(tmp_path / "proj", ("prod",))
    stack = project / "stacks" / "Pulumi.prod.yaml"
    data = yaml.safe_load(stack.read_text())
    config = data["config"]
    config["mailinfra:domainDefaults"]["dmarc"]["policy"] = "none"
    for domain in config["mailinfra:domains"]:
        domain.pop("bimi", None)  # BIMI needs an enforcing DMARC (a config error otherwise)
    stack.write_text(yaml.safe_dump(data, sort_keys=False))
    plan = run_plan(str(project), "prod")
    sarif = plan_to_sarif(plan, run_policies(plan), project_dir=str(project))
    results = [r for r in sarif["runs"][0]["results"] if r["ruleId"] == "dmarc-enforcing"]
    assert len(results) == 2
    lines = stack.read_text().splitlines()
    defaults = lines.index("  mailinfra:domainDefaults:") + 1
    end = next(n for n in range(defaults + 1, len(lines) + 1) if re.match(r"  \S", lines[n - 1]))
    for result in results:
        number = result["locations"][0]["physicalLocation"]["region"]["startLine"]
        assert lines[number - 1].strip() == "policy: none" and defaults < number < end
    assert len({r["partialFingerprints"][FINGERPRINT] for r in results}) == 2  # two resources, two alerts


def test_the_engine_records_where_the_program_registered_each_resource() -> None:
    plan = run_plan(str(SENDER), "prod")
    key = plan.get("urn:pulumi:prod::policyfixture::aws:kms/key:Key::data-key")
    assert key is not None and key.source is not None
    path, line = key.source
    assert Path(path) == SENDER / "__main__.py"
    assert (SENDER / "__main__.py").read_text().splitlines()[line - 1].startswith("data_key = aws.kms.Key(")


def test_a_hand_written_resource_points_at_its_program_line(no_github: None) -> None:
    plan = run_plan(str(SENDER), "prod")
    found = _violation(
        "not protected", urn="urn:pulumi:prod::policyfixture::aws:kms/key:Key::dnssec-ksk", policy="kms-key-protected"
    )
    sarif = plan_to_sarif(plan, [found], project_dir=str(SENDER))
    jsonschema.validate(sarif, SARIF_SCHEMA)
    uri, line = _result_line(sarif, "kms-key-protected", SENDER)
    assert uri.endswith("sender/__main__.py") and line.startswith("ksk = aws.kms.Key(")


def test_violated_keys_are_keys_of_the_config_model() -> None:
    sections = {p.name: p.config_section for p in ALL}
    keys = config_keys()
    for policy, key in sarif_module._KEYS.items():
        assert policy in sections, policy
        prefix = "mailinfra:domains[]" if sections[policy] == "domains" else f"mailinfra:{sections[policy]}"
        assert f"{prefix}.{key}" in keys, (policy, key)


def test_help_uri_to_the_readme_catalogue(monkeypatch: pytest.MonkeyPatch, no_github: None) -> None:
    assert repository_url({}) is None and help_uri(None) is None
    assert "helpUri" not in next(iter(_rules(plan_to_sarif(make_plan([], stack="dev"), [])).values()))
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.example.com")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/mail")
    monkeypatch.setenv("GITHUB_SHA", "0123abc")
    rules = _rules(plan_to_sarif(make_plan([], stack="dev"), []))
    assert {r["helpUri"] for r in rules.values()} == {"https://github.example.com/acme/mail/blob/0123abc/README.md#catalogue"}
    monkeypatch.setenv("MAILINFRA_REPOSITORY_URL", "https://git.example.org/mail/")
    monkeypatch.delenv("GITHUB_SHA")
    assert help_uri(repository_url()) == "https://git.example.org/mail/blob/main/README.md#catalogue"
    # the anchor exists (GitHub's slug of the "### Catalogue" heading) and lists every rule
    readme = (ROOT / "README.md").read_text()
    assert re.search(r"^### Catalogue$", readme, re.M)
    catalogue = readme.split("### Catalogue", 1)[1].split("\n## ", 1)[0]
    assert all(f"`{name}`" in catalogue for name in rules)


def test_the_upload_category_names_the_analysis() -> None:
    """upload-sarif ignores `category` when the SARIF sets automationDetails.id: we set
    none, so each stack's category (policy.yml) is the analysis' identity."""
    sarif = plan_to_sarif(make_plan([], stack="prod"), [])
    assert all("automationDetails" not in run for run in sarif["runs"])
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "policy.yml").read_text())
    categories = []
    for name, key in (("plan", "stack"), ("fleet", "core")):  # a stack's analysis, a whole fleet's
        job = workflow["jobs"][name]
        uploads = [s for s in job["steps"] if s.get("uses", "").startswith("github/codeql-action/upload-sarif")]
        assert len(uploads) == 1 and f"${{{{ matrix.{key} }}}}" in uploads[0]["with"]["category"]
        assert f"${{{{ matrix.{key} }}}}" in uploads[0]["with"]["sarif_file"]
        categories.append(uploads[0]["with"]["category"].replace(f"${{{{ matrix.{key} }}}}", "X"))
    assert len(set(categories)) == 2  # the fleet's analysis never replaces a stack's
