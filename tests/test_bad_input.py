"""Bad input ends in exit 2 and one line naming the file, key or JSON path (issue 12).

Class 1 (tracebacks): YAML alias bombs, deep nesting, `--output` to a full or unwritable
place, hand-edited `verify --plan` files. Class 2 (silently accepted): duplicate keys, a
misspelled namespace. The property tests are in test_error_contract_props.py.
"""

from __future__ import annotations

import json
import os
import resource
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailinfra import planfile
from mailinfra.outfile import OutputError, atomic_output, check_writable
from mailinfra.planfile import PlanFileError, check_plan, load_json, load_plan_file
from mailinfra.project import ProjectError, _one_edit, load_project, load_stack_config
from mailinfra.policies.mailinfra_policy import providers
from tests.error_contract import (
    ROOT,
    STACKS,
    assert_input_error,
    cli,
    cli_process,
    make_project,
    real_plan_json,
    write_stack,
)

DEV = (STACKS / "Pulumi.dev.yaml").read_text()
# A small program (no provider packages): the --output tests run it as a separate process.
SMALL = ("--stack", "alpha", "--project", str(ROOT / "tests" / "fixtures" / "programs" / "generic"), "--no-policies")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_project(tmp_path_factory.mktemp("bad-input"), stacks=("dev",))


def _load(project: Path, name: str, text: str):
    write_stack(project, name, text)
    return load_stack_config(load_project(str(project)), name)


def _refused(project: Path, name: str, text: str) -> str:
    with pytest.raises(ProjectError) as err:
        _load(project, name, text)
    message = str(err.value)
    assert "\n" not in message and str(project / "stacks" / f"Pulumi.{name}.yaml") in message
    return message


