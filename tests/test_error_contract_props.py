"""Property tests of the error contract (issue 12): generated stack files and plan files.

Every generated input ends in exit 0/1 with a valid report, or in exit 2 with one line;
never a traceback, never the text of a secret. Three depths, cheapest first:

- the stack file reader (mailinfra.project): many examples, milliseconds each;
- the program's config path (mailinfra.components.config.load + the components' preflight, what
  `__main__.py` runs before the first resource), on the engine's config encoding;
- the whole command (`mailinfra plan`, `mailinfra verify --plan`) for a few examples.

Inputs are mutations of the shipped stacks (text edits: duplicated, deleted or
re-indented lines, YAML garbage, aliases, truncation, unicode; structured edits: a value
replaced by one of the wrong type, huge, nested, unicode or `secure:`; keys deleted or
misspelled) and of a real JSON plan. `derandomize=True`: the same examples on every run.
"""

from __future__ import annotations

import contextvars
import copy
import json
import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailinfra.dnsplan import declared_records
from mailinfra.planfile import PlanFileError, load_plan_file
from mailinfra.project import ProjectError, StackConfig, load_project, load_stack_config
from mailinfra.verify.expect import build_expectations
from mailinfra.policies.mailinfra_policy.standards.errors import InputError
from tests.error_contract import SECRET_MARK, STACKS, assert_contract, cli, make_project, real_plan_json, write_stack

SHIPPED = {name: (STACKS / f"Pulumi.{name}.yaml").read_text() for name in ("dev", "staging", "prod", "fleet")}
FAST = settings(max_examples=100, derandomize=True, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=6, derandomize=True, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- values a careless or hostile user writes -------------------------------------------

UNICODE = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=30)


def _nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


GARBAGE = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    UNICODE,
    st.sampled_from(["", " ", "~", "null", "yes", "0x1F", "1:30", "2026-13-45", "mail..example.com.", "-all", "*"]),
    st.just("x" * 20_000),
    st.just(10**5000 // 10**4000),  # 1,001 digits
    st.lists(st.integers(), max_size=3),
    st.dictionaries(UNICODE, st.integers(), max_size=3),
    st.sampled_from([_nested(10), _nested(70)]),
    st.sampled_from(
        [{"secure": 12}, {"secure": ""}, {"secure": {"a": "b"}}, {"secure": "v1:Y2lwaGVy"}, {"secure": "v1:Y2lwaGVy", "x": 1}]
    ),
)

YAML_SNIPPETS = [
    "*undefined",
    "&anchor",
    "!!binary aGVsbG8=",
    "!!python/object/apply:os.system ['true']",
    "!!set {a, b}",
    "{",
    "[",
    "'unterminated",
    '"bad \\q escape"',
    "a: b: c",
    "? [complex, key]",
    "<<: *nowhere",
    "- - -",
    "\t",
    "--- second document",
    "%YAML 1.1",
    "\u202e\u0000",
    "{secure: 12}",
    "{secure: ''}",
    "[" * 80 + "]" * 80,
    '["lol"] # &l0',
]


@st.composite
def text_mutation(draw: st.DrawFn) -> str:
    """A shipped stack file, edited as text."""
    text = SHIPPED[draw(st.sampled_from(sorted(SHIPPED)))]
    lines = text.splitlines()
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        ops = ["dup", "delete", "indent", "dedent", "value", "insert", "truncate", "unicode", "typo", "bomb", "deep"]
        op = draw(st.sampled_from(ops))
        if op == "dup":
            lines.insert(i, lines[i])
        elif op == "delete" and len(lines) > 1:
            del lines[i]
        elif op == "indent":
            lines[i] = "  " + lines[i]
        elif op == "dedent":
            lines[i] = lines[i][2:]
        elif op == "value" and ":" in lines[i]:
            key = lines[i].split(":", 1)[0] if not lines[i].lstrip().startswith("mailinfra:") else lines[i].rsplit(":", 1)[0]
            lines[i] = f"{key}: {draw(st.sampled_from(YAML_SNIPPETS))}"
        elif op == "insert":
            lines.insert(i, "  " * draw(st.integers(0, 3)) + draw(st.sampled_from(YAML_SNIPPETS)))
        elif op == "truncate":
            lines = lines[: i + 1]
            lines[-1] = lines[-1][: draw(st.integers(0, len(lines[-1])))]
        elif op == "unicode":
            at = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:at] + draw(UNICODE) + lines[i][at:]
        elif op == "bomb":  # billion laughs, 9^8 values from 80 written
            lines.insert(i, '  x:l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]')
            lines[i + 1 : i + 1] = [f"  x:l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]" for n in range(1, 9)]
        elif op == "deep":
            depth = draw(st.sampled_from([65, 1_000, 10_000]))
            lines.insert(i, "  x:deep: " + "[" * depth + "]" * depth)
        elif op == "typo":
            lines.insert(
                i,
                f"  {draw(st.sampled_from(['mailinfr', 'mailinfraa', 'amilinfra', 'aws', 'pulumi', 'cloudflare', 'other']))}:relay: {{}}",
            )
    return "\n".join(lines) + "\n"


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, sub in value.items():
            found += _paths(sub, (*prefix, key))
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            found += _paths(sub, (*prefix, index))
    return found


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        value = value[key]
    return value


