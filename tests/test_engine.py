"""Offline plan engine: project/stack loading, recording, secrets, unknowns, renderers."""

from __future__ import annotations

import io
import json
import os
import sys

import pytest

from mailinfra.engine import Plan, PlannedResource, ProgramError, run_plan
from mailinfra.project import ProjectError, load_project, load_stack_config
from mailinfra.planformat import SECRET_SIG, SIG_KEY, UNKNOWN_SENTINEL, placeholder_view
from mailinfra.render import plan_document, plan_to_dict, plan_to_json, plan_to_text
from mailinfra.values import UNKNOWN, Secret, to_jsonable

PROGRAMS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "programs")
AWS = os.path.join(PROGRAMS, "aws_basic")
GENERIC = os.path.join(PROGRAMS, "generic")
FAILING = os.path.join(PROGRAMS, "failing")
SUBDIR = os.path.join(PROGRAMS, "subdir_main")


def one(plan: Plan, type_: str, name: str) -> PlannedResource:
    found = [r for r in plan.resources if r.type == type_ and r.name == name]
    assert len(found) == 1, [(r.type, r.name) for r in plan.resources]
    return found[0]


SECRET_MARKER = {SIG_KEY: SECRET_SIG}


def json_text(plan: Plan, violations: list | None = None) -> str:
    buf = io.StringIO()
    plan_to_json(plan, buf, violations)
    return buf.getvalue()


@pytest.fixture(scope="module")
def aws_dev() -> Plan:
    return run_plan(AWS, "dev")


@pytest.fixture(scope="module")
def generic_alpha() -> Plan:
    return run_plan(GENERIC, "alpha")


# --- values ------------------------------------------------------------------------------


def test_values_markers_never_reveal():
    s = Secret("hunter2")
    assert repr(s) == str(s) == f"{s}" == f"{s:>3}" == "[secret]"
    assert "hunter2" not in repr([s, {"k": s}])
    assert s.reveal() == "hunter2"
    assert repr(UNKNOWN) == "[unknown]"
    assert to_jsonable({"a": [UNKNOWN, s], "b": (1, None)}) == {"a": ["[unknown]", "[secret]"], "b": [1, None]}


# --- project and stack config ------------------------------------------------------------


def test_stack_config_dir_is_honoured():
    project = load_project(AWS)
    assert project.name == "fixture-aws"
    assert project.stack_config_dir == os.path.join(AWS, "stacks")
    cfg = load_stack_config(project, "dev")
    assert cfg.file == os.path.join(AWS, "stacks", "Pulumi.dev.yaml")
    assert cfg.config["aws:region"] == "eu-west-1"
    assert cfg.config["fixture-aws:domains"] == ["mail.example.com"]  # bare key -> project namespace
    assert json.loads(cfg.engine_config["fixture-aws:domains"]) == ["mail.example.com"]
    assert cfg.engine_config["fixture-aws:protect"] == "false"


def test_stack_file_next_to_pulumi_yaml_without_stack_config_dir():
    project = load_project(GENERIC)
    assert project.runtime == "python"  # runtime given as a mapping
    cfg = load_stack_config(project, "alpha")
    assert cfg.file == os.path.join(GENERIC, "Pulumi.alpha.yaml")
    settings = cfg.config["fixture-generic:settings"]
    assert settings == {"size": 3, "tags": ["a", "b"], "window": "10:30", "enabled": "yes"}  # YAML 1.2 scalars


def test_secure_values_become_secret_placeholders():
    cfg = load_stack_config(load_project(AWS), "dev")
    assert isinstance(cfg.config["fixture-aws:apiToken"], Secret)
    assert isinstance(cfg.config["fixture-aws:settings"]["smtp"]["password"], Secret)
    assert cfg.config["fixture-aws:settings"]["smtp"]["user"] == "sender"
    assert cfg.secret_keys == ["fixture-aws:apiToken", "fixture-aws:settings"]
    assert cfg.engine_config["fixture-aws:apiToken"] == "mock-secret-apiToken"
    assert "CIPHERTEXT" not in json.dumps(cfg.engine_config)


def test_missing_stack_lists_available_stacks():
    with pytest.raises(ProjectError) as err:
        run_plan(FAILING, "nosuch")
    msg = str(err.value)
    assert "Pulumi.nosuch.yaml" in msg
    for stack in ("apply", "coded", "config", "crash", "missing", "run"):
        assert stack in msg


