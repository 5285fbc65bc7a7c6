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
import math
import os
import re
from dataclasses import dataclass, field
from typing import Any

import yaml  # type: ignore[import-untyped]

from mailinfra.policies.mailinfra_policy.standards.errors import InputError

from .values import Secret

PROJECT_FILES = ("Pulumi.yaml", "Pulumi.yml")
STACK_FILE_KEYS = frozenset({"config", "secretsprovider", "encryptedkey", "encryptionsalt", "environment"})
SECRET_PLACEHOLDER_PREFIX = "mock-secret-"
# Limits of a project or stack file, checked while it is read (before anything walks it).
# Real files nest under 10 levels and use a few aliases; a deeper file, or aliases that
# multiply the document ("billion laughs"), is refused at once, as the Pulumi CLI's YAML
# decoder refuses excessive aliasing.
MAX_DEPTH = 64
MAX_ALIAS_VALUES = 100_000  # values that alias expansion may add to a document
MAX_INT_DIGITS = 4300  # Python's own int() limit: a longer literal is refused, not a crash
# Namespaces that are never a misspelled project name (provider and engine namespaces).
KNOWN_NAMESPACES = frozenset(
    {
        "pulumi",
        "aws",
        "aws-native",
        "awsx",
        "cloudflare",
        "azure",
        "azure-native",
        "gcp",
        "google-native",
        "kubernetes",
        "random",
        "tls",
        "command",
        "docker",
        "github",
        "vault",
    }
)


class ProjectError(InputError):
    """Invalid or missing project / stack file (exit 2). `str()` is one line for the user."""

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


class _Refused(Exception):
    """A file the loader will not read (too deep, duplicate key, excessive aliasing)."""

    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


class _Loader(yaml.SafeLoader):
    """SafeLoader without YAML 1.1 surprises: `yes`/`on` stay strings, `1:30` stays a
    string, dates stay strings, `0o17` / `0x1f` are ints. Like the CLI's decoder it
    refuses duplicate keys and excessive aliasing, and it refuses nesting deeper than
    MAX_DEPTH (the composer recurses: a deep file would end in RecursionError).
    `config_lines` maps each key of the top-level `config:` mapping to its line."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0
        self.config_lines: dict[str, int] = {}

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(self.peek_event().start_mark.line + 1, f"nested deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_mapping_node(self, anchor: Any) -> Any:
        node = super().compose_mapping_node(anchor)
        first: dict[tuple[str, str], int] = {}
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode):
                line = key.start_mark.line + 1
                ident = (key.tag, key.value)
                if ident in first:
                    raise _Refused(line, f"duplicate key {key.value!r} (first defined at line {first[ident]})")
                first[ident] = line
        return node

    def compose_document(self) -> Any:
        node = super().compose_document()
        _check_expansion(node)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == "config" and isinstance(value, yaml.MappingNode):
                    for ckey, _ in value.value:
                        if isinstance(ckey, yaml.ScalarNode):
                            self.config_lines.setdefault(ckey.value, ckey.start_mark.line + 1)
        return node


def _check_expansion(root: Any) -> None:
    """Refuse a node graph whose aliases multiply it, nest it too deep, or loop.

    Walks the composed graph once per distinct node (sizes and heights memoized), so a
    billion-laughs file is refused in milliseconds instead of being expanded."""
    memo: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded size, height)
    active: set[int] = set()

    def visit(node: Any, level: int) -> tuple[int, int]:
        key = id(node)
        if key in memo:
            size, height = memo[key]
            if level + height - 1 > MAX_DEPTH:
                raise _Refused(node.start_mark.line + 1, f"nested deeper than {MAX_DEPTH} levels (through aliases)")
            return size, height
        if key in active:
            raise _Refused(node.start_mark.line + 1, "an alias refers to a value that contains it (a recursive structure)")
        if level > MAX_DEPTH:
            raise _Refused(node.start_mark.line + 1, f"nested deeper than {MAX_DEPTH} levels (through aliases)")
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        else:
            children = []
        active.add(key)
        size, height = 1, 1
        for child in children:
            child_size, child_height = visit(child, level + 1)
            size += child_size
            height = max(height, child_height + 1)
        active.discard(key)
        memo[key] = (size, height)
        return size, height

    if root is None:
        return
    expanded, _ = visit(root, 1)
    if expanded - len(memo) > MAX_ALIAS_VALUES:
        raise _Refused(
            None,
            f"excessive aliasing: its aliases expand {len(memo)} values to {_count(expanded)} "
            f"(at most {MAX_ALIAS_VALUES} values may come from aliases)",
        )


def _count(n: int) -> str:
    return str(n) if n < 10**12 else f"about 10^{len(str(n)) - 1}"


_Loader.yaml_implicit_resolvers = {
    k: [
        (tag, rx)
        for tag, rx in v
        if tag
        not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:timestamp")
    ]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
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
    if len(text.lstrip("+-")) > MAX_INT_DIGITS:
        raise _Refused(node.start_mark.line + 1, f"an integer of more than {MAX_INT_DIGITS} digits")
    return int(text)


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def _load_yaml(path: str) -> Any:
    return _load_yaml_lines(path)[0]


def _load_yaml_lines(path: str) -> tuple[Any, dict[str, int]]:
    """The file's data, and the line of each key of its top-level `config:` mapping."""
    try:
        with open(path, encoding="utf-8") as fh:
            loader = _Loader(fh)  # a SafeLoader
            try:
                return loader.get_single_data(), loader.config_lines
            finally:
                loader.dispose()
    except _Refused as exc:
        where = f"{path}:{exc.line}" if exc.line is not None else path
        raise ProjectError(f"{where}: {exc.message}") from None
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
    data, lines = _load_yaml_lines(path)
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
    origin: dict[str, str] = {}  # full key -> "file:line" of its stack-file entry
    for key, value in raw.items():
        full = _full_key(path, project.name, key)
        where = f"{path}:{lines[key]}" if isinstance(key, str) and key in lines else path
        _check_namespace(where, project.name, key, full)
        if full in merged and full not in project.config_defaults:
            raise ProjectError(f"{where}: {key}: duplicate config key {full}")
        merged[full] = value
        origin[full] = where

    for full, value in merged.items():
        where = origin.get(full, project.file)
        plan_value, engine_value, has_secret = _convert(where, full, value, full.split(":", 1)[1])
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