def _laughs(levels: int = 9) -> str:
    lines = ['  mailinfra:lol0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"  mailinfra:lol{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]")
    return DEV + "\n".join(lines) + "\n"


# --- class 1: alias bombs and deep nesting ---------------------------------------------


def test_alias_bomb_is_refused_at_once(project):
    start = time.monotonic()
    message = _refused(project, "bomb", _laughs())
    assert time.monotonic() - start < 2  # the old loader expanded it for 100+ s, then MemoryError
    assert "excessive aliasing" in message


def test_merge_key_bomb_is_refused(project):
    lines = ["  mailinfra:m0: &m0 {a: 1, b: 2, c: 3}"]
    for i in range(1, 12):
        merges = ", ".join([f"*m{i - 1}"] * 6)
        lines.append(f"  mailinfra:m{i}: &m{i} {{<<: [{merges}], k{i}: 1}}")
    assert "excessive aliasing" in _refused(project, "mergebomb", DEV + "\n".join(lines) + "\n")


def test_a_few_aliases_are_fine(project):
    text = DEV.replace("  mailinfra:keys:", "  mailinfra:relay: &relay {maxDeliverySeconds: 3600}\n  mailinfra:keys:")
    text += "  app:copy: *relay\n"
    cfg = _load(project, "aliases", text)
    assert cfg.config["app:copy"] == {"maxDeliverySeconds": 3600}


def test_alias_bomb_through_the_cli_exits_2_naming_the_file(project):
    write_stack(project, "bomb", _laughs())
    start = time.monotonic()
    out = cli("plan", "--stack", "bomb", "--project", str(project))
    assert time.monotonic() - start < 10
    assert_input_error(out, "Pulumi.bomb.yaml", "excessive aliasing")


def test_recursive_alias_is_refused(project):
    assert "recursive" in _refused(project, "loop", DEV + "  mailinfra:loop: &x [1, *x]\n")


@pytest.mark.parametrize(
    ("label", "value"),
    [
        ("flow lists", "[" * 10_000 + "]" * 10_000),
        ("flow maps", "{a: " * 5_000 + "1" + "}" * 5_000),
    ],
)
def test_deep_nesting_is_refused_not_a_recursion_error(project, label, value):
    message = _refused(project, "deep", DEV + f"  mailinfra:deep: {value}\n")
    assert "nested deeper than 64 levels" in message and "Pulumi.deep.yaml:" in message  # with its line


def test_deep_block_nesting_is_refused(project):
    body = "".join("  " * (i + 2) + f"k{i}:\n" for i in range(200))
    assert "nested deeper" in _refused(project, "deepblock", DEV + "  mailinfra:deep:\n" + body)


def test_deep_nesting_through_chained_aliases_is_refused(project):
    lines = ["  mailinfra:a0: &a0 [1]"] + [f"  mailinfra:a{i}: &a{i} [*a{i - 1}]" for i in range(1, 100)]
    assert "through aliases" in _refused(project, "chain", DEV + "\n".join(lines) + "\n")


def test_deep_json_string_value_exits_2_naming_the_key(project):
    """A stack-file string that is deep JSON: the program decodes it (objects arrive as
    JSON): that was RecursionError inside the program."""
    write_stack(project, "deepjson", DEV + "  mailinfra:relay: '" + "[" * 10_000 + "]" * 10_000 + "'\n")
    line = assert_input_error(cli("plan", "--stack", "deepjson", "--project", str(project)), "mailinfra.relay")
    assert "Recursion" not in line and "program failed" not in line


def test_huge_integer_and_infinity_are_refused(project):
    assert "digits" in _refused(project, "bigint", DEV + "  app:n: " + "9" * 5000 + "\n")
    assert "not a finite number" in _refused(project, "inf", DEV + "  app:n: {x: .inf}\n")


def test_pulumi_yaml_is_read_with_the_same_limits(tmp_path):
    (tmp_path / "__main__.py").write_text("")
    (tmp_path / "Pulumi.yaml").write_text("name: p\nname: q\nruntime: python\n")
    with pytest.raises(ProjectError, match=r"Pulumi\.yaml:2: duplicate key 'name' \(first defined at line 1\)"):
        load_project(str(tmp_path))


# --- class 2: duplicate keys, misspelled namespaces -------------------------------------


def test_duplicate_config_key_is_refused_naming_key_and_lines(project):
    message = _refused(project, "dup", DEV + "  mailinfra:owner: someone-else\n")
    lines = DEV.splitlines()
    first = next(i for i, line in enumerate(lines, 1) if line.startswith("  mailinfra:owner:"))
    assert f"Pulumi.dup.yaml:{len(lines) + 1}: duplicate key 'mailinfra:owner' (first defined at line {first})" in message


@pytest.mark.parametrize(
    "text",
    [
        DEV.replace("      spf:\n", "      ttl: 300\n      ttl: 600\n      spf:\n"),  # nested block mapping
        DEV + "  mailinfra:relay: {maxDeliverySeconds: 600, maxDeliverySeconds: 900}\n",  # flow, one line
        DEV + "config:\n  aws:region: eu-west-1\n",  # the top-level key
    ],
    ids=["nested", "flow", "top-level"],
)
def test_duplicate_keys_anywhere_are_refused(project, text):
    assert "duplicate key" in _refused(project, "dup2", text)


def test_merge_keys_may_override(project):
    text = DEV + "  app:base: &b {a: 1, b: 2}\n  app:derived: {<<: *b, b: 3}\n"
    assert _load(project, "merge", text).config["app:derived"] == {"a": 1, "b": 3}


@pytest.mark.parametrize("namespace", ["mailinfr", "mailinfraa", "mialinfra", "Mailinfra", "mailinfrx"])
def test_namespace_one_edit_from_the_project_is_refused(project, namespace):
    message = _refused(project, "typo", DEV + f"  {namespace}:relay: {{}}\n")
    assert f"{namespace}:relay: unknown namespace {namespace!r}" in message
    assert "did you mean mailinfra:relay?" in message
    assert f"Pulumi.typo.yaml:{len(DEV.splitlines()) + 1}:" in message


def test_other_namespaces_are_accepted(project):
    text = DEV + "  cloudflare:apiToken:\n    secure: v1:Y2lwaGVydGV4dA==\n  pulumi:template: aws-python\n  myapp:x: 1\n"
    cfg = _load(project, "others", text)
    assert {"cloudflare:apiToken", "pulumi:template", "myapp:x", "aws:region"} <= set(cfg.config)


def test_misspelled_namespace_through_the_cli(project):
    write_stack(project, "typo", DEV + "  mailinfr:relay: {}\n")
    assert_input_error(cli("plan", "--stack", "typo", "--project", str(project)), "did you mean mailinfra:relay?")


WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12)


@settings(max_examples=200, derandomize=True, database=None)
@given(WORD, st.data())
def test_one_edit_property(word, data):
    """One insertion, deletion, substitution or swap is one edit; the word itself is not."""
    assert not _one_edit(word, word)
    op = data.draw(st.sampled_from(["insert", "delete", "substitute", "swap"]))
    i = data.draw(st.integers(0, len(word) - 1))
    char = data.draw(st.sampled_from("abcdefghijklmnopqrstuvwxyz-"))
    edited = {
        "insert": word[:i] + char + word[i:],
        "delete": word[:i] + word[i + 1 :],
        "substitute": word[:i] + char + word[i + 1 :],
        "swap": word[:i] + word[i + 1 : i + 2] + word[i : i + 1] + word[i + 2 :],
    }[op]
    assert _one_edit(edited, word) == (edited != word)
    assert _one_edit(word, edited) == (edited != word)
    assert not _one_edit(word, word + "xy") and not _one_edit(word + "xy", word)


