"""What the Pulumi engine hands a policy pack during `pulumi preview`, derived from a `Plan`.

One model for both ways mailinfra judges a plan: the offline runner (`mailinfra.policyrun`,
which calls the rules in-process) and the gRPC harness (`mailinfra.analyzer_harness`,
which drives the pack process as the CLI does). From pulumi/pulumi
`pkg/resource/deploy/step_generator.go`, `default_providers.go`, `source_eval.go` and
`pkg/resource/plugin/analyzer_plugin.go`:

- `engine_resources(plan)`: every resource the engine registers, in registration order.
  The root stack (`pulumi:pulumi:Stack`, no inputs, the stack outputs as state) comes
  first; a default provider per package and version (`pulumi:providers:<pkg>::default_
  <major>_<minor>_<patch>`, inputs: the stack's `<pkg>:*` config as strings, secrets
  kept secret, and `version`) is registered just before its first user; explicit
  providers get `version` from their request. Top-level resources have the root stack
  as parent (default providers have none). A custom resource's stack state is its
  outputs over its inputs (a provider's preview echoes the inputs); a component's, its
  registered outputs.
- `to_struct(props)`: inputs as the engine marshals them for an analyzer (unknowns as
  the unknown sentinel, secrets as the secret signature object, top-level `__` keys
  skipped); every number becomes a double, as in any protobuf Struct.
- `as_pack_sees(props)`: what pulumi_policy hands a rule after decoding that Struct
  (`MessageToDict`, secrets unwrapped): floats for numbers.
- `stack_config(plan)`: `PULUMI_CONFIG`'s content, a JSON object of strings.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format, struct_pb2
from pulumi.runtime import rpc

from .values import UNKNOWN, Secret

__all__ = [
    "STACK_TYPE",
    "EngineResource",
    "as_pack_sees",
    "config_text",
    "default_provider_name",
    "engine_resources",
    "plain",
    "stack_config",
    "stack_urn",
    "to_struct",
]

STACK_TYPE = "pulumi:pulumi:Stack"


@dataclass
class EngineResource:
    """One resource as the engine knows it during a preview."""

    urn: str
    type: str
    name: str
    custom: bool
    inputs: dict[str, Any]
    state: dict[str, Any]  # what AnalyzeStack sees
    parent: str  # "" for the root stack and default providers
    dependencies: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    provider: EngineResource | None = None


def _wire(value: Any) -> Any:
    if value is UNKNOWN:
        return rpc.UNKNOWN
    if isinstance(value, Secret):
        return {rpc._special_sig_key: rpc._special_secret_sig, "value": _wire(value.reveal())}
    if isinstance(value, Mapping):
        return {str(k): _wire(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_wire(v) for v in value]
    return value


def to_struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
    """Plan values -> the Struct the engine sends an analyzer (KeepUnknowns, KeepSecrets, SkipInternalKeys)."""
    struct = struct_pb2.Struct()
    struct.update({str(k): _wire(v) for k, v in props.items() if not str(k).startswith("__")})
    return struct


def as_pack_sees(props: Mapping[str, Any]) -> dict[str, Any]:
    """Plan values -> what a rule receives from pulumi_policy (before its unknown-checking proxy)."""
    from pulumi_policy.deserialize import deserialize_properties

    return deserialize_properties(json_format.MessageToDict(to_struct(props)))


def plain(value: Any) -> Any:
    """Secrets revealed, everything else as is."""
    if isinstance(value, Secret):
        return plain(value.reveal())
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def config_text(value: Any) -> str:
    """A config value as the CLI hands it on: a string; objects and lists as (Go-style, compact) JSON."""
    value = plain(value)
    if isinstance(value, str):
        return value
    if value is UNKNOWN:
        return ""
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def stack_config(plan: Any, environment: str | None = None) -> dict[str, str]:
    """PULUMI_CONFIG's content; `environment` acts as `<project>:environment` (`mailinfra plan --environment`)."""
    config = {key: config_text(value) for key, value in (plan.config or {}).items()}
    if environment:
        config[f"{plan.project}:environment"] = environment
    return config


def stack_urn(plan: Any) -> str:
    return f"urn:pulumi:{plan.stack}::{plan.project}::{STACK_TYPE}::{plan.project}-{plan.stack}"


def default_provider_name(version: str | None) -> str:
    """The engine's ProviderRequest.DefaultName(): default[_major_minor_patch[_pre...][_build...]]."""
    match = re.fullmatch(r"v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+([0-9A-Za-z.-]+))?", version or "")
    if not match:
        return "default"
    parts = [match.group(1), match.group(2), match.group(3)]
    for extra in (match.group(4), match.group(5)):
        parts += [p for p in (extra or "").split(".") if p]
    return "default_" + "_".join(parts)


def _provider_ref_urn(ref: str | None) -> str | None:
    """A `urn::id` provider reference -> the URN."""
    if not ref:
        return None
    return ref.rsplit("::", 1)[0] if ref.count("::") > 3 else ref


def engine_resources(plan: Any) -> list[EngineResource]:
    """Every resource the engine would register for `plan`, in registration order."""
    root = stack_urn(plan)
    out = [EngineResource(root, STACK_TYPE, f"{plan.project}-{plan.stack}", False, {}, dict(plan.outputs or {}), "")]
    by_urn: dict[str, EngineResource] = {}
    defaults: dict[tuple[str, str], EngineResource] = {}

    def default_provider(package: str, version: str | None) -> EngineResource:
        key = (package, version or "")
        if key not in defaults:
            inputs: dict[str, Any] = {}
            for config_key, value in (plan.config or {}).items():
                ns, _, bare = config_key.partition(":")
                if ns == package and bare:
                    inputs[bare] = Secret(config_text(value)) if isinstance(value, Secret) else config_text(value)
            if version:
                inputs["version"] = version
            name = default_provider_name(version)
            urn = f"urn:pulumi:{plan.stack}::{plan.project}::pulumi:providers:{package}::{name}"
            defaults[key] = by_urn[urn] = EngineResource(urn, f"pulumi:providers:{package}", name, True, inputs, dict(inputs), "")
            out.append(defaults[key])
        return defaults[key]

    for r in plan.resources:
        options = dict(r.options or {})
        inputs = dict(r.inputs or {})
        is_provider = r.type.startswith("pulumi:providers:")
        if is_provider and options.get("version") and "version" not in inputs:
            inputs["version"] = options["version"]  # the engine's SetProviderVersion
        provider = None
        if r.custom and not is_provider:
            explicit = _provider_ref_urn(options.get("provider"))
            if explicit:
                provider = by_urn.get(explicit)
            else:
                provider = default_provider(r.type.split(":", 1)[0], options.get("version"))
        # A provider's preview echoes the inputs among its outputs; a hand-built plan may hold none.
        state = {**(r.inputs or {}), **(r.outputs or {})} if r.custom else dict(r.outputs or {})
        resource = EngineResource(
            r.urn,
            r.type,
            r.name,
            bool(r.custom),
            inputs,
            state,
            r.parent or root,
            list(r.dependencies or []),
            {k: list(v) for k, v in (r.property_dependencies or {}).items()},
            options,
            provider,
        )
        out.append(resource)
        by_urn[r.urn] = resource
    return out