def _check_namespace(where: str, project: str, key: Any, full: str) -> None:
    """Refuse `mailinfr:relay`: a namespace one edit from the project's name is a typo
    that would otherwise be ignored silently (the program never reads it)."""
    namespace, _, bare = full.partition(":")
    if namespace == project or namespace in KNOWN_NAMESPACES or not _one_edit(namespace, project):
        return
    raise ProjectError(
        f"{where}: {key}: unknown namespace {namespace!r}, one edit from the project's name (did you mean {project}:{bare}?)"
    )


def _one_edit(a: str, b: str) -> bool:
    """True when `a` becomes `b` by one insertion, deletion, substitution or swap of
    two neighbours (Damerau-Levenshtein distance 1)."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (
            len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
        )
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    i = 0
    while i < len(short) and short[i] == long_[i]:
        i += 1
    return short[i:] == long_[i + 1 :]


def _kind(value: Any) -> str:
    """A value's YAML kind, for messages that must not show the value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"


def _secure_value(path: str, key: str, value: Any, where: str) -> str | None:
    """The ciphertext of a `secure:` entry, None when `value` is not one. A malformed
    entry is refused without showing what it holds (it may be ciphertext or a secret
    typed in clear)."""
    if not isinstance(value, dict) or "secure" not in value:
        return None
    ciphertext = value["secure"]
    if len(value) > 1:
        if not isinstance(ciphertext, str):
            return None  # a plain object that happens to have a `secure` setting
        others = ", ".join(sorted(str(k) for k in value if k != "secure"))
        reason = f"a secure value is a mapping with the single key secure (also found: {others})"
    elif not isinstance(ciphertext, str):
        reason = f"secure: expects a string of ciphertext, not {_kind(ciphertext)}"
    elif not ciphertext.strip():
        reason = "secure: the ciphertext is empty"
    else:
        return ciphertext
    raise ProjectError(f"{path}: config: {key}: malformed secure value at {where}: {reason} (its content is not shown)")


def _convert(path: str, key: str, value: Any, where: str) -> tuple[Any, Any, bool]:
    """(plan value, engine value, contains a secret) for one config value."""
    if _secure_value(path, key, value, where) is not None:
        placeholder = SECRET_PLACEHOLDER_PREFIX + where
        return Secret(placeholder), placeholder, True
    if isinstance(value, dict):
        plan_d: dict[str, Any] = {}
        eng_d: dict[str, Any] = {}
        any_secret = False
        for k, v in value.items():
            if not isinstance(k, (str, int, float, bool)):
                raise ProjectError(f"{path}: config: {key}: object key {_kind(k)} at {where} is not a string")
            sk = k if isinstance(k, str) else json.dumps(k)
            if sk in plan_d:
                raise ProjectError(f"{path}: config: {key}: object key {sk!r} at {where} appears twice (once as a string)")
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
    if isinstance(value, float) and not math.isfinite(value):
        # the engine passes objects as JSON, which has no infinity or NaN
        raise ProjectError(f"{path}: config: {key}: {value} at {where} is not a finite number")
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
