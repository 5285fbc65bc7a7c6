"""Offline CrossGuard: judge a `Plan` with a policy pack, as the Pulumi CLI would.

`run_policies(plan, policy_pack_dir=None, environment=None, policy_config=None)`
returns `list[Violation]`. What the CLI does, step by step, and what we do:

1. The CLI starts the pack process with `PULUMI_CONFIG` (the stack config as JSON,
   secrets decrypted), `PULUMI_PROJECT`, `PULUMI_STACK` and `PULUMI_DRY_RUN`. We set
   the same variables for the duration of the run (`environment=` acts as the stack's
   `<project>:environment` config).
2. `GetAnalyzerInfo` reads every policy's `enforcement_level` (None -> the pack's
   level, else advisory) and config schema; the engine overlays the pack's
   `initial_config`, then `--policy-pack-config` (`all`, then per policy) and sends it
   back (`Configure`). `policy_config=` is that file's content (a mapping or a path).
3. `Analyze` runs every resource policy on every resource with its *inputs*
   (unknowns are the engine's sentinel strings behind `unknown_checking_proxy`,
   secrets arrive decrypted), options, provider and config; `AnalyzeStack` runs every
   stack policy once on all resources (their state, parent, dependencies and property
   dependencies as `PolicyResource` objects). A policy that reads an unknown value gets
   CrossGuard's advisory "can't run policy during preview" diagnostic; one that raises
   anything else fails the run (`PolicyPackError`), as it fails `pulumi preview`.

The pack is loaded without serving it: `<pack>/__main__.py` is executed with
`pulumi_policy.PolicyPack` replaced by a stub that records its arguments, so any pack
directory works. Cost: O(resources x resource policies + stack policies x resources).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import runpy
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi_policy
import pulumi_policy.policy as policy_module
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import (
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
    unknown_checking_proxy,
)

from .values import UNKNOWN, Secret

__all__ = ["LoadedPack", "PolicyPackError", "Violation", "default_pack_dir", "load_pack", "run_policies"]


class PolicyPackError(Exception):
    """The pack cannot be loaded, or a policy crashed (the CLI would fail the preview)."""


@dataclass(frozen=True)
class Violation:
    policy: str
    enforcement: str  # "mandatory" | "advisory"
    severity: str  # "low" | "medium" | "high" | "critical" | "unspecified"
    urn: str  # "" for a stack-wide violation
    message: str
    resource_type: str = ""
    resource_name: str = ""
    description: str = ""
    remediation: str = ""

    def to_dict(self) -> dict[str, str]:
        """The JSON contract: policy, enforcement, severity, urn, message."""
        return {"policy": self.policy, "enforcement": self.enforcement, "severity": self.severity,
                "urn": self.urn, "message": self.message}


@dataclass
class LoadedPack:
    name: str
    policies: list[Policy]
    enforcement_level: EnforcementLevel | None = None
    initial_config: dict[str, Any] = field(default_factory=dict)
    directory: str = ""


def default_pack_dir() -> str:
    """The pack shipped with mailinfra: <repo>/policies (installed beside the package)."""
    here = Path(__file__).resolve().parent.parent / "policies"
    if (here / "__main__.py").is_file():
        return str(here)
    import importlib.util

    spec = importlib.util.find_spec("policies")
    if spec is not None and spec.submodule_search_locations:
        return str(next(iter(spec.submodule_search_locations)))
    raise PolicyPackError("cannot find the mailinfra policy pack; pass --policy-pack DIR")


_PACK_CACHE: dict[str, LoadedPack] = {}
_LOCK = threading.RLock()


class _Captured(Exception):
    pass


def load_pack(pack_dir: str | None = None) -> LoadedPack:
    """Execute `<pack_dir>/__main__.py` with a recording PolicyPack stub (cached per dir)."""
    directory = os.path.realpath(pack_dir or default_pack_dir())
    with _LOCK:
        if directory in _PACK_CACHE:
            return _PACK_CACHE[directory]
        main = os.path.join(directory, "__main__.py")
        if not os.path.isfile(main):
            raise PolicyPackError(f"{directory}: no __main__.py (not a Python policy pack)")
        captured: dict[str, Any] = {}

        def stub(name: str, policies: list[Policy], enforcement_level: EnforcementLevel | None = None,
                 initial_config: dict[str, Any] | None = None, **_: Any) -> None:
            captured.update(name=name, policies=list(policies), enforcement_level=enforcement_level,
                            initial_config=dict(initial_config or {}))
            raise _Captured  # PolicyPack(...) never returns under the CLI either

        before = set(sys.modules)
        saved = (pulumi_policy.PolicyPack, policy_module.PolicyPack, list(sys.path), os.getcwd())
        pulumi_policy.PolicyPack = stub  # type: ignore[assignment,misc]
        policy_module.PolicyPack = stub  # type: ignore[assignment,misc]
        sys.path.insert(0, directory)
        try:
            runpy.run_path(main, run_name="__main__")
        except _Captured:
            pass
        except SystemExit as exc:
            raise PolicyPackError(f"{main}: exited ({exc.code}) before PolicyPack(...)") from None
        except Exception as exc:  # noqa: BLE001 - report any load failure as one message
            raise PolicyPackError(f"{main}: {type(exc).__name__}: {exc}") from None
        finally:
            pulumi_policy.PolicyPack, policy_module.PolicyPack = saved[0], saved[1]  # type: ignore[misc]
            sys.path[:] = saved[2]
            # The pack's own top-level modules (e.g. mailinfra_policy) stay loaded only
            # through the captured policies, so another pack dir can use the same names.
            for mod_name in set(sys.modules) - before:
                mod_file = getattr(sys.modules[mod_name], "__file__", None) or ""
                if mod_file and os.path.realpath(mod_file).startswith(directory + os.sep):
                    del sys.modules[mod_name]
        if "policies" not in captured:
            raise PolicyPackError(f"{main}: PolicyPack(...) was never called")
        pack = LoadedPack(captured["name"], captured["policies"], captured["enforcement_level"],
                          captured["initial_config"], directory)
        _PACK_CACHE[directory] = pack
        return pack


# --------------------------------------------------------------- value encoding


def _wire(value: Any) -> Any:
    """Plan value -> what the engine sends a pack: unknown sentinel, secrets decrypted."""
    if value is UNKNOWN:
        return UNKNOWN_STRING_VALUE
    if isinstance(value, Secret):
        return _wire(value.reveal())
    if isinstance(value, Mapping):
        return {str(k): _wire(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_wire(v) for v in value]
    return value


def _config_string(value: Any) -> str:
    if isinstance(value, Secret):
        value = value.reveal()
    if value is UNKNOWN:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(_wire(value))


@contextmanager
def _pack_process_env(plan: Any, environment: str | None) -> Iterator[None]:
    config = {key: _config_string(value) for key, value in (plan.config or {}).items()}
    if environment:
        config[f"{plan.project}:environment"] = environment
    wanted = {
        "PULUMI_CONFIG": json.dumps(config),
        "PULUMI_PROJECT": plan.project,
        "PULUMI_STACK": plan.stack,
        "PULUMI_DRY_RUN": "true" if getattr(plan, "preview", True) else "false",
    }
    saved = {key: os.environ.get(key) for key in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# ------------------------------------------------------------------ config


def _level(value: Any) -> EnforcementLevel | None:
    if isinstance(value, EnforcementLevel):
        return value
    if isinstance(value, str):
        try:
            return EnforcementLevel(value.lower())
        except ValueError:
            raise PolicyPackError(f"policy config: unknown enforcementLevel {value!r}") from None
    return None


def _normalize(config: Mapping[str, Any] | None) -> dict[str, tuple[EnforcementLevel | None, dict[str, Any]]]:
    out: dict[str, tuple[EnforcementLevel | None, dict[str, Any]]] = {}
    for key, value in (config or {}).items():
        if isinstance(value, (EnforcementLevel, str)):
            out[key] = (_level(value), {})
        elif isinstance(value, Mapping):
            props = {k: v for k, v in value.items() if k != "enforcementLevel"}
            out[key] = (_level(value.get("enforcementLevel")), props)
        else:
            raise PolicyPackError(f"policy config: {key!r} must be a level or an object")
    return out


def _reconcile(pack: LoadedPack, given: Mapping[str, Any] | None) -> dict[str, tuple[EnforcementLevel, dict[str, Any]]]:
    """The engine's ReconcilePolicyPackConfig: defaults, initial config, then given config."""
    result: dict[str, tuple[EnforcementLevel, dict[str, Any]]] = {}
    pack_level = pack.enforcement_level or EnforcementLevel.ADVISORY
    for policy in pack.policies:
        level: EnforcementLevel = policy.enforcement_level if policy.enforcement_level is not None else pack_level
        props: dict[str, Any] = {}
        schema = policy.config_schema
        if schema is not None:
            props = {k: v["default"] for k, v in schema.properties.items() if "default" in v}
        result[policy.name] = (level, props)
    for layer in (_normalize(pack.initial_config), _normalize(given)):
        all_level = layer["all"][0] if "all" in layer else None
        if all_level is not None:
            result = {name: (all_level, props) for name, (_, props) in result.items()}
        for name, (given_level, given_props) in layer.items():
            if name in result:
                old_level, old_props = result[name]
                new_level = given_level if given_level is not None else old_level
                result[name] = (new_level, {**old_props, **given_props})
    return result


