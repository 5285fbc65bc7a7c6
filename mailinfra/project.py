"""Pulumi project and stack configuration, read the way the Pulumi CLI reads them.

`load_project(dir)` finds `Pulumi.yaml` (or `.yml`); `load_stack_config(project, stack)`
reads `Pulumi.<stack>.yaml` from the project's `stackConfigDir` (or next to
`Pulumi.yaml` when none is set) and produces two views of its `config:`:

- `config`: "namespace:key" -> value for the plan, secure values as `Secret` placeholders;
- `engine_config`: "namespace:key" -> string, encoded as the engine hands config to a
  program (objects and lists as JSON, booleans "true"/"false", secure values replaced
  by the deterministic placeholder "mock-secret-<key>[.<path>]"), plus `secret_keys`.

Every error is a `ProjectError` naming the file and, where there is one, the key.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import Any

import yaml  # type: ignore[import-untyped]

from .values import Secret

PROJECT_FILES = ("Pulumi.yaml", "Pulumi.yml")
STACK_FILE_KEYS = frozenset({"config", "secretsprovider", "encryptedkey", "encryptionsalt", "environment"})
SECRET_PLACEHOLDER_PREFIX = "mock-secret-"


class ProjectError(Exception):
    """Invalid or missing project / stack file. `str()` is one line for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Project:
    name: str
    runtime: str
    root: str  # directory holding Pulumi.yaml (absolute)
    file: str  # path of Pulumi.yaml
    main: str  # the program file to run (absolute), usually <root>/__main__.py
    program_dir: str  # directory of `main`: cwd and sys.path[0] while the program runs
    stack_config_dir: str  # where Pulumi.<stack>.yaml files live (absolute)
    config_defaults: dict[str, Any] = field(default_factory=dict)  # project-level config values


@dataclass(frozen=True)
class StackConfig:
    stack: str
    file: str
    config: dict[str, Any]  # "ns:key" -> value, secure values as Secret(placeholder)
    engine_config: dict[str, str]  # "ns:key" -> string as the engine passes it
    secret_keys: list[str]  # keys whose value is or contains a secret


# --- YAML loading (YAML 1.2 scalars, like the CLI's Go YAML decoder) ------------------


class _Loader(yaml.SafeLoader):
    """SafeLoader without YAML 1.1 surprises: `yes`/`on` stay strings, `1:30` stays a
    string, dates stay strings, `0o17` / `0x1f` are ints."""


_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int",
                                                   "tag:yaml.org,2002:float", "tag:yaml.org,2002:timestamp")]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789")
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+.0123456789"),
)