# --- class 4 (project side): malformed secure entries never show what they hold ------------


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("{secure: 12345678}", "not a number"),
        ("{secure: {a: CIPHERTEXT-XYZ}}", "not a mapping"),
        ("{secure: [CIPHERTEXT-XYZ]}", "not a list"),
        ('{secure: ""}', "the ciphertext is empty"),
        ('{secure: "   "}', "the ciphertext is empty"),
        ("{secure: CIPHERTEXT-XYZ, note: x}", "the single key secure"),
    ],
)
def test_malformed_secure_value_names_the_key_and_hides_the_content(project, entry, reason):
    message = _refused(project, "badsecure", DEV.replace("mailinfra:owner: deliverability-team", f"mailinfra:owner: {entry}"))
    assert "mailinfra:owner: malformed secure value at owner" in message and reason in message
    assert "CIPHERTEXT" not in message and "12345678" not in message


def test_malformed_nested_secure_value_names_its_path(project):
    text = DEV.replace("    alias: mailinfra-dev\n", "    alias: mailinfra-dev\n    admins2: [{secure: 42}]\n")
    assert "malformed secure value at keys.admins2[0]" in _refused(project, "nestedsecure", text)


def test_a_plain_object_with_a_secure_setting_is_not_a_secret(project):
    cfg = _load(project, "securesetting", DEV + "  app:tls: {secure: true, port: 443}\n")
    assert cfg.config["app:tls"] == {"secure": True, "port": 443} and "app:tls" not in cfg.secret_keys


def test_malformed_secure_value_through_the_cli(project):
    write_stack(project, "badsecure", DEV.replace("mailinfra:owner: deliverability-team", "mailinfra:owner: {secure: ''}"))
    line = assert_input_error(cli("plan", "--stack", "badsecure", "--project", str(project)), "mailinfra:owner")
    assert "malformed secure value" in line


# --- class 1: verify --plan files edited by hand ---------------------------------------------


def _plan(*resources: dict) -> dict:
    return {"stack": "dev", "project": "mailinfra", "resources": list(resources), "violations": [], "outputs": {}}


def _record(provider: str, rtype: str, **inputs: object) -> dict:
    token = providers.adapter(provider).record_type
    return {"urn": f"urn:pulumi:dev::mailinfra::{token}::r", "type": token, "name": "r", "inputs": {"type": rtype, **inputs}}


GOOD_TXT = _record("route53", "TXT", name="example.com", records=['"v=spf1 -all"'], ttl=300, zoneId="Z1")
GOOD_MX = _record("route53", "MX", name="example.com", records=["10 mx.example.com"], ttl=300, zoneId="Z1")
GOOD_CF_MX = _record("cloudflare", "MX", name="example.com", content="mx.example.com", priority=10, ttl=1, zoneId="z")