def _load_config_file(policy_config: Mapping[str, Any] | str | os.PathLike[str] | None) -> Mapping[str, Any] | None:
    if policy_config is None or isinstance(policy_config, Mapping):
        return policy_config
    try:
        with open(policy_config, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as exc:
        raise PolicyPackError(f"policy config {policy_config}: {exc}") from None
    if not isinstance(data, dict):
        raise PolicyPackError(f"policy config {policy_config}: not a JSON object")
    return data


# ------------------------------------------------------------------ resources


def _options(resource: Any) -> PolicyResourceOptions:
    opts = resource.options or {}
    timeouts = opts.get("customTimeouts") or {}

    def seconds(value: Any) -> float:
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str) and value:
            import re

            total = 0.0
            for amount, unit in re.findall(r"([\d.]+)([hms])", value):
                total += float(amount) * {"h": 3600, "m": 60, "s": 1}[unit]
            return total
        return 0.0

    return PolicyResourceOptions(
        protect=bool(opts.get("protect")),
        ignore_changes=list(opts.get("ignoreChanges") or []),
        delete_before_replace=opts.get("deleteBeforeReplace") if opts.get("deleteBeforeReplace") else None,
        aliases=[a for a in (opts.get("aliases") or []) if isinstance(a, str)],
        custom_timeouts=PolicyCustomTimeouts(seconds(timeouts.get("create")), seconds(timeouts.get("update")),
                                             seconds(timeouts.get("delete"))),
        additional_secret_outputs=list(opts.get("additionalSecretOutputs") or []),
        parent=resource.parent,
    )