def _construct_int(loader: yaml.SafeLoader, node: yaml.Node) -> int:
    text = str(loader.construct_scalar(node))  # type: ignore[arg-type]
    if text.startswith(("0o", "0x")):
        return int(text, 0)
    return int(text)


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def _load_yaml(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            return yaml.load(fh, Loader=_Loader)  # a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else path
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ProjectError(f"{where}: YAML syntax error: {problem}") from None
    except OSError as exc:
        raise ProjectError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ProjectError(f"{path}: not UTF-8 text") from None


# --- project -------------------------------------------------------------------------


def find_project_file(project_dir: str) -> str:
    for name in PROJECT_FILES:
        path = os.path.join(project_dir, name)
        if os.path.isfile(path):
            return path
    raise ProjectError(f"{os.path.join(project_dir, PROJECT_FILES[0])}: no Pulumi.yaml (or Pulumi.yml) in {project_dir}")


def load_project(project_dir: str) -> Project:
    root = os.path.abspath(project_dir)
    if not os.path.isdir(root):
        raise ProjectError(f"{root}: project directory does not exist")
    path = find_project_file(root)
    data = _load_yaml(path)
    if not isinstance(data, dict):
        raise ProjectError(f"{path}: expected a mapping with name and runtime")

    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ProjectError(f"{path}: name: required, a non-empty string")
    runtime = data.get("runtime")
    if isinstance(runtime, dict):
        runtime = runtime.get("name")
    if not isinstance(runtime, str) or not runtime:
        raise ProjectError(f"{path}: runtime: required, a string or a mapping with name")
    if runtime != "python":
        raise ProjectError(f"{path}: runtime: only python programs can be planned (got {runtime!r})")

    main_rel = data.get("main")
    if main_rel is None:
        main = os.path.join(root, "__main__.py")
    elif isinstance(main_rel, str) and main_rel:
        main = os.path.normpath(os.path.join(root, main_rel))
        if os.path.isdir(main):
            main = os.path.join(main, "__main__.py")
    else:
        raise ProjectError(f"{path}: main: expected a path (got {main_rel!r})")
    if not os.path.isfile(main):
        raise ProjectError(f"{path}: main: program {main} does not exist")

    scd = data.get("stackConfigDir")
    if scd is None:
        stack_config_dir = root
    elif isinstance(scd, str) and scd:
        stack_config_dir = os.path.normpath(os.path.join(root, scd))
    else:
        raise ProjectError(f"{path}: stackConfigDir: expected a directory path (got {scd!r})")

    return Project(
        name=name,
        runtime=runtime,
        root=root,
        file=path,
        main=main,
        program_dir=os.path.dirname(main),
        stack_config_dir=stack_config_dir,
        config_defaults=_project_config_defaults(path, name, data.get("config")),
    )


def _project_config_defaults(path: str, project: str, raw: Any) -> dict[str, Any]:
    """Project-level `config:` block: `key: value` or `key: {type, default|value, secret}`."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ProjectError(f"{path}: config: expected a mapping of keys (a path here is not supported; use stackConfigDir)")
    out: dict[str, Any] = {}
    for key, spec in raw.items():
        full = _full_key(path, project, key)
        if isinstance(spec, dict) and ({"type", "default", "value", "description", "secret", "items"} >= spec.keys()):
            if "value" in spec:
                out[full] = spec["value"]
            elif "default" in spec:
                out[full] = spec["default"]
        else:
            out[full] = spec
    return out


# --- stacks --------------------------------------------------------------------------


def stack_file_name(stack: str) -> str:
    """`org/project/dev` and `dev` both use the file Pulumi.dev.yaml."""
    return stack.rsplit("/", 1)[-1]


def list_stacks(project: Project) -> list[str]:
    names = set()
    if os.path.isdir(project.stack_config_dir):
        for entry in os.listdir(project.stack_config_dir):
            m = re.fullmatch(r"Pulumi\.(.+)\.ya?ml", entry)
            if m:
                names.add(m.group(1))
    return sorted(names)


def find_stack_file(project: Project, stack: str) -> str:
    short = stack_file_name(stack)
    if not short or short != short.strip() or os.sep in short or short in (".", ".."):
        raise ProjectError(f"invalid stack name {stack!r}")
    for ext in ("yaml", "yml"):
        path = os.path.join(project.stack_config_dir, f"Pulumi.{short}.{ext}")
        if os.path.isfile(path):
            return path
    available = list_stacks(project)
    where = os.path.join(project.stack_config_dir, f"Pulumi.{short}.yaml")
    listing = ", ".join(available) if available else "none"
    raise ProjectError(f"{where}: no such stack file for stack {short!r} (stacks found: {listing})")


def load_stack_config(project: Project, stack: str) -> StackConfig:
    path = find_stack_file(project, stack)
    data = _load_yaml(path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ProjectError(f"{path}: expected a mapping with a config: key")
    for key in data:
        if key not in STACK_FILE_KEYS:
            raise ProjectError(f"{path}: {key}: unknown top-level key (allowed: {', '.join(sorted(STACK_FILE_KEYS))})")
    raw = data.get("config")
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ProjectError(f"{path}: config: expected a mapping of keys to values (got {type(raw).__name__})")

    plan_config: dict[str, Any] = {}
    engine_config: dict[str, str] = {}
    secret_keys: list[str] = []

    merged: dict[str, Any] = dict(project.config_defaults)
    for key, value in raw.items():
        full = _full_key(path, project.name, key)
        if full in merged and full not in project.config_defaults:
            raise ProjectError(f"{path}: {key}: duplicate config key {full}")
        merged[full] = value

    for full, value in merged.items():
        plan_value, engine_value, has_secret = _convert(path, full, value, full.split(":", 1)[1])
        plan_config[full] = plan_value
        engine_config[full] = _encode_engine(engine_value)
        if has_secret:
            secret_keys.append(full)

    return StackConfig(
        stack=stack_file_name(stack),
        file=path,
        config=plan_config,
        engine_config=engine_config,
        secret_keys=sorted(secret_keys),
    )


def _full_key(path: str, project: str, key: Any) -> str:
    if not isinstance(key, str) or not key:
        raise ProjectError(f"{path}: config: key {key!r} is not a string")
    parts = key.split(":")
    if len(parts) == 1:
        return f"{project}:{key}"
    if len(parts) == 2 and all(parts):
        return key
    raise ProjectError(f"{path}: config: {key}: expected 'key' or 'namespace:key'")


def _is_secure(value: Any) -> bool:
    return isinstance(value, dict) and list(value.keys()) == ["secure"]


def _convert(path: str, key: str, value: Any, where: str) -> tuple[Any, Any, bool]:
    """(plan value, engine value, contains a secret) for one config value."""
    if _is_secure(value):
        if not isinstance(value["secure"], str):
            raise ProjectError(f"{path}: config: {key}: secure value at {where} must be a string of ciphertext")
        placeholder = SECRET_PLACEHOLDER_PREFIX + where
        return Secret(placeholder), placeholder, True
    if isinstance(value, dict):
        plan_d: dict[str, Any] = {}
        eng_d: dict[str, Any] = {}
        any_secret = False
        for k, v in value.items():
            if not isinstance(k, (str, int, float, bool)):
                raise ProjectError(f"{path}: config: {key}: object key {k!r} at {where} is not a string")
            sk = k if isinstance(k, str) else json.dumps(k)
            plan_d[sk], eng_d[sk], s = _convert(path, key, v, f"{where}.{sk}")
            any_secret |= s
        return plan_d, eng_d, any_secret
    if isinstance(value, list):
        plan_l: list[Any] = []
        eng_l: list[Any] = []
        any_secret = False
        for i, v in enumerate(value):
            p, e, s = _convert(path, key, v, f"{where}[{i}]")
            plan_l.append(p)
            eng_l.append(e)
            any_secret |= s
        return plan_l, eng_l, any_secret
    if value is None or isinstance(value, (str, bool, int, float)):
        return value, value, False
    raise ProjectError(f"{path}: config: {key}: unsupported value at {where} (got {type(value).__name__})")


def _encode_engine(value: Any) -> str:
    """Encode one config value the way the engine passes it to a program."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if value is None:
        return ""
    return json.dumps(value, separators=(",", ":"))