@pytest.mark.parametrize(
    ("plan", "where", "says"),
    [
        (["not", "a", "plan"], None, "not a mailinfra JSON plan"),
        ({"resources": {"a": 1}}, "resources", "must be a list"),
        (_plan(GOOD_TXT, "a string"), "resources[1]", "must be a resource object"),
        (_plan({**GOOD_TXT, "inputs": [1, 2]}), "resources[0].inputs", "must be an object"),
        (_plan({**GOOD_TXT, "urn": 7}), "resources[0].urn", "must be a string"),
        (_plan({"type": "aws:s3/bucket:Bucket"}), "resources[0]", "has no urn"),
        (
            _plan(GOOD_MX, {**GOOD_TXT, "inputs": {**GOOD_TXT["inputs"], "records": [12]}}),
            "resources[1].inputs.records[0]",
            "a TXT value must be a string",
        ),
        (
            _plan({**GOOD_TXT, "inputs": {**GOOD_TXT["inputs"], "records": '"v=spf1 -all"'}}),
            "resources[0].inputs.records",
            "must be a list",
        ),
        (
            _plan({**GOOD_MX, "inputs": {**GOOD_MX["inputs"], "records": ["ten mx.example.com"]}}),
            "resources[0].inputs.records[0]",
            "number from 0 to 65535",
        ),
        (
            _plan({**GOOD_MX, "inputs": {**GOOD_MX["inputs"], "records": ["70000 mx.example.com"]}}),
            "resources[0].inputs.records[0]",
            "number from 0 to 65535",
        ),
        (
            _plan({**GOOD_MX, "inputs": {**GOOD_MX["inputs"], "records": ["\u00b2 mx.example.com"]}}),
            "resources[0].inputs.records[0]",
            "number from 0 to 65535",
        ),
        (
            _plan({**GOOD_CF_MX, "inputs": {**GOOD_CF_MX["inputs"], "priority": "ten"}}),
            "resources[0].inputs.priority",
            "an MX preference must be a whole number",
        ),
        (
            _plan({**GOOD_CF_MX, "inputs": {**GOOD_CF_MX["inputs"], "priority": 1.5}}),
            "resources[0].inputs.priority",
            "whole number",
        ),
        (
            _plan({**GOOD_CF_MX, "inputs": {**GOOD_CF_MX["inputs"], "content": ["mx.example.com"]}}),
            "resources[0].inputs.content",
            "must be a string",
        ),
        (
            _plan({**GOOD_TXT, "inputs": {**GOOD_TXT["inputs"], "ttl": "300"}}),
            "resources[0].inputs.ttl",
            "a TTL must be a whole number",
        ),
        (
            _plan({**GOOD_TXT, "inputs": {**GOOD_TXT["inputs"], "name": ["example.com"]}}),
            "resources[0].inputs.name",
            "must be a string",
        ),
        (_plan({**GOOD_TXT, "dependencies": [None]}), "resources[0].dependencies[0]", "must be a URN string"),
        ({**_plan(GOOD_TXT), "outputs": []}, "outputs", "must be an object"),
    ],
)
def test_hand_edited_plan_is_refused_naming_the_json_path(tmp_path, plan, where, says):
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    with pytest.raises(PlanFileError) as err:
        load_plan_file(str(path))
    message = str(err.value)
    assert message.startswith(f"--plan: {path}: ") and "\n" not in message and says in message
    if where is not None:
        assert f": {where}: " in message, message


def test_unknown_and_secret_placeholders_stand_for_any_value(tmp_path):
    plan = _plan(
        {**GOOD_TXT, "inputs": {**GOOD_TXT["inputs"], "records": ["[unknown]"], "zoneId": "[unknown]"}},
        {**GOOD_TXT, "inputs": {**GOOD_TXT["inputs"], "records": "[unknown]", "name": "[secret]"}},
        {**GOOD_CF_MX, "inputs": {**GOOD_CF_MX["inputs"], "priority": "[unknown]"}},
        GOOD_MX,
    )
    check_plan(plan)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[" * 10_000 + "]" * 10_000, "nested deeper than 100 levels"),
        ("[" * 150 + "]" * 150, "nested deeper than 100 levels"),  # json parses it; the readers would not
        ('{"resources": [], "x": NaN}', "NaN is not a JSON number"),
        ('{"resources": [], "x": -Infinity}', "-Infinity is not a JSON number"),
        ('{"resources": [], "x": 1e999}', "too large"),
        ('{"resources": [}', "plan.json:1:16: not valid JSON"),
    ],
)
def test_unreadable_json_is_one_line(tmp_path, text, says):
    path = tmp_path / "plan.json"
    path.write_text(text)
    with pytest.raises(PlanFileError) as err:
        load_json(str(path), "--plan")
    assert says in str(err.value) and "\n" not in str(err.value)


def test_unreadable_plan_files(tmp_path):
    (tmp_path / "latin1.json").write_bytes(b'{"resources": [], "x": "\xe9"}')
    for path, says in (
        (tmp_path / "latin1.json", "not UTF-8"),
        (tmp_path / "missing.json", "No such file"),
        (tmp_path, "Is a directory"),
    ):
        with pytest.raises(PlanFileError, match=says):
            load_plan_file(str(path))


def test_every_dns_provider_is_checked():
    """A third provider adapter must say where its values live (planfile.VALUE_FIELDS)."""
    assert set(planfile.VALUE_FIELDS) == set(providers.RECORD_TYPES)
    for adapter in providers.ADAPTERS:
        field, _ = planfile.VALUE_FIELDS[adapter.record_type]
        assert adapter.entries({field: ["x"] if field == "records" else "x"}, providers.is_placeholder) == ["x"]


@pytest.fixture(scope="module")
def real_plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("plan") / "plan.json"
    out.write_text(real_plan_json())
    return out


def test_a_real_plan_passes(real_plan):
    data = load_plan_file(str(real_plan))
    assert any(r["type"] == providers.ROUTE53.record_type for r in data["resources"])