def _providers(plan: Any) -> tuple[dict[str, Any], dict[str, PolicyProviderResource]]:
    """Explicit provider resources by URN, and a default provider per package."""
    explicit: dict[str, Any] = {}
    for resource in plan.resources:
        if resource.type.startswith("pulumi:providers:"):
            explicit[resource.urn] = resource
    defaults: dict[str, PolicyProviderResource] = {}
    packages = {r.type.split(":", 1)[0] for r in plan.resources if r.custom and not r.type.startswith("pulumi:")}
    for package in sorted(packages):
        props: dict[str, Any] = {}
        for key, value in (plan.config or {}).items():
            ns, _, bare = key.partition(":")
            if ns == package and bare:
                props[bare] = _wire(value)
        urn = f"urn:pulumi:{plan.stack}::{plan.project}::pulumi:providers:{package}::default"
        defaults[package] = PolicyProviderResource(f"pulumi:providers:{package}", unknown_checking_proxy(props), urn, "default")
    return explicit, defaults


def _provider_of(resource: Any, explicit: dict[str, Any], defaults: dict[str, PolicyProviderResource]) -> PolicyProviderResource | None:
    if not resource.custom or resource.type.startswith("pulumi:providers:"):
        return None
    ref = (resource.options or {}).get("provider")
    if ref:
        urn = ref.rsplit("::", 1)[0] if ref.count("::") > 3 else ref
        prov = explicit.get(urn)
        if prov is not None:
            return PolicyProviderResource(prov.type, unknown_checking_proxy(_wire(prov.inputs)), prov.urn, prov.name)
    return defaults.get(resource.type.split(":", 1)[0])


def _state(resource: Any) -> dict[str, Any]:
    if resource.custom and resource.outputs:
        return {**(resource.inputs or {}), **resource.outputs}
    return dict(resource.inputs or {})


