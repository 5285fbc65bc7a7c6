"""Helpers for the policy tests: call `validate` directly, the way CrossGuard does
(pulumi/pulumi-policy sdk/python/lib/test/test_policy.py `run_policy`), and build
hand-made plans for the offline runner. No tests here."""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from typing import Any

from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from mailinfra.engine import Plan, PlannedResource

UNKNOWN = UNKNOWN_STRING_VALUE  # how the engine sends an unknown to a pack


@contextmanager
def pack_env(
    environment: str | None = "prod", stack: str = "test", config: dict[str, Any] | None = None, project: str = "mailinfra"
):
    """The variables the CLI starts the pack with (PULUMI_CONFIG / PROJECT / STACK)."""
    cfg = {k: (v if isinstance(v, str) else json.dumps(v)) for k, v in (config or {}).items()}
    if environment:
        cfg[f"{project}:environment"] = environment
    wanted = {"PULUMI_CONFIG": json.dumps(cfg), "PULUMI_STACK": stack, "PULUMI_PROJECT": project}
    saved = {k: os.environ.get(k) for k in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def opts(protect: bool = False, parent: str | None = None) -> PolicyResourceOptions:
    return PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], parent)


def provider(props: dict[str, Any] | None = None, type_: str = "pulumi:providers:aws") -> PolicyProviderResource:
    return PolicyProviderResource(type_, unknown_checking_proxy(props or {}), f"urn:pulumi:test::mailinfra::{type_}::p", "p")


def urn(type_: str, name: str) -> str:
    return f"urn:pulumi:test::mailinfra::{type_}::{name}"


def run_resource(
    policy: Any,
    type_: str,
    props: dict[str, Any],
    *,
    protect: bool = False,
    provider_props: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
    env: str = "prod",
    stack_config: dict[str, Any] | None = None,
    name: str = "r",
) -> list[str]:
    messages: list[str] = []
    with pack_env(env, config=stack_config):
        args = ResourceValidationArgs(
            type_,
            unknown_checking_proxy(props),
            urn(type_, name),
            name,
            opts(protect),
            provider(provider_props) if provider_props is not None else None,
            config,
        )
        policy.validate(args, lambda message, u=None: messages.append(message))
    return messages


def policy_resources(specs: list[dict[str, Any]]) -> list[PolicyResource]:
    """specs: {type, name, props, deps: [names], prop_deps: {key: [names]}, provider: props, protect}."""
    out: dict[str, PolicyResource] = {}
    for spec in specs:
        prov = provider(spec["provider"]) if "provider" in spec else None
        out[spec["name"]] = PolicyResource(
            spec["type"],
            unknown_checking_proxy(spec.get("props", {})),
            urn(spec["type"], spec["name"]),
            spec["name"],
            opts(spec.get("protect", False)),
            prov,
            None,
            [],
            {},
        )
    for spec in specs:
        res = out[spec["name"]]
        res.dependencies = [out[d] for d in spec.get("deps", [])]
        res.property_dependencies = {k: [out[d] for d in v] for k, v in spec.get("prop_deps", {}).items()}
    return list(out.values())


def run_stack(
    policy: Any,
    specs: list[dict[str, Any]],
    *,
    config: dict[str, Any] | None = None,
    env: str = "prod",
    stack_config: dict[str, Any] | None = None,
) -> list[tuple[str, str | None]]:
    found: list[tuple[str, str | None]] = []
    with pack_env(env, config=stack_config):
        args = StackValidationArgs(policy_resources(specs), config)
        policy.validate(args, lambda message, u=None: found.append((message, u)))
    return found


def planned(specs: list[dict[str, Any]], stack: str = "test") -> list[PlannedResource]:
    by_name = {s["name"]: urn(s["type"], s["name"]) for s in specs}
    return [
        PlannedResource(
            urn=by_name[s["name"]],
            type=s["type"],
            name=s["name"],
            parent=None,
            custom=True,
            inputs=dict(s.get("props", {})),
            outputs={},
            dependencies=[by_name[d] for d in s.get("deps", [])],
            property_dependencies={k: [by_name[d] for d in v] for k, v in s.get("prop_deps", {}).items()},
            options={"protect": s.get("protect", False), "ignoreChanges": [], "provider": None},
        )
        for s in specs
    ]


def make_plan(specs: list[dict[str, Any]], *, stack: str = "test", config: dict[str, Any] | None = None) -> Plan:
    return Plan(project="mailinfra", stack=stack, config=dict(config or {}), resources=planned(specs), outputs={})