def test_missing_pulumi_yaml(tmp_path):
    with pytest.raises(ProjectError, match="Pulumi.yaml"):
        run_plan(str(tmp_path), "dev")


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text("name: p\nruntime: python\n")
    (tmp_path / "__main__.py").write_text("")
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  a: [1, 2\n  b: 3\n")
    with pytest.raises(ProjectError) as err:
        run_plan(str(tmp_path), "dev")
    assert f"{tmp_path / 'Pulumi.dev.yaml'}:" in str(err.value)
    assert "YAML syntax error" in str(err.value)


def test_config_not_a_mapping(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text("name: p\nruntime: python\n")
    (tmp_path / "__main__.py").write_text("")
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  - a\n  - b\n")
    with pytest.raises(ProjectError, match=r"Pulumi\.dev\.yaml: config: expected a mapping"):
        run_plan(str(tmp_path), "dev")


def test_main_subdirectory_cwd_and_local_imports():
    plan = run_plan(SUBDIR, "only")
    assert plan.outputs == {"cwd": "src", "greeting": "HELLO!", "rootDirectory": "subdir_main"}
    assert "lib" not in sys.modules  # the program's own modules are dropped afterwards


# --- recording ---------------------------------------------------------------------------


def test_parent_protect_and_dependencies(aws_dev):
    bundle = one(aws_dev, "fixture:index:Bundle", "mail-example-com")
    key = one(aws_dev, "aws:kms/key:Key", "mail-example-com-key")
    alias = one(aws_dev, "aws:kms/alias:Alias", "mail-example-com-alias")
    version = one(aws_dev, "aws:secretsmanager/secretVersion:SecretVersion", "mail-example-com-secret-version")
    assert bundle.parent is None and bundle.custom is False
    assert bundle.urn == "urn:pulumi:dev::fixture-aws::fixture:index:Bundle::mail-example-com"
    assert key.parent == bundle.urn and key.custom is True
    assert key.urn == "urn:pulumi:dev::fixture-aws::fixture:index:Bundle$aws:kms/key:Key::mail-example-com-key"
    assert key.options["protect"] is False  # dev
    assert key.options["ignoreChanges"] == ["description"]
    assert key.inputs["deletionWindowInDays"] == 30 and key.inputs["enableKeyRotation"] is True
    assert alias.dependencies == [key.urn]
    assert alias.property_dependencies["targetKeyId"] == [key.urn]
    assert alias.urn in version.dependencies  # depends_on


def test_protect_from_stack_config():
    plan = run_plan(AWS, "prod")
    keys = plan.by_type("aws:kms/key:Key")
    assert len(keys) == 2 and all(k.options["protect"] for k in keys)


def test_unknown_outputs_stay_unknown_in_preview(aws_dev):
    alias = one(aws_dev, "aws:kms/alias:Alias", "mail-example-com-alias")
    key = one(aws_dev, "aws:kms/key:Key", "mail-example-com-key")
    assert alias.inputs["targetKeyId"] is UNKNOWN
    assert key.outputs["arn"] is UNKNOWN and key.outputs["id"] is UNKNOWN
    assert aws_dev.outputs["keyArns"] == [UNKNOWN]
    assert aws_dev.outputs["aliasNames"] == ["alias/mail-example-com"]  # inputs are known
    assert f'"targetKeyId": "{UNKNOWN_SENTINEL}"' in json_text(aws_dev)  # the engine's unknown marker
    assert any(r["inputs"].get("targetKeyId") == "[unknown]" for r in plan_to_dict(aws_dev)["resources"])


def test_outputs_resolve_when_not_preview():
    plan = run_plan(AWS, "dev", preview=False)
    (arn,) = plan.outputs["keyArns"]
    assert arn.startswith("arn:aws:kms:eu-west-1:123456789012:key/")
    alias = one(plan, "aws:kms/alias:Alias", "mail-example-com-alias")
    assert alias.inputs["targetKeyId"] == arn


def test_stack_outputs_and_invokes(aws_dev):
    out = aws_dev.outputs
    assert out["domainCount"] == 1
    assert out["region"] == "eu-west-1"
    assert out["account"] == "123456789012"
    assert isinstance(out["apiToken"], Secret)
    tokens = [i.token for i in aws_dev.invokes]
    assert "aws:route53/getZone:getZone" in tokens and "aws:index/getCallerIdentity:getCallerIdentity" in tokens
    zone = next(i for i in aws_dev.invokes if i.token == "aws:route53/getZone:getZone")
    assert zone.args == {"name": "example.com"} and zone.result["name"] == "example.com"
    record = one(aws_dev, "aws:route53/record:Record", "mail-example-com-spf")
    assert record.inputs["zoneId"] == zone.result["zoneId"]
    bundle = one(aws_dev, "fixture:index:Bundle", "mail-example-com")
    assert bundle.outputs == {"keyArn": UNKNOWN, "zoneId": zone.result["zoneId"]}  # register_outputs


def test_all_resource_options_captured(generic_alpha):
    first = one(generic_alpha, "test:index:Thing", "first")
    provider = one(generic_alpha, "pulumi:providers:test", "explicit")
    o = first.options
    assert o["protect"] and o["retainOnDelete"] and o["deleteBeforeReplace"]
    assert o["replaceOnChanges"] == ["size"] and o["ignoreChanges"] == ["tags"]
    assert o["customTimeouts"] == {"create": "5m", "delete": "1h"}
    assert o["additionalSecretOutputs"] == ["label"]
    assert o["aliases"] and o["aliases"][0]["name"] == "old-first"
    assert o["provider"].startswith(provider.urn + "::")
    assert isinstance(first.outputs["label"], Secret)  # additionalSecretOutputs honoured
    assert first.inputs["label"] == "first"


def test_secrets_never_reach_json_or_text(generic_alpha, aws_dev):
    second = one(generic_alpha, "test:index:Thing", "second")
    assert isinstance(second.inputs["password"], Secret)
    assert isinstance(second.inputs["literal"], Secret)
    assert isinstance(second.inputs["nested"]["inner"], Secret)  # secret stays at its leaf
    assert second.inputs["nested"]["plain"] == "visible"
    assert isinstance(generic_alpha.config["fixture-generic:dbPassword"], Secret)
    assert generic_alpha.outputs["passwordLength"] == Secret(len("mock-secret-dbPassword"))
    for plan in (generic_alpha, aws_dev):
        for text in (json_text(plan), plan_to_text(plan)):
            for leak in ("hunter2", "mock-secret", "CIPHERTEXT"):
                assert leak not in text
    doc = json.loads(json_text(generic_alpha))
    second_doc = next(r for r in doc["resources"] if r["name"] == "second")
    assert second_doc["inputs"]["password"] == SECRET_MARKER  # typed marker, no value
    assert doc["outputs"]["password"] == SECRET_MARKER
    assert doc["config"]["fixture-generic:dbPassword"] == SECRET_MARKER
    view = plan_to_dict(generic_alpha)
    assert next(r for r in view["resources"] if r["name"] == "second")["inputs"]["password"] == "[secret]"


# --- programs that fail -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("stack", "message"),
    [
        ("config", "domains[0].name: not a domain name (got 'not a domain')"),
        ("run", "the relay needs at least one domain"),
        ("coded", "coded failure with a second line"),
        ("missing", "Missing required configuration variable 'fixture-failing:domains'"),
    ],
)
def test_expected_program_errors_are_one_line(stack, message):
    with pytest.raises(ProgramError) as err:
        run_plan(FAILING, stack)
    assert err.value.expected is True
    assert err.value.message.startswith(message)
    assert "\n" not in err.value.message and "Traceback" not in err.value.message
    assert err.value.exit_code == 2


@pytest.mark.parametrize(("stack", "where"), [("crash", "KeyError"), ("apply", "ZeroDivisionError")])
def test_unexpected_program_errors_carry_traceback(stack, where):
    with pytest.raises(ProgramError) as err:
        run_plan(FAILING, stack)
    assert err.value.expected is False
    assert where in err.value.message and "\n" not in err.value.message
    assert err.value.traceback.startswith("Traceback") and where in err.value.traceback


def test_failed_run_restores_process_state():
    cwd, path = os.getcwd(), list(sys.path)
    with pytest.raises(ProgramError):
        run_plan(FAILING, "crash")
    assert os.getcwd() == cwd and sys.path == path
    assert "checks" not in sys.modules


# --- isolation ---------------------------------------------------------------------------


def test_two_plans_in_one_process_are_independent():
    dev = run_plan(AWS, "dev")
    prod = run_plan(AWS, "prod")
    again = run_plan(AWS, "dev")
    assert dev.stack == "dev" and prod.stack == "prod"
    assert dev.outputs["runs"] == prod.outputs["runs"] == 1  # helpers module reloaded each time
    assert prod.outputs["region"] == "eu-central-1" and dev.outputs["region"] == "eu-west-1"
    assert len(dev.resources) == 6 and len(prod.resources) == 12
    assert all(":prod::" in r.urn for r in prod.resources)
    assert [r.urn for r in again.resources] == [r.urn for r in dev.resources]
    assert json_text(again) == json_text(dev)
    other = run_plan(GENERIC, "beta")
    assert "fixture-generic:label" not in other.config
    assert one(other, "test:index:Thing", "first").inputs["size"] == 7


def test_plan_after_pulumi_mocks_fixture(pulumi_mocks):
    """A plan leaves a test's own mock runtime alone, and works inside one."""
    import pulumi

    plan = run_plan(GENERIC, "beta")
    assert plan.outputs["size"] == 7
    assert pulumi.get_stack() == "dev" and pulumi.get_project() == "mailinfra"


# --- renderers ---------------------------------------------------------------------------


def test_json_shape_matches_contract(aws_dev):
    violation = {
        "policy": "kms-rotation",
        "enforcement": "mandatory",
        "severity": "high",
        "urn": aws_dev.resources[0].urn,
        "message": "rotate",
        "extra": 1,
    }
    doc = json.loads(json_text(aws_dev, [violation]))
    assert list(doc) == ["formatVersion", "stack", "project", "preview", "config", "resources", "violations", "outputs"]
    assert doc["formatVersion"] == 2 and doc["stack"] == "dev" and doc["project"] == "fixture-aws"
    assert doc["violations"] == [{k: violation[k] for k in ("policy", "enforcement", "severity", "urn", "message")}]
    for res in doc["resources"]:
        assert list(res) == [
            "urn", "type", "name", "parent", "custom", "inputs", "outputs", "dependencies", "propertyDependencies", "options"
        ]  # fmt: skip
        assert "protect" in res["options"]
    assert doc == plan_document(aws_dev, [violation])
    # the in-process view (zone export, verify) is what load_plan_file makes of the file
    assert placeholder_view({k: doc[k] for k in ("stack", "project", "violations", "outputs")}) == {
        k: v for k, v in plan_to_dict(aws_dev, [violation]).items() if k != "resources"
    }
    empty = json.loads(json_text(Plan("p", "s", {}, [], {})))
    assert empty["resources"] == [] and empty["violations"] == [] and empty["outputs"] == {}


def test_text_tree(aws_dev):
    text = plan_to_text(
        aws_dev, [{"policy": "p-1", "enforcement": "advisory", "severity": "low", "urn": "urn:x", "message": "hello"}]
    )
    lines = text.splitlines()
    assert "+ pulumi:pulumi:Stack fixture-aws-dev" in lines
    assert "  + fixture:index:Bundle mail-example-com" in lines
    assert "    + aws:route53/record:Record mail-example-com-spf" in lines
    assert '          records: ["v=spf1 -all"]' in lines
    assert "          targetKeyId: [unknown]" in lines
    assert "          secretString: [secret]" in lines
    assert "    apiToken: [secret]" in lines
    assert "[advisory] p-1 (low)" in text and "hello" in text
    assert lines[-2] == "6 resources to create"
    assert lines[-1] == "Verdict: passes with advisories (0 mandatory, 1 advisory violation)"


def test_auto_names_differ_between_stacks_and_repeat_within_one():
    # Pulumi ends an auto-name in random characters, so two stacks (a fleet's shards, each
    # with its own `smtp-platform-1` user) never declare the same physical name.
    import pulumi

    from mailinfra.mockstate import MockState

    def autoname(stack: str) -> str:
        args = pulumi.runtime.MockResourceArgs(
            typ="aws:iam/user:User", name="smtp-platform-1-user", inputs={}, provider=None, resource_id=None, custom=True
        )
        _, state = MockState(preview=True, stack=stack).new_resource(args)
        return state["name"]

    a, b = autoname("fleet-shard-0"), autoname("fleet-shard-1")
    assert a != b and a.startswith("smtp-platform-1-user-") and b.startswith("smtp-platform-1-user-")
    assert autoname("fleet-shard-0") == a  # deterministic: the same plan twice is byte-identical