def test_verify_with_a_hand_edited_plan_exits_2_naming_the_json_path(real_plan, tmp_path):
    data = json.loads(real_plan.read_text())
    index = next(
        i
        for i, r in enumerate(data["resources"])
        if r["type"] == providers.ROUTE53.record_type and r["inputs"].get("type") == "TXT"
    )
    data["resources"][index]["inputs"]["records"][0] = 12
    bad = tmp_path / "edited.json"
    bad.write_text(json.dumps(data))
    out = cli("verify", "--stack", "prod", "--plan", str(bad), "--nameserver", "127.0.0.1:9", "--timeout", "0.2")
    assert_input_error(out, f"resources[{index}].inputs.records[0]: a TXT value must be a string (got a number: 12)")


# --- class 1: --output to a full disk or an unwritable path -----------------------------


def test_output_to_a_full_device_exits_2():
    out = cli_process("plan", *SMALL, "--output", "/dev/full")
    assert_input_error(out, "--output: cannot write '/dev/full': No space left on device")


def test_stdout_on_a_full_device_exits_2():
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "mailinfra.cli", "plan", *SMALL],
            cwd=ROOT, stdout=full, stderr=subprocess.PIPE, text=True, timeout=120,
        )  # fmt: skip
    assert (
        proc.returncode == 2 and proc.stderr == "mailinfra: error: cannot write the report to stdout: No space left on device\n"
    )


def test_a_file_that_fills_up_mid_write_leaves_the_old_report(tmp_path):
    """RLIMIT_FSIZE: the kernel refuses writes past 1 KiB (EFBIG), as a full disk refuses
    them (ENOSPC): the report is ~3.5 KiB, so the write fails part-way."""
    target = tmp_path / "report.json"
    target.write_text("the previous report\n")

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))

    out = cli_process("plan", *SMALL, "--format", "json", "--output", str(target), preexec_fn=small_files)
    assert_input_error(out, f"--output: cannot write {str(target)!r}: File too large")
    assert target.read_text() == "the previous report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]  # no temporary file left


@pytest.mark.parametrize(
    ("where", "says"),
    [
        ("missing/dir/report.json", "No such file or directory"),
        (".", "it is a directory"),
        ("afile/report.json", "Not a directory"),
        ("", "the path is empty"),
    ],
)
def test_unwritable_output_is_refused_before_planning(tmp_path, monkeypatch, where, says):
    (tmp_path / "afile").write_text("x")
    import mailinfra.cli

    def no_plan(*_: object, **__: object) -> None:
        raise AssertionError("planned before checking --output")

    monkeypatch.setattr(mailinfra.cli, "make_plan", no_plan)
    target = str(tmp_path / where) if where else ""
    assert_input_error(cli("plan", "--stack", "dev", "--output", target), "--output", says)


def test_atomic_output_keeps_the_old_file_on_error_and_its_mode_on_success(tmp_path):
    target = tmp_path / "report.txt"
    target.write_text("old\n")
    os.chmod(target, 0o640)
    with pytest.raises(RuntimeError), atomic_output(str(target)) as stream:
        stream.write("half a rep")
        raise RuntimeError("renderer failed")
    assert target.read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == ["report.txt"]
    with atomic_output(str(target)) as stream:
        stream.write("new\n")
    assert target.read_text() == "new\n" and stat.S_IMODE(target.stat().st_mode) == 0o640
    fresh = tmp_path / "fresh.txt"
    with atomic_output(str(fresh)) as stream:
        stream.write("x")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o666 & ~umask


def test_check_writable_accepts_devices_and_new_files(tmp_path):
    check_writable("/dev/null")
    check_writable(str(tmp_path / "new.json"))
    with pytest.raises(OutputError, match="it is a directory"):
        check_writable(str(tmp_path))


def test_a_refused_stack_leaves_the_next_plan_working(project):
    """One process, a package loaded before the runs (`components`, as the test suite
    and programs that import it do): a plan refused at config load, then a good plan.
    The first run's submodules stayed as attributes of `components`, so the second run's
    `from . import wiring` got the old module: "args: must be a KeyStoreArgs (got
    'KeyStoreArgs')" - exit 2 for a valid stack."""
    import mailinfra.components.config  # noqa: F401 - loaded before the runs, as in the suite

    write_stack(project, "badregion", DEV.replace("aws:region: eu-west-1", "aws:region: '0'"))
    assert_input_error(cli("plan", "--stack", "badregion", "--project", str(project)), "aws:region")
    out = cli("plan", "--stack", "dev", "--project", str(project), "--no-policies", "--format", "json")
    assert out.code == 0, out.stderr
