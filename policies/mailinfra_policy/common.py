"""Shared machinery of the mailinfra-security pack: environments, levels, props, policies.

Enforcement by environment (the honest design under the real CLI)
-----------------------------------------------------------------
CrossGuard fixes one enforcement level per policy for a whole run: the engine reads it
from the pack (``GetAnalyzerInfo``), overlays ``--policy-pack-config`` and sends the
result back (``Configure``); a validation cannot pick a level per violation. So the
level of every policy is a function of the *environment*, evaluated when the engine
asks for it:

1. ``LEVELS[policy][environment]`` is the table (e.g. ``spf-hard-fail``: advisory in
   dev, mandatory in staging and prod).
2. The environment is resolved from the policy-pack process: the CLI starts the pack
   with ``PULUMI_CONFIG`` (the stack's config as JSON), ``PULUMI_PROJECT`` and
   ``PULUMI_STACK``. ``<project>:environment`` wins, else the stack name
   (``prod``/``production``/``*-prod``...), else ``prod`` (strictest).
3. ``EnvPolicy.enforcement_level`` is a property that evaluates 1 with 2, so what
   ``GetAnalyzerInfo`` reports is already environment-specific and the engine enforces
   it natively.
4. Policy config comes last, as CrossGuard applies it: ``all`` / per-policy
   ``enforcementLevel`` overrides the table. ``policy_config_for(env)`` renders a full
   ``--policy-pack-config`` file (``enforcementLevel`` *and* ``environment`` for every
   policy); the shipped ``policies/config/<env>.json`` are those files. A bare
   ``environment`` property in policy config is visible to rules (``get_config()``)
   but cannot change a level on its own: the CLI fixes levels before a rule runs.

``mailinfra.policyrun`` reproduces 2-4 exactly: it sets the same three variables,
reads ``policy.enforcement_level`` and reconciles the policy config the way the engine
does.
"""

from __future__ import annotations

import fnmatch
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Secret,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from .standards._common import ENVIRONMENTS

__all__ = [
    "ENVIRONMENTS",
    "LEVELS",
    "REMEDIATION",
    "SECTION",
    "SEVERITY",
    "UNKNOWN",
    "EnvResourcePolicy",
    "EnvStackPolicy",
    "ResourceCheck",
    "allowed_statements",
    "condition_values",
    "dependencies_of",
    "environment_from_stack",
    "grants",
    "is_unknown",
    "level_for",
    "on_property",
    "plain",
    "policy_config_for",
    "principals",
    "process_environment",
    "resource_policy",
    "stack_config",
    "stack_policy",
    "statements",
    "strings",
]

MANDATORY = EnforcementLevel.MANDATORY
ADVISORY = EnforcementLevel.ADVISORY

# Shorthand level rows: (dev, staging, prod).
ALWAYS = (MANDATORY, MANDATORY, MANDATORY)
PROD_STAGING = (ADVISORY, MANDATORY, MANDATORY)
PROD_ONLY = (ADVISORY, ADVISORY, MANDATORY)

LEVELS: dict[str, dict[str, EnforcementLevel]] = {}
REMEDIATION: dict[str, str] = {}
SEVERITY: dict[str, Severity] = {}
# policy -> the stack config section (under the project namespace) that configures its
# concern: where a report points a violation that names no domain.
SECTION: dict[str, str] = {}


# --------------------------------------------------------------------------- values