@st.composite
def structured_mutation(draw: st.DrawFn, names: tuple[str, ...] = ("dev", "staging", "prod", "fleet")) -> str:
    """A shipped stack file with values of its config replaced, removed, made secret, or
    keys misspelled; dumped back to YAML."""
    data = yaml.safe_load(SHIPPED[draw(st.sampled_from(names))])
    config = data["config"]
    for _ in range(draw(st.integers(1, 2))):
        path = draw(st.sampled_from(_paths(config)[1:]))
        parent, last = _get(config, path[:-1]), path[-1]
        op = draw(st.sampled_from(["replace", "replace", "delete", "secure", "rename", "add"]))
        if op == "replace":
            parent[last] = draw(GARBAGE)
        elif op == "delete":
            del parent[last]
        elif op == "secure":
            old = parent[last]
            parent[last] = {"secure": "v1:" + str(old)[:20]} if isinstance(old, (str, int, float)) else draw(GARBAGE)
        elif op == "rename" and isinstance(parent, dict):
            value = parent.pop(last)
            name = str(last)
            at = draw(st.integers(0, max(len(name) - 1, 0)))
            parent[name[:at] + draw(st.sampled_from("aex_:.")) + name[at + 1 :]] = value
        elif op == "add" and isinstance(parent, dict):
            parent[draw(UNICODE) or "k"] = draw(GARBAGE)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=10_000)


STACK_FILES = st.one_of(text_mutation(), structured_mutation())


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_project(tmp_path_factory.mktemp("props"), stacks=())


def _read(project: Path, text: str) -> StackConfig | None:
    """The stack file reader: a StackConfig, or None after a proper ProjectError."""
    write_stack(project, "gen", text)
    try:
        return load_stack_config(load_project(str(project)), "gen")
    except ProjectError as exc:
        message = str(exc)
        assert "\n" not in message and "Pulumi.gen.yaml" in message, message
        assert SECRET_MARK not in message and "Y2lwaGVy" not in message, message  # no placeholder, no ciphertext
        return None


@FAST
@given(STACK_FILES)
def test_stack_file_reader(project, text):
    _read(project, text)


def _config_path(project: str, cfg: StackConfig) -> None:
    """What __main__.py runs before its first resource: config.load() and the components'
    argument checks, on the config exactly as the engine hands it to the program."""
    from pulumi.runtime import config as pulumi_config
    from pulumi.runtime import settings as pulumi_settings

    from mailinfra.components import config, wiring

    def run() -> None:
        pulumi_settings.configure(pulumi_settings.Settings(project=project, stack=cfg.stack, dry_run=True))
        pulumi_config.set_all_config(dict(cfg.engine_config), list(cfg.secret_keys))
        wiring.preflight(config.load())

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        contextvars.copy_context().run(run)


@FAST
@given(STACK_FILES)
def test_config_path(project, text):
    cfg = _read(project, text)
    if cfg is None:
        return
    try:
        _config_path("mailinfra", cfg)
    except InputError as exc:  # ConfigError, a component's ArgsError, a standard's error
        message = str(exc)
        assert message.strip() and "\n" not in message.strip(), message
        assert SECRET_MARK not in message, f"a secret in an error: {message}"


@SLOW
@given(structured_mutation(("dev",)), st.sampled_from(["text", "json", "sarif", "markdown"]))
def test_plan_command(project, text, fmt):
    write_stack(project, "gen", text)
    assert_contract(cli("plan", "--stack", "gen", "--project", str(project), "--format", fmt), fmt)


# --- plan files -------------------------------------------------------------------------


JSON_GARBAGE = st.one_of(
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    UNICODE,
    st.sampled_from(["[unknown]", "[secret]", "", "ten mx.example.com", "70000 mx", "\u00b2 mx", '"unterminated', "@"]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.sampled_from(["a", "type", "records"]), st.integers(), max_size=2),
    st.just(_nested(150)),
)


@st.composite
def plan_mutation(draw: st.DrawFn) -> str:
    """The real plan with a few values replaced (wrong types, garbage) or removed."""
    data = json.loads(real_plan_json())
    records = [i for i, r in enumerate(data["resources"]) if r["type"].endswith(("record:Record", "dnsRecord:DnsRecord"))]
    for _ in range(draw(st.integers(1, 3))):
        # mostly inside DNS records, where the readers look
        root: Any = data["resources"][draw(st.sampled_from(records))] if draw(st.booleans()) else data
        path = draw(st.sampled_from(_paths(root)))
        if not path:
            continue
        parent, last = _get(root, path[:-1]), path[-1]
        if draw(st.integers(0, 4)) == 0:
            del parent[last]
        else:
            parent[last] = copy.deepcopy(draw(JSON_GARBAGE))
    if draw(st.integers(0, 9)) == 0:
        return json.dumps(data)[: draw(st.integers(0, 200))]  # a truncated file
    return json.dumps(data)


@FAST
@given(plan_mutation())
def test_plan_file_reader(tmp_path_factory, text):
    path = tmp_path_factory.getbasetemp() / "gen-plan.json"
    path.write_text(text)
    try:
        data = load_plan_file(str(path))
    except PlanFileError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc), str(exc)
        return
    declared_records(data)  # what zone export and verify read: no crash on a checked plan
    build_expectations(data)


@SLOW
@given(plan_mutation())
def test_verify_command(tmp_path_factory, text):
    path = tmp_path_factory.getbasetemp() / "gen-verify-plan.json"
    path.write_text(text)
    out = cli(
        "verify", "--stack", "prod", "--plan", str(path), "--nameserver", "127.0.0.1:9", "--timeout", "0.1", "--format", "json"
    )
    assert "Traceback" not in out.stderr, out.stderr[-3000:]
    if out.code == 2:
        assert out.stderr.count("\n") == 1 and out.stdout == "", out.stderr
    else:
        assert out.code in (0, 1), (out.code, out.stderr[-3000:])
        assert isinstance(json.loads(out.stdout)["checks"], list)