def _run(result: Any) -> None:
    if inspect.isawaitable(result):
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(result)
        finally:
            loop.close()


def _severity(policy: Policy) -> str:
    sev = getattr(policy, "severity", None)
    return sev.value if sev is not None else "unspecified"


def run_policies(
    plan: Any,
    policy_pack_dir: str | None = None,
    environment: str | None = None,
    policy_config: Mapping[str, Any] | str | os.PathLike[str] | None = None,
) -> list[Violation]:
    """Judge `plan` with the pack; violations in CrossGuard's order (resource, then stack)."""
    pack = load_pack(policy_pack_dir)
    given = _load_config_file(policy_config)
    violations: list[Violation] = []
    by_urn = {r.urn: r for r in plan.resources}

    with _LOCK, _pack_process_env(plan, environment):
        reconciled = _reconcile(pack, given)
        active = [(p, *reconciled[p.name]) for p in pack.policies
                  if reconciled[p.name][0] != EnforcementLevel.DISABLED]
        explicit, defaults = _providers(plan)

        def reporter(policy: Policy, level: EnforcementLevel, fixed_urn: str | None) -> Any:
            enforcement = "mandatory" if level in (EnforcementLevel.MANDATORY, EnforcementLevel.REMEDIATE) else "advisory"

            def report(message: str, urn: str | None = None) -> None:
                if message and not isinstance(message, str):
                    raise TypeError("Expected message to be a string")
                target = fixed_urn if fixed_urn is not None else (urn or "")
                res = by_urn.get(target)
                violations.append(Violation(
                    policy=policy.name, enforcement=enforcement, severity=_severity(policy), urn=target,
                    message=message or policy.description,
                    resource_type=res.type if res else "", resource_name=res.name if res else "",
                    description=policy.description, remediation=getattr(policy, "remediation_steps", None) or "",
                ))
            return report

        def call(policy: Policy, args: Any, report: Any, urn: str) -> None:
            try:
                _run(policy.validate(args, report))  # type: ignore[attr-defined]
            except UnknownValueError as exc:
                violations.append(Violation(
                    policy=policy.name, enforcement="advisory", severity=_severity(policy), urn="",
                    message=f"can't run policy '{policy.name}' during preview: {exc.message}",
                    description=policy.description,
                ))
            except policy_module._NotApplicableError:
                pass
            except Exception as exc:
                raise PolicyPackError(f"policy {policy.name!r} failed on {urn or 'the stack'}: "
                                      f"{type(exc).__name__}: {exc}") from exc

        resource_policies = [a for a in active if isinstance(a[0], ResourceValidationPolicy)]
        stack_policies = [a for a in active if isinstance(a[0], StackValidationPolicy)]

        # Analyze: every resource (inputs), every resource policy.
        for resource in plan.resources:
            if resource.type == "pulumi:pulumi:Stack":
                continue
            props = unknown_checking_proxy(_wire(resource.inputs or {}))
            opts = _options(resource)
            provider = _provider_of(resource, explicit, defaults)
            for policy, level, cfg in resource_policies:
                args = ResourceValidationArgs(resource.type, props, resource.urn, resource.name, opts, provider,
                                              dict(cfg) or None)
                call(policy, args, reporter(policy, level, resource.urn), resource.urn)

        # AnalyzeStack: every resource's state as PolicyResource, links resolved.
        if stack_policies:
            policy_resources: dict[str, PolicyResource] = {}
            for resource in plan.resources:
                policy_resources[resource.urn] = PolicyResource(
                    resource.type, unknown_checking_proxy(_wire(_state(resource))), resource.urn, resource.name,
                    _options(resource), _provider_of(resource, explicit, defaults), None, [], {})
            for resource in plan.resources:
                pr = policy_resources[resource.urn]
                if resource.parent and resource.parent in policy_resources:
                    pr.parent = policy_resources[resource.parent]
                pr.dependencies = [policy_resources[d] for d in resource.dependencies or [] if d in policy_resources]
                pr.property_dependencies = {
                    key: [policy_resources[d] for d in urns if d in policy_resources]
                    for key, urns in (resource.property_dependencies or {}).items()
                }
            resources = list(policy_resources.values())
            for policy, level, cfg in stack_policies:
                stack_args = StackValidationArgs(resources, dict(cfg) or None)
                call(policy, stack_args, reporter(policy, level, None), "")
    return violations