class _Unknown:
    """A property a preview cannot know yet (the engine's unknown sentinel)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<unknown>"

    def __bool__(self) -> bool:
        return False


UNKNOWN = _Unknown()

_SENTINELS = frozenset(
    {
        "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",
        "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
        "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
        "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
        "030794c1-ac77-496b-92df-f27374a8bd58",
        "e48ece36-62e2-4504-bad9-02848725956a",
        "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",
    }
)


def is_unknown(value: Any) -> bool:
    return value is UNKNOWN or (isinstance(value, str) and value in _SENTINELS)


def plain(value: Any) -> Any:
    """Props (CrossGuard's unknown-checking proxies) -> plain dict/list, unknowns -> UNKNOWN.

    Never raises on an unknown: reading a proxied unknown raises UnknownValueError, which
    is caught per item. Secrets (pulumi_policy.Secret) are unwrapped, as CrossGuard does.
    """
    if isinstance(value, Secret):
        return plain(value.value)
    if isinstance(value, str):
        return UNKNOWN if value in _SENTINELS else value
    if value is UNKNOWN or value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key in list(iter(value)):
            try:
                item = value[key]
            except UnknownValueError:
                out[key] = UNKNOWN
                continue
            out[key] = plain(item)
        return out
    if isinstance(value, Sequence):
        items: list[Any] = []
        for index in range(len(value)):
            try:
                items.append(plain(value[index]))
            except UnknownValueError:
                items.append(UNKNOWN)
        return items
    if type(value).__name__ == "_Unknown":  # mailinfra.values.UNKNOWN, without importing it
        return UNKNOWN
    return value


def get(props: Any, *path: str | int) -> Any:
    """props[a][b]...: None when missing or of the wrong shape, UNKNOWN when unknown."""
    current = props
    for key in path:
        if is_unknown(current):
            return UNKNOWN
        if isinstance(key, int):
            if not isinstance(current, list) or key >= len(current):
                return None
            current = current[key]
        else:
            if not isinstance(current, Mapping):
                return None
            current = current.get(key)
        if current is None:
            return None
    return UNKNOWN if is_unknown(current) else current


def as_list(value: Any) -> list[Any]:
    """A list property: [] when missing/unknown; a scalar becomes a one-item list."""
    if value is None or is_unknown(value):
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, tuple):
        return list(value)
    return [value]


def as_json(value: Any) -> Any:
    """A policy document / provider config may be a JSON string or already an object."""
    if isinstance(value, str) and not is_unknown(value):
        stripped = value.strip()
        if stripped[:1] in ("{", "["):
            try:
                return json.loads(stripped)
            except ValueError:
                return None
    return value


def as_int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None or is_unknown(value):
        return None
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


# ----------------------------------------------------------------- environment


def environment_from_stack(stack: str | None) -> str | None:
    """Stack name -> environment: 'prod', 'acme/mail/production', 'prod-eu' -> 'prod'."""
    if not stack:
        return None
    name = stack.rsplit("/", 1)[-1].lower()
    aliases = {
        "prod": "prod",
        "production": "prod",
        "prd": "prod",
        "live": "prod",
        "staging": "staging",
        "stage": "staging",
        "stg": "staging",
        "preprod": "staging",
        "dev": "dev",
        "development": "dev",
        "test": "dev",
        "sandbox": "dev",
    }
    if name in aliases:
        return aliases[name]
    for part in name.replace("_", "-").split("-"):
        if part in aliases:
            return aliases[part]
    return None


def _normalize_env(value: Any) -> str | None:
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ENVIRONMENTS:
            return lowered
        return environment_from_stack(lowered)
    return None


def _process_config() -> dict[str, Any]:
    raw = os.environ.get("PULUMI_CONFIG")
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def stack_config(key: str, project: str | None = None) -> Any:
    """A stack config value as the CLI hands it to the pack (PULUMI_CONFIG).

    ``key`` is 'ns:key' or a bare key (then the project namespace). Object values arrive
    JSON-encoded and are decoded. None when absent.
    """
    config = _process_config()
    if ":" not in key:
        key = f"{project or os.environ.get('PULUMI_PROJECT') or 'mailinfra'}:{key}"
    value = config.get(key)
    return as_json(value) if value is not None else None


def project_config() -> dict[str, Any]:
    """Every '<project>:*' key of the stack config, namespace stripped, values decoded."""
    project = os.environ.get("PULUMI_PROJECT") or "mailinfra"
    out: dict[str, Any] = {}
    for key, value in _process_config().items():
        ns, _, bare = key.partition(":")
        if ns == project and bare:
            out[bare] = as_json(value)
    return out


def fleet_role() -> str | None:
    """``<project>:fleet.role`` of the stack being judged (core, shard), None outside a sharded fleet."""
    fleet = project_config().get("fleet")
    role = fleet.get("role") if isinstance(fleet, dict) else None
    return role if isinstance(role, str) else None


def process_environment() -> str:
    """The environment of this pack process: <project>:environment, else the stack name, else prod."""
    env = _normalize_env(stack_config("environment"))
    if env is None:
        env = environment_from_stack(os.environ.get("PULUMI_STACK"))
    return env or "prod"


def resolve_environment(config: Mapping[str, Any] | None = None) -> str:
    """For rules: policy config 'environment', else the process environment."""
    if config:
        env = _normalize_env(config.get("environment"))
        if env:
            return env
    return process_environment()


def level_for(policy_name: str, environment: str) -> EnforcementLevel:
    row = LEVELS.get(policy_name)
    if row is None:
        return MANDATORY
    return row.get(environment, MANDATORY)


def policy_config_for(environment: str, names: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
    """A complete --policy-pack-config for one environment (levels + environment)."""
    out: dict[str, dict[str, Any]] = {}
    for name in names if names is not None else sorted(LEVELS):
        out[name] = {"enforcementLevel": level_for(name, environment).value, "environment": environment}
    return out


# -------------------------------------------------------------------- policies

_ENV_PROPERTY = {
    "type": "string",
    "enum": list(ENVIRONMENTS),
    "description": "Environment (dev|staging|prod); rendered with the level by policy_config_for().",
}


class _EnvironmentLevel:
    """Enforcement level that follows the environment (see module doc); the LEVELS table decides."""

    name: str
    config_section: str | None = None  # see SECTION

    @property
    def enforcement_level(self) -> EnforcementLevel:
        return level_for(self.name, process_environment())

    @enforcement_level.setter
    def enforcement_level(self, _value: Any) -> None:
        return None


class EnvResourcePolicy(_EnvironmentLevel, ResourceValidationPolicy):  # type: ignore[misc]  # property over attribute
    """A resource policy whose enforcement level follows the environment (see module doc)."""


class EnvStackPolicy(_EnvironmentLevel, StackValidationPolicy):  # type: ignore[misc]  # property over attribute
    """A stack policy whose enforcement level follows the environment (see module doc)."""


Report = Callable[..., None]
# check(type, props, args, config) -> messages: what resource_policy runs on every resource.
ResourceCheck = Callable[[str, dict[str, Any], ResourceValidationArgs, dict[str, Any]], Iterable[str]]


def _register(name: str, levels: tuple[EnforcementLevel, ...], severity: Severity, remediation: str, section: str) -> None:
    if name in LEVELS:
        raise ValueError(f"duplicate policy name {name!r}")
    LEVELS[name] = dict(zip(ENVIRONMENTS, levels))
    REMEDIATION[name] = remediation
    SEVERITY[name] = severity
    SECTION[name] = section


def _schema(config: Mapping[str, Mapping[str, Any]] | None) -> PolicyConfigSchema:
    properties: dict[str, dict[str, Any]] = {"environment": dict(_ENV_PROPERTY)}
    for key, spec in (config or {}).items():
        properties[key] = dict(spec)
    return PolicyConfigSchema(properties=properties)


def defaults(config_schema: Mapping[str, Mapping[str, Any]] | None, given: Mapping[str, Any] | None) -> dict[str, Any]:
    """Policy config with schema defaults filled in (the engine does the same)."""
    out = {key: spec["default"] for key, spec in (config_schema or {}).items() if "default" in spec}
    out.update(dict(given or {}))
    return out


def _policy(
    cls: type[Any],
    name: str,
    description: str,
    validate: Callable[..., None],
    severity: Severity,
    remediation: str,
    schema_props: Mapping[str, Mapping[str, Any]],
) -> Any:
    policy = cls(
        name=name,
        description=f"{description} Remediation: {remediation}",
        validate=validate,
        enforcement_level=MANDATORY,
        config_schema=_schema(schema_props),
        severity=severity,
        remediation_steps=remediation,
    )
    policy.config_section = SECTION[name]
    return policy


def resource_policy(
    name: str,
    description: str,
    *,
    types: Iterable[str] | None,
    check: ResourceCheck,
    severity: Severity,
    remediation: str,
    section: str,
    levels: tuple[EnforcementLevel, ...] = ALWAYS,
    config: Mapping[str, Mapping[str, Any]] | None = None,
) -> EnvResourcePolicy:
    """A resource policy filtered on type tokens (``types=None``: every type).

    ``check(type, props, args, config) -> messages``: props are plain (see ``plain``),
    config has schema defaults. Every message becomes one violation. ``section`` is the
    stack config section of the rule's concern (``SECTION``).
    """
    _register(name, levels, severity, remediation, section)
    wanted = None if types is None else frozenset(types)
    schema_props = dict(config or {})

    def validate(args: ResourceValidationArgs, report: Report) -> None:
        if wanted is not None and args.resource_type not in wanted:
            return
        props = plain(args.props)
        if not isinstance(props, dict):
            return
        cfg = defaults(schema_props, args.get_config())
        for message in check(args.resource_type, props, args, cfg):
            report(message)

    return _policy(EnvResourcePolicy, name, description, validate, severity, remediation, schema_props)


def stack_policy(
    name: str,
    description: str,
    *,
    check: Callable[[StackValidationArgs, dict[str, Any]], Iterable[tuple[str, str | None]]],
    severity: Severity,
    remediation: str,
    section: str,
    levels: tuple[EnforcementLevel, ...] = ALWAYS,
    config: Mapping[str, Mapping[str, Any]] | None = None,
    account_wide: bool = False,
) -> EnvStackPolicy:
    """A stack policy; ``check(args, config)`` yields (message, urn or None); ``section`` as
    for ``resource_policy``. ``account_wide``: what the account has once (the trail,
    GuardDuty, ...) is a sharded fleet's core's, so a shard alone is not judged by it; the
    core is, and ``mailinfra plan --fleet`` judges the fleet's union."""
    _register(name, levels, severity, remediation, section)
    schema_props = dict(config or {})

    def validate(args: StackValidationArgs, report: Report) -> None:
        if account_wide and fleet_role() == "shard":
            return
        cfg = defaults(schema_props, args.get_config())
        for message, urn in check(args, cfg):
            report(message, urn)

    return _policy(EnvStackPolicy, name, description, validate, severity, remediation, schema_props)


def on_property(*path: str, when: Callable[[dict[str, Any]], bool] | None = None) -> Callable[..., ResourceCheck]:
    """Decorator: ``judge(value, config) -> messages`` on the property at ``path`` becomes a
    ResourceCheck. Resources where ``when(props)`` is false, or the value is unknown, are skipped."""

    def wrap(judge: Callable[[Any, dict[str, Any]], Iterable[str]]) -> ResourceCheck:
        def check(type_: str, props: dict[str, Any], args: ResourceValidationArgs, cfg: dict[str, Any]) -> Iterator[str]:
            if when is not None and not when(props):
                return
            value = get(props, *path)
            if is_unknown(value):
                return
            yield from judge(value, cfg)

        return check

    return wrap


# ------------------------------------------------------------- stack helpers


class StackView:
    """Plain-prop view of StackValidationArgs.resources, built once (linear).

    ``StackView.of(args)`` shares one view among stack policies that are handed the
    same resource list object, as ``mailinfra plan`` does, so the props are made plain
    once per run, not once per policy. (The CrossGuard server builds a new list per
    policy; there each policy gets a fresh view.) Read-only by contract.
    """

    _last: tuple[Any, StackView] | None = None

    def __init__(self, args: StackValidationArgs) -> None:
        self.resources = list(args.resources)
        self.props: dict[str, dict[str, Any]] = {}
        self.by_urn: dict[str, Any] = {}
        self.cache: dict[str, Any] = {}  # derived views (e.g. the DNS records), per view
        for resource in self.resources:
            p = plain(resource.props)
            self.props[resource.urn] = p if isinstance(p, dict) else {}
            self.by_urn[resource.urn] = resource

    @classmethod
    def of(cls, args: StackValidationArgs) -> StackView:
        last = cls._last
        if last is not None and last[0] is args.resources and len(last[1].resources) == len(args.resources):
            return last[1]
        view = cls(args)
        cls._last = (args.resources, view)
        return view

    def of_type(self, *types: str) -> list[Any]:
        wanted = set(types)
        return [r for r in self.resources if r.resource_type in wanted]


def dependencies_of(resource: Any) -> list[Any]:
    """A stack resource's dependencies and property dependencies (not its parent)."""
    out = list(getattr(resource, "dependencies", None) or [])
    for values in (getattr(resource, "property_dependencies", None) or {}).values():
        out.extend(values or [])
    return out


def provider_props(provider: Any) -> dict[str, Any]:
    if provider is None:
        return {}
    p = plain(getattr(provider, "props", None) or {})
    return p if isinstance(p, dict) else {}


def resource_region(props: Mapping[str, Any], provider: Any) -> Any:
    """Region of an AWS resource: its own `region` (pulumi-aws v7), else its provider's
    `region`, else the stack's `aws:region`; UNKNOWN only when none of them is known,
    None when there is no region at all.

    An unknown own `region` falls through: in a preview it is the output pulumi-aws
    computes from the provider (an S3 bucket's `region`), so the provider's known
    region decides rather than leaving the resource unjudged.
    """
    own = get(props, "region")
    if isinstance(own, str):
        return own
    region = get(provider_props(provider), "region")
    if isinstance(region, str) or is_unknown(region):
        return region  # the provider's region decides, known or not
    region = stack_config("aws:region")
    if isinstance(region, str):
        return region
    return UNKNOWN if is_unknown(own) else None


# ---------------------------------------------------------- policy documents


def statements(document: Any) -> list[dict[str, Any]]:
    """The Statement list of an IAM / key policy document (JSON string or object)."""
    doc = as_json(document)
    if not isinstance(doc, dict):
        return []
    return [s for s in as_list(as_json(doc.get("Statement"))) if isinstance(s, dict)]


def allowed_statements(document: Any) -> Iterator[tuple[Any, dict[str, Any]]]:
    """(Sid, else the statement's index, statement) of every Allow statement."""
    for index, statement in enumerate(statements(document)):
        if statement.get("Effect") == "Allow":
            yield statement.get("Sid", index), statement


def strings(value: Any) -> list[str]:
    return [v for v in as_list(value) if isinstance(v, str)]


def action_matches(pattern: str, action: str) -> bool:
    """IAM wildcard match, case-insensitive ('kms:Disable*' matches 'kms:DisableKey')."""
    return fnmatch.fnmatchcase(action.lower(), pattern.lower())


def grants(statement: dict[str, Any], action: str) -> bool:
    if "NotAction" in statement:
        return not any(action_matches(p, action) for p in strings(statement["NotAction"]))
    return any(action_matches(p, action) for p in strings(statement.get("Action")))


def principals(statement: dict[str, Any]) -> list[str]:
    principal = statement.get("Principal")
    if isinstance(principal, str):
        return [principal]
    if isinstance(principal, dict):
        out: list[str] = []
        for value in principal.values():
            out.extend(strings(value))
        return out
    return []


def condition_values(statement: dict[str, Any], key: str, operator_prefix: str = "") -> Iterator[Any]:
    """Values of condition key ``key`` (lower case; matched case-insensitively) under the
    statement's condition operators that start with ``operator_prefix``."""
    condition = statement.get("Condition")
    if not isinstance(condition, dict):
        return
    for operator, body in condition.items():
        if isinstance(operator, str) and operator.startswith(operator_prefix) and isinstance(body, dict):
            yield from (value for name, value in body.items() if str(name).lower() == key)
