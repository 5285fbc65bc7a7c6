"""Policy pack config the way the Pulumi CLI reads, reconciles and validates it.

`pulumi preview --policy-pack DIR --policy-pack-config FILE` does, in order
(pulumi/pulumi `pkg/resource/analyzer/config.go`, `pkg/engine/update.go`):

1. `parse_policy_config(data)`: the file is a JSON object; each key is a policy name or
   `all`; a value is an enforcement level or an object with an optional
   `enforcementLevel` and the policy's properties. A bad level is an error; a key
   with neither level nor properties is dropped; `environments` (ESC) is set aside.
2. `reconcile(policies, initial, given)`: start from every policy's level (as
   `GetAnalyzerInfo` reports it) and its schema defaults, apply the pack's
   `initial_config`, then the file (`all` first, then per policy; a name the pack does
   not know is carried along, as the CLI does), then validate each policy's
   properties against its config schema (JSON Schema, `{"type": "object",
   "properties", "required"}`). Validation errors are sorted and joined, like the CLI's
   "validating policy config" error.
3. The result is what the engine sends to the pack's `Configure`; an entry without a
   valid level (an unknown policy named with properties only) fails there.

`strict=True` adds what the CLI leaves to chance: a policy name the pack does not know.
`mailinfra plan --policy-pack-config` and the gRPC analyzer test use this module, so
both paths reconcile the same way. The schema validation needs `jsonschema` (without
it, only a policy whose config nobody set and that requires nothing passes).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "LEVELS",
    "PolicyConfig",
    "PolicyConfigError",
    "PolicyInfo",
    "load_policy_config",
    "parse_policy_config",
    "reconcile",
]

LEVELS = ("advisory", "mandatory", "remediate", "disabled")


class PolicyConfigError(ValueError):
    """The policy config is invalid; `problems` lists each one (policy and key named)."""

    def __init__(self, problems: Sequence[str], source: str = "") -> None:
        self.problems = list(problems)
        self.source = source
        prefix = f"{source}: " if source else ""
        super().__init__(prefix + "; ".join(self.problems))


@dataclass(frozen=True)
class PolicyInfo:
    """What `GetAnalyzerInfo` says about one policy."""

    name: str
    enforcement: str  # one of LEVELS
    properties: Mapping[str, Any] | None = None  # the config schema's properties
    required: Sequence[str] = ()


@dataclass(frozen=True)
class PolicyConfig:
    enforcement: str = ""  # "" when the config does not set a level
    properties: dict[str, Any] = field(default_factory=dict)


def _level(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise PolicyConfigError([f"{where}: {json.dumps(value)} is not a valid enforcement level; must be a string"])
    if value not in LEVELS:
        raise PolicyConfigError([f"{where}: {value!r} is not a valid enforcement level (one of {', '.join(LEVELS)})"])
    return value


def parse_policy_config(data: Any, source: str = "") -> dict[str, PolicyConfig]:
    """The CLI's parsePolicyPackConfig: a JSON object -> {policy or 'all': PolicyConfig}."""
    try:
        if not isinstance(data, Mapping):
            raise PolicyConfigError(["must be a JSON object of policy names"])
        out: dict[str, PolicyConfig] = {}
        for key, value in data.items():
            if key == "environments":  # ESC environments: a list of names, not a policy
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise PolicyConfigError(['"environments" must be an array of strings'])
                continue
            if isinstance(value, str):
                level, props = _level(value, key), {}
            elif isinstance(value, Mapping):
                props = {k: v for k, v in value.items() if k != "enforcementLevel"}
                level = _level(value["enforcementLevel"], f"{key}.enforcementLevel") if "enforcementLevel" in value else ""
            else:
                raise PolicyConfigError([f"{key}: {json.dumps(value)} is not a valid value; must be a string or object"])
            if level or props:
                out[key] = PolicyConfig(level, props)
        return out
    except PolicyConfigError as exc:
        raise PolicyConfigError(exc.problems, source) from None


def load_policy_config(path: str | os.PathLike[str]) -> dict[str, PolicyConfig]:
    """Read and parse a `--policy-pack-config` file (empty file: no config)."""
    source = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise PolicyConfigError([exc.strerror or str(exc)], source) from None
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise PolicyConfigError([f"not JSON: {exc}"], source) from None
    return parse_policy_config(data, source)


def _apply(result: dict[str, PolicyConfig], layer: Mapping[str, PolicyConfig]) -> None:
    all_level = layer["all"].enforcement if "all" in layer else ""
    if all_level:
        for name, current in list(result.items()):
            result[name] = PolicyConfig(all_level, current.properties)
    for name, given in layer.items():
        current = result.get(name, PolicyConfig())
        result[name] = PolicyConfig(given.enforcement or current.enforcement, {**current.properties, **given.properties})


def _schema_problems(info: PolicyInfo, props: Mapping[str, Any], touched: bool) -> list[str]:
    try:
        import jsonschema
    except ImportError:
        if touched or info.required:
            return [f"{info.name}: validating its config needs the 'jsonschema' package"]
        return []  # nothing but the pack's own defaults to check
    schema: dict[str, Any] = {"type": "object"}
    if info.properties:
        schema["properties"] = dict(info.properties)
    if info.required:
        schema["required"] = list(info.required)
    problems = []
    validator = jsonschema.Draft7Validator(schema)
    for error in sorted(validator.iter_errors(dict(props)), key=lambda e: list(map(str, e.absolute_path))):
        key = ".".join(str(p) for p in error.absolute_path)
        problems.append(f"{info.name}: {key}: {error.message}" if key else f"{info.name}: {error.message}")
    return problems


def reconcile(
    policies: Iterable[PolicyInfo],
    initial: Mapping[str, PolicyConfig] | None = None,
    given: Mapping[str, PolicyConfig] | None = None,
    *,
    strict: bool = False,
    source: str = "",
) -> dict[str, PolicyConfig]:
    """The CLI's ReconcilePolicyPackConfig, then the checks `Configure` makes.

    Returns {name: PolicyConfig} for every policy (and every extra key the config named,
    as the engine sends them). Raises PolicyConfigError listing every problem.
    """
    infos = list(policies)
    known = {info.name for info in infos}
    result: dict[str, PolicyConfig] = {}
    for info in infos:
        defaults = {k: v["default"] for k, v in (info.properties or {}).items() if isinstance(v, Mapping) and "default" in v}
        result[info.name] = PolicyConfig(info.enforcement, defaults)
    problems: list[str] = []
    if strict:
        problems += [f"{name}: no such policy in the pack" for name in (given or {}) if name != "all" and name not in known]
    touched: set[str] = set()
    for layer in (initial, given):
        if layer:
            _apply(result, layer)
            touched |= {name for name, entry in layer.items() if entry.properties}
    for info in infos:
        problems += _schema_problems(info, result[info.name].properties, info.name in touched)
    for name, config in result.items():
        if config.enforcement not in LEVELS:  # Configure rejects it
            problems.append(f"{name}: invalid enforcement level {config.enforcement!r}")
    if problems:
        raise PolicyConfigError(sorted(set(problems)), source)
    return result
