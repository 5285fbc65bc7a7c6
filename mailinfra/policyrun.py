"""Offline CrossGuard: judge a `Plan` with a policy pack, as the Pulumi CLI would.

`run_policies(plan, policy_pack_dir=None, environment=None, policy_config=None)`
returns `list[Violation]`. What the CLI does, step by step, and what we do:

1. The CLI starts the pack process with `PULUMI_CONFIG` (the stack config as JSON,
   secrets decrypted), `PULUMI_PROJECT`, `PULUMI_STACK` and `PULUMI_DRY_RUN`. We set
   the same variables for the duration of the run (`environment=` acts as the stack's
   `<project>:environment` config).
2. `GetAnalyzerInfo` reads every policy's `enforcement_level` (None -> the pack's
   level, else advisory) and config schema; the engine overlays the pack's
   `initial_config`, then `--policy-pack-config` (`all`, then per policy), validates
   each policy's properties against its schema and sends the result back
   (`Configure`): `reconcile_config`, with `mailinfra.policyconfig` (the code the gRPC
   harness uses too). `policy_config=` is that file's content (a mapping or a path); a
   bad level, an unknown policy name or a value its schema rejects is a
   `PolicyPackError` before any rule runs.
3. `Analyze` runs every resource policy on every resource the engine registers
   (`mailinfra.crossguard.engine_resources`: the root stack, default providers,
   components, custom resources) with its *inputs* as the pack decodes them from the
   wire (unknowns are the engine's sentinel strings behind `unknown_checking_proxy`,
   secrets arrive decrypted, numbers are floats), options, provider and config;
   `AnalyzeStack` runs every stack policy once on all of them (their state, parent,
   dependencies and property dependencies as `PolicyResource` objects). A policy that
   reads an unknown value gets CrossGuard's advisory "can't run policy ... during
   preview" diagnostic on that resource; one that raises anything else fails the run
   (`PolicyPackError`), as it fails `pulumi preview`.

`tests/test_analyzer_grpc.py` starts the same pack the way the CLI does and drives it
over gRPC (`mailinfra.analyzer_harness`); its diagnostics must equal these violations.

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
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
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
    UnknownValueError,
    unknown_checking_proxy,
)

from .crossguard import EngineResource, as_pack_sees, engine_resources, stack_config
from .policyconfig import PolicyConfig, PolicyConfigError, PolicyInfo, load_policy_config, parse_policy_config, reconcile

__all__ = [
    "LoadedPack",
    "PolicyPackError",
    "Violation",
    "default_pack_dir",
    "load_pack",
    "policy_infos",
    "reconcile_config",
    "run_policies",
]


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
        return {
            "policy": self.policy,
            "enforcement": self.enforcement,
            "severity": self.severity,
            "urn": self.urn,
            "message": self.message,
        }


@dataclass
class LoadedPack:
    name: str
    policies: list[Policy]
    enforcement_level: EnforcementLevel | None = None
    initial_config: dict[str, Any] = field(default_factory=dict)
    directory: str = ""


def default_pack_dir() -> str:
    """The pack shipped with mailinfra: ``mailinfra/policies`` (mailinfra.pack.pack_dir)."""
    from .pack import pack_dir

    here = pack_dir()
    if (here / "__main__.py").is_file():
        return str(here)
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

        def stub(
            name: str,
            policies: list[Policy],
            enforcement_level: EnforcementLevel | None = None,
            initial_config: dict[str, Any] | None = None,
            **_: Any,
        ) -> None:
            captured.update(
                name=name, policies=list(policies), enforcement_level=enforcement_level, initial_config=dict(initial_config or {})
            )
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
        pack = LoadedPack(
            captured["name"], captured["policies"], captured["enforcement_level"], captured["initial_config"], directory
        )
        _PACK_CACHE[directory] = pack
        return pack


# --------------------------------------------------------------- process env


@contextmanager
def _pack_process_env(plan: Any, environment: str | None) -> Iterator[None]:
    wanted = {
        "PULUMI_CONFIG": json.dumps(stack_config(plan, environment), separators=(",", ":"), sort_keys=True),
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


def policy_infos(pack: LoadedPack) -> list[PolicyInfo]:
    """What `GetAnalyzerInfo` reports for each policy (call inside the pack's process env:
    a policy's level may follow the environment)."""
    pack_level = pack.enforcement_level or EnforcementLevel.ADVISORY
    infos = []
    for policy in pack.policies:
        level = policy.enforcement_level if policy.enforcement_level is not None else pack_level
        schema = policy.config_schema
        infos.append(
            PolicyInfo(
                policy.name,
                level.value,
                dict(schema.properties) if schema else {},
                tuple(schema.required or ()) if schema else (),
            )
        )
    return infos


def _as_config(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Programmatic config may use EnforcementLevel members where the file has strings."""
    if value is None:
        return None
    out: dict[str, Any] = {}
    for key, entry in value.items():
        if isinstance(entry, EnforcementLevel):
            entry = entry.value
        elif isinstance(entry, Mapping) and isinstance(entry.get("enforcementLevel"), EnforcementLevel):
            entry = {**entry, "enforcementLevel": entry["enforcementLevel"].value}
        out[key] = entry
    return out


def _given_config(policy_config: Mapping[str, Any] | str | os.PathLike[str] | None) -> dict[str, PolicyConfig] | None:
    if policy_config is None:
        return None
    if isinstance(policy_config, Mapping):
        return parse_policy_config(_as_config(policy_config))
    return load_policy_config(policy_config)


def reconcile_config(
    pack: LoadedPack, policy_config: Mapping[str, Any] | str | os.PathLike[str] | None
) -> dict[str, PolicyConfig]:
    """The policy config the engine would send `Configure`, validated as the CLI validates it
    (plus unknown policy names). Raises PolicyConfigError naming the policy and key."""
    source = "" if policy_config is None or isinstance(policy_config, Mapping) else os.fspath(policy_config)
    initial = parse_policy_config(_as_config(pack.initial_config) or {}, "initial_config")
    return reconcile(policy_infos(pack), initial, _given_config(policy_config), strict=True, source=source)


# ------------------------------------------------------------------ resources


def _options(resource: EngineResource) -> PolicyResourceOptions:
    opts = resource.options
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
        custom_timeouts=PolicyCustomTimeouts(
            seconds(timeouts.get("create")), seconds(timeouts.get("update")), seconds(timeouts.get("delete"))
        ),
        additional_secret_outputs=list(opts.get("additionalSecretOutputs") or []),
        parent=resource.parent or None,
    )


def _provider(resource: EngineResource) -> PolicyProviderResource | None:
    p = resource.provider
    if p is None:
        return None
    return PolicyProviderResource(p.type, unknown_checking_proxy(as_pack_sees(p.inputs)), p.urn, p.name)


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


# pulumi_policy's Python servicer always reports this version (the CLI shows PulumiPolicy.yaml's
# beside it, but the "can't run policy" text is built inside the pack).
_PYTHON_PACK_VERSION = "0.0.1"


def run_policies(
    plan: Any,
    policy_pack_dir: str | None = None,
    environment: str | None = None,
    policy_config: Mapping[str, Any] | str | os.PathLike[str] | None = None,
    on_judged: Callable[[int, int], None] | None = None,
    kinds: str = "all",
) -> list[Violation]:
    """Judge `plan` with the pack; violations in CrossGuard's order (resource, then stack).

    `kinds`: "resource" or "stack" runs only those policies (mailinfra/fleet.py judges each
    stack's resources in its worker and the stack policies once over the fleet's union).

    `on_judged(done, total)` (progress display) counts policy evaluations: each resource
    policy on each resource, each stack policy once."""
    pack = load_pack(policy_pack_dir)
    violations: list[Violation] = []
    resources = engine_resources(plan)
    by_urn = {r.urn: r for r in resources}

    with _LOCK, _pack_process_env(plan, environment):
        try:
            reconciled = reconcile_config(pack, policy_config)
        except PolicyConfigError as exc:
            raise PolicyPackError(f"policy config: {exc}") from None
        active = []
        for p in pack.policies:
            entry = reconciled[p.name]
            if entry.enforcement == "disabled":
                continue
            # Sent through Configure as a Struct: the pack sees numbers as floats.
            cfg = as_pack_sees(entry.properties) if entry.properties else None
            active.append((p, EnforcementLevel(entry.enforcement), cfg))

        def reporter(policy: Policy, level: EnforcementLevel, fixed_urn: str | None) -> Any:
            enforcement = "mandatory" if level in (EnforcementLevel.MANDATORY, EnforcementLevel.REMEDIATE) else "advisory"

            def report(message: str, urn: str | None = None) -> None:
                if message and not isinstance(message, str):
                    raise TypeError("Expected message to be a string")
                # The engine pins a resource policy's violation to the analyzed resource, and a
                # stack policy's to the URN it names if that is in the stack (else the stack).
                target = fixed_urn if fixed_urn is not None else (urn if urn in by_urn else "")
                res = by_urn.get(target)
                violations.append(
                    Violation(
                        policy=policy.name,
                        enforcement=enforcement,
                        severity=_severity(policy),
                        urn=target,
                        message=message or policy.description,
                        resource_type=res.type if res else "",
                        resource_name=res.name if res else "",
                        description=policy.description,
                        remediation=getattr(policy, "remediation_steps", None) or "",
                    )
                )

            return report

        def call(policy: Policy, args: Any, report: Any, urn: str) -> None:
            try:
                _run(policy.validate(args, report))  # type: ignore[attr-defined]
            except UnknownValueError as exc:
                res = by_urn.get(urn)
                violations.append(
                    Violation(
                        policy=policy.name,
                        enforcement="advisory",
                        severity="unspecified",
                        urn=urn,
                        message=(
                            f"can't run policy '{policy.name}' from policy pack "
                            f"'{pack.name}@v{_PYTHON_PACK_VERSION}' during preview: {exc.message}"
                        ),
                        resource_type=res.type if res else "",
                        resource_name=res.name if res else "",
                        description=policy.description,
                    )
                )
            except policy_module._NotApplicableError:
                pass
            except Exception as exc:
                raise PolicyPackError(
                    f"policy {policy.name!r} failed on {urn or 'the stack'}: {type(exc).__name__}: {exc}"
                ) from exc

        resource_policies = [a for a in active if isinstance(a[0], ResourceValidationPolicy) and kinds != "stack"]
        stack_policies = [a for a in active if isinstance(a[0], StackValidationPolicy) and kinds != "resource"]

        total = len(resources) * len(resource_policies) + len(stack_policies)
        if on_judged is not None:
            on_judged(0, total)

        # Analyze: every resource the engine registers (inputs), every resource policy.
        for done, resource in enumerate(resources if resource_policies else [], 1):
            props = unknown_checking_proxy(as_pack_sees(resource.inputs))
            opts = _options(resource)
            provider = _provider(resource)
            for policy, level, cfg in resource_policies:
                args = ResourceValidationArgs(resource.type, props, resource.urn, resource.name, opts, provider, cfg)
                call(policy, args, reporter(policy, level, resource.urn), resource.urn)
            if on_judged is not None:
                on_judged(done * len(resource_policies), total)

        # AnalyzeStack: every resource's state as PolicyResource, links resolved.
        if stack_policies:
            policy_resources: dict[str, PolicyResource] = {}
            for resource in resources:
                policy_resources[resource.urn] = PolicyResource(
                    resource.type,
                    unknown_checking_proxy(as_pack_sees(resource.state)),
                    resource.urn,
                    resource.name,
                    _options(resource),
                    _provider(resource),
                    None,
                    [],
                    {},
                )
            for resource in resources:
                pr = policy_resources[resource.urn]
                if resource.parent and resource.parent in policy_resources:
                    pr.parent = policy_resources[resource.parent]
                pr.dependencies = [policy_resources[d] for d in resource.dependencies if d in policy_resources]
                pr.property_dependencies = {
                    key: [policy_resources[d] for d in urns if d in policy_resources]
                    for key, urns in resource.property_dependencies.items()
                    if urns
                }
            stack_resources = list(policy_resources.values())
            for policy, level, cfg in stack_policies:
                stack_args = StackValidationArgs(stack_resources, cfg)
                call(policy, stack_args, reporter(policy, level, None), "")
            if on_judged is not None:
                on_judged(total, total)
    return violations
