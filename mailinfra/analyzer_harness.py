"""Judge a `Plan` with a policy pack over gRPC, the way `pulumi preview --policy-pack DIR` does.

The nearest thing to the real CLI that runs without it. `analyze_plan(plan, python=...,
pack_dir=...)` follows the CLI's steps (pulumi/pulumi `pkg/resource/plugin/analyzer_plugin.go`,
`pkg/engine/update.go`, `pkg/resource/deploy/step_generator.go`):

1. Serve an Engine gRPC service (`pulumirpc.Engine`: Log, Get/SetRootResource,
   RequirePulumiVersion, StartDebugging) on loopback, as the CLI's host does; its address
   is the pack's first argument. Log calls are recorded. (pulumi's `pulumi.policy`
   module accepts the address and, in 3.x, logs to stderr instead of dialling it.)
2. Start the pack as the Python analyzer shim does: `<python> -u -m pulumi.policy
   <engine-address> .` with cwd = the pack directory, `PYTHONHOME` unset, the pack's
   venv first on PATH, and `PULUMI_CONFIG` (the stack config as a JSON object of strings,
   secrets decrypted), `PULUMI_PROJECT`, `PULUMI_STACK`, `PULUMI_DRY_RUN`,
   `PULUMI_ORGANIZATION` (when given). The pack prints its port as the first line of stdout.
3. `Handshake` (UNIMPLEMENTED is fine, as for the CLI), `ConfigureStack` (stack, project,
   organization, dry run, config, secret keys, tags), `GetAnalyzerInfo`,
   `GetPluginInfo`, then `Configure` with the policy config reconciled and validated by
   `mailinfra.policyconfig` (the CLI's ReconcilePolicyPackConfig).
4. `Analyze` once per resource in registration order - the root stack, each default
   provider just before its first user, explicit providers, components and custom
   resources - with the resource's inputs as a protobuf Struct encoded as the engine
   marshals them (unknowns as the unknown sentinel, secrets as the secret signature
   object, numbers as doubles, top-level `__` keys dropped), its options and its
   provider (type, URN, name, inputs).
5. `AnalyzeStack` once with every resource's state (custom: outputs over inputs, as a
   provider's preview echoes them; components and the root stack: their registered
   outputs), parent, dependencies and property dependencies.

Diagnostics are attributed as the engine attributes them: an `Analyze` diagnostic to the
analyzed resource; an `AnalyzeStack` one to the URN it names if that is in the stack,
else the whole stack (`""` here; the CLI shows the root stack URN).

What the harness cannot reproduce: provider `Check` (defaults a real provider adds to
inputs) and provider previews of outputs; the plan's mock outputs stand in for them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import empty_pb2, json_format
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc, engine_pb2, engine_pb2_grpc, plugin_pb2

from .crossguard import EngineResource, engine_resources, plain, stack_config, to_struct
from .policyconfig import PolicyConfig, PolicyInfo, reconcile
from .values import Secret

__all__ = [
    "AnalyzerError",
    "AnalyzerRun",
    "Diagnostic",
    "EngineService",
    "LogRecord",
    "analyze_plan",
    "pack_environment",
    "start_pack",
]

_LEVEL_NAMES = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.REMEDIATE: "remediate",
    analyzer_pb2.DISABLED: "disabled",
}
_LEVEL_VALUES = {name: value for value, name in _LEVEL_NAMES.items()}
_SEVERITY_NAMES = {
    analyzer_pb2.POLICY_SEVERITY_UNSPECIFIED: "unspecified",
    analyzer_pb2.POLICY_SEVERITY_LOW: "low",
    analyzer_pb2.POLICY_SEVERITY_MEDIUM: "medium",
    analyzer_pb2.POLICY_SEVERITY_HIGH: "high",
    analyzer_pb2.POLICY_SEVERITY_CRITICAL: "critical",
}
_MAX_MESSAGE = 400 * 1024 * 1024  # the CLI's gRPC message limit for analyzers
_CHANNEL_OPTIONS = [("grpc.max_receive_message_length", _MAX_MESSAGE), ("grpc.max_send_message_length", _MAX_MESSAGE)]


class AnalyzerError(Exception):
    """The pack did not start, or an RPC failed (the CLI would fail the preview)."""


@dataclass(frozen=True)
class Diagnostic:
    policy: str
    enforcement: str  # advisory | mandatory (remediate is reported as mandatory, as the engine does)
    severity: str  # low | medium | high | critical | unspecified
    urn: str  # the engine's attribution; "" for the whole stack
    message: str  # as the pack sends it: the policy description, then "\n" and the report's message
    description: str = ""
    pack: str = ""
    pack_version: str = ""
    source: str = ""  # "Analyze" or "AnalyzeStack"


@dataclass(frozen=True)
class LogRecord:
    severity: str
    message: str
    urn: str


@dataclass
class AnalyzerRun:
    pack: str
    pack_version: str
    plugin_version: str
    policies: list[PolicyInfo]
    config: dict[str, PolicyConfig]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    not_applicable: list[tuple[str, str, str]] = field(default_factory=list)  # (urn, policy, reason)
    analyzed: list[str] = field(default_factory=list)  # URNs sent to Analyze, in order
    stack_resources: int = 0
    logs: list[LogRecord] = field(default_factory=list)
    stderr: str = ""
    handshake: str = ""  # "ok" or the status code name


# ------------------------------------------------------------------ requests


def pack_environment(
    plan: Any,
    *,
    environment: str | None = None,
    organization: str | None = None,
    base: Mapping[str, str] | None = None,
    venv_bin: str | None = None,
) -> dict[str, str]:
    """The pack process's environment: the CLI's constructEnv, plus the Python shim's PATH and PYTHONHOME."""
    env = {
        k: v
        for k, v in (os.environ if base is None else base).items()
        if not k.startswith("PULUMI_") and k not in ("PYTHONHOME", "PYTHONPATH", "VIRTUAL_ENV")
    }
    env["PULUMI_CONFIG"] = json.dumps(stack_config(plan, environment), separators=(",", ":"), sort_keys=True)
    env["PULUMI_PROJECT"] = plan.project
    env["PULUMI_STACK"] = plan.stack
    env["PULUMI_DRY_RUN"] = "true" if getattr(plan, "preview", True) else "false"
    if organization:
        env["PULUMI_ORGANIZATION"] = organization
    if venv_bin:
        env["PATH"] = venv_bin + os.pathsep + env.get("PATH", "")
    return env


def _seconds(value: Any) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    total = 0.0
    for amount, unit in re.findall(r"([\d.]+)([hms])", value or ""):
        total += float(amount) * {"h": 3600, "m": 60, "s": 1}[unit]
    return total


def _options(r: EngineResource) -> analyzer_pb2.AnalyzerResourceOptions:
    opts = r.options
    timeouts = opts.get("customTimeouts") or {}
    aliases = [a for a in (opts.get("aliases") or []) if isinstance(a, str)]
    return analyzer_pb2.AnalyzerResourceOptions(
        protect=bool(opts.get("protect")),
        ignoreChanges=list(opts.get("ignoreChanges") or []),
        # The SDK sends deleteBeforeReplace as a plain bool; the engine defines it only when set.
        deleteBeforeReplace=bool(opts.get("deleteBeforeReplace")),
        deleteBeforeReplaceDefined=bool(opts.get("deleteBeforeReplace")),
        additionalSecretOutputs=list(opts.get("additionalSecretOutputs") or []),
        aliases=aliases,
        customTimeouts=analyzer_pb2.AnalyzerResourceOptions.CustomTimeouts(
            create=_seconds(timeouts.get("create")),
            update=_seconds(timeouts.get("update")),
            delete=_seconds(timeouts.get("delete")),
        ),
        parent=r.parent,
    )


def _provider(r: EngineResource) -> analyzer_pb2.AnalyzerProviderResource | None:
    if r.provider is None:
        return None
    p = r.provider
    return analyzer_pb2.AnalyzerProviderResource(type=p.type, properties=to_struct(p.inputs), urn=p.urn, name=p.name)


def _analyze_request(r: EngineResource) -> analyzer_pb2.AnalyzeRequest:
    request = analyzer_pb2.AnalyzeRequest(
        type=r.type, properties=to_struct(r.inputs), urn=r.urn, name=r.name, options=_options(r)
    )
    provider = _provider(r)
    if provider is not None:
        request.provider.CopyFrom(provider)
    return request


def _stack_resource(r: EngineResource) -> analyzer_pb2.AnalyzerResource:
    resource = analyzer_pb2.AnalyzerResource(
        type=r.type,
        properties=to_struct(r.state),
        urn=r.urn,
        name=r.name,
        options=_options(r),
        parent=r.parent,
        dependencies=r.dependencies,
    )
    provider = _provider(r)
    if provider is not None:
        resource.provider.CopyFrom(provider)
    for key, urns in r.property_dependencies.items():
        if urns:  # the engine skips properties without dependencies
            resource.propertyDependencies[key].urns.extend(urns)
    return resource


# --------------------------------------------------------------- engine + pack


class EngineService(engine_pb2_grpc.EngineServicer):
    """The CLI host's Engine service: records logs, keeps the root resource."""

    def __init__(self) -> None:
        self.logs: list[LogRecord] = []
        self.root_urn = ""
        self._lock = threading.Lock()

    def Log(self, request: Any, context: Any) -> Any:  # noqa: N802 - gRPC name
        severity = engine_pb2.LogSeverity.Name(request.severity).lower()
        with self._lock:
            self.logs.append(LogRecord(severity, request.message, request.urn))
        return empty_pb2.Empty()

    def GetRootResource(self, request: Any, context: Any) -> Any:  # noqa: N802
        return engine_pb2.GetRootResourceResponse(urn=self.root_urn)

    def SetRootResource(self, request: Any, context: Any) -> Any:  # noqa: N802
        self.root_urn = request.urn
        return engine_pb2.SetRootResourceResponse()

    def RequirePulumiVersion(self, request: Any, context: Any) -> Any:  # noqa: N802
        return engine_pb2.RequirePulumiVersionResponse()

    def StartDebugging(self, request: Any, context: Any) -> Any:  # noqa: N802
        return empty_pb2.Empty()


@contextmanager
def _engine_server() -> Iterator[tuple[str, EngineService]]:
    service = EngineService()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=_CHANNEL_OPTIONS)
    engine_pb2_grpc.add_EngineServicer_to_server(service, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}", service
    finally:
        server.stop(grace=None)


class _Pack:
    """The running pack process: its port, and its stderr collected by a thread."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, stderr: list[bytes]) -> None:
        self.process = process
        self.port = port
        self._stderr = stderr

    @property
    def stderr(self) -> str:
        return b"".join(self._stderr).decode("utf-8", "replace")


@contextmanager
def start_pack(
    python: str, pack_dir: str, engine_address: str, env: Mapping[str, str], timeout: float = 120.0
) -> Iterator[_Pack]:
    """Start `<python> -u -m pulumi.policy <engine> .` in `pack_dir`; yield once it printed its port."""
    process = subprocess.Popen(
        [python, "-u", "-m", "pulumi.policy", engine_address, "."],
        cwd=pack_dir,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    assert process.stdout is not None and process.stderr is not None
    stderr: list[bytes] = []
    drain = threading.Thread(target=lambda: stderr.extend(iter(process.stderr.readline, b"")), daemon=True)  # type: ignore[union-attr]
    drain.start()
    first: list[bytes] = []
    reader = threading.Thread(target=lambda: first.append(process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout)
    try:
        line = first[0].decode().strip() if first else ""
        if not line.isdigit():
            if process.poll() is None:
                process.kill()
            process.wait(10)
            drain.join(5)
            why = "exited" if first else f"printed no port within {timeout:.0f}s"
            text = b"".join(stderr).decode("utf-8", "replace").strip()
            raise AnalyzerError(f"policy pack {pack_dir} {why} (stdout {line!r}): {text[-2000:]}")
        yield _Pack(process, int(line), stderr)
    finally:
        if process.poll() is None:
            process.terminate()  # the pack sleeps in PolicyPack(...) until stopped
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        drain.join(5)
        process.stdout.close()
        process.stderr.close()


def _diagnostics(response: Any, source: str, urn_for: Any) -> list[Diagnostic]:
    out = []
    for d in response.diagnostics:
        level = _LEVEL_NAMES.get(d.enforcementLevel, "advisory")
        if level == "remediate":
            level = "mandatory"  # the engine downgrades a remaining remediate violation
        out.append(
            Diagnostic(
                policy=d.policyName,
                enforcement=level,
                severity=_SEVERITY_NAMES.get(d.severity, "unspecified"),
                urn=urn_for(d.urn),
                message=d.message,
                description=d.description,
                pack=d.policyPackName,
                pack_version=d.policyPackVersion,
                source=source,
            )
        )
    return out


def _policy_infos(info: Any) -> tuple[list[PolicyInfo], dict[str, PolicyConfig]]:
    policies = []
    for p in info.policies:
        properties = json_format.MessageToDict(p.configSchema.properties) if p.HasField("configSchema") else {}
        policies.append(
            PolicyInfo(p.name, _LEVEL_NAMES.get(p.enforcementLevel, "advisory"), properties, tuple(p.configSchema.required))
        )
    initial = {}
    for name, config in info.initialConfig.items():
        level = _LEVEL_NAMES.get(config.enforcementLevel, "") if config.enforcementLevel else ""
        initial[name] = PolicyConfig(level, json_format.MessageToDict(config.properties))
    return sorted(policies, key=lambda p: p.name), initial


def _configure_request(config: Mapping[str, PolicyConfig]) -> analyzer_pb2.ConfigureAnalyzerRequest:
    request = analyzer_pb2.ConfigureAnalyzerRequest()
    for name, entry in config.items():
        request.policyConfig[name].enforcementLevel = _LEVEL_VALUES[entry.enforcement]
        request.policyConfig[name].properties.update(plain(entry.properties))
    return request


def analyze_plan(
    plan: Any,
    *,
    python: str,
    pack_dir: str,
    policy_config: Mapping[str, PolicyConfig] | None = None,
    environment: str | None = None,
    organization: str | None = None,
    stack_tags: Mapping[str, str] | None = None,
    timeout: float = 120.0,
) -> AnalyzerRun:
    """Start the pack with `python` (its venv's interpreter), drive it over gRPC, return what it said."""
    resources = engine_resources(plan)
    urns = {r.urn for r in resources}
    config = stack_config(plan, environment)
    secret_keys = sorted(k for k, v in (plan.config or {}).items() if isinstance(v, Secret))
    venv_bin = os.path.dirname(python)
    tags = dict(stack_tags) if stack_tags is not None else {"pulumi:project": plan.project, "pulumi:runtime": "python"}
    with _engine_server() as (engine_address, engine):
        env = pack_environment(plan, environment=environment, organization=organization, venv_bin=venv_bin)
        with start_pack(python, pack_dir, engine_address, env, timeout) as pack:
            channel = grpc.insecure_channel(f"127.0.0.1:{pack.port}", options=_CHANNEL_OPTIONS)
            try:
                grpc.channel_ready_future(channel).result(timeout=timeout)
                client = analyzer_pb2_grpc.AnalyzerStub(channel)
                run = _drive(
                    client,
                    plan,
                    pack_dir,
                    engine_address,
                    resources,
                    urns,
                    config,
                    secret_keys,
                    organization,
                    tags,
                    policy_config,
                    timeout,
                )
            except grpc.RpcError as exc:
                raise AnalyzerError(
                    f"policy pack {pack_dir}: {exc.code().name}: {exc.details()}\n{pack.stderr[-2000:]}"
                ) from None
            finally:
                channel.close()
            run.stderr = pack.stderr
        run.logs = list(engine.logs)
    return run


def _drive(
    client: Any,
    plan: Any,
    pack_dir: str,
    engine_address: str,
    resources: Sequence[EngineResource],
    urns: set[str],
    config: Mapping[str, str],
    secret_keys: Sequence[str],
    organization: str | None,
    tags: Mapping[str, str],
    policy_config: Mapping[str, PolicyConfig] | None,
    timeout: float,
) -> AnalyzerRun:
    directory = os.path.abspath(pack_dir)
    try:
        client.Handshake(
            analyzer_pb2.AnalyzerHandshakeRequest(
                engine_address=engine_address, root_directory=directory, program_directory=directory
            ),
            timeout=timeout,
        )
        handshake = "ok"
    except grpc.RpcError as exc:
        if exc.code() != grpc.StatusCode.UNIMPLEMENTED:
            raise
        handshake = exc.code().name
    try:
        client.ConfigureStack(
            analyzer_pb2.AnalyzerStackConfigureRequest(
                stack=plan.stack,
                project=plan.project,
                organization=organization or "",
                dry_run=bool(getattr(plan, "preview", True)),
                config=dict(config),
                config_secret_keys=list(secret_keys),
                tags=dict(tags),
            ),
            timeout=timeout,
        )
    except grpc.RpcError as exc:
        if exc.code() != grpc.StatusCode.UNIMPLEMENTED:
            raise
    info = client.GetAnalyzerInfo(empty_pb2.Empty(), timeout=timeout)
    plugin: plugin_pb2.PluginInfo = client.GetPluginInfo(empty_pb2.Empty(), timeout=timeout)
    policies, initial = _policy_infos(info)
    if not info.supportsConfig:
        if policy_config:
            raise AnalyzerError(f"policy pack {info.name!r} at {pack_dir} does not support config")
        reconciled: dict[str, PolicyConfig] = {}
    else:
        reconciled = reconcile(policies, initial, policy_config)
        if reconciled:  # the CLI skips Configure when there is nothing to send
            client.Configure(_configure_request(reconciled), timeout=timeout)
    run = AnalyzerRun(info.name, info.version, plugin.version, policies, reconciled, handshake=handshake)
    for r in resources:
        response = client.Analyze(_analyze_request(r), timeout=timeout)
        run.analyzed.append(r.urn)
        run.diagnostics += _diagnostics(response, "Analyze", lambda _urn, target=r.urn: target)
        run.not_applicable += [(r.urn, n.policy_name, n.reason) for n in response.not_applicable]
    request = analyzer_pb2.AnalyzeStackRequest(resources=[_stack_resource(r) for r in resources])
    run.stack_resources = len(request.resources)
    response = client.AnalyzeStack(request, timeout=timeout)
    run.diagnostics += _diagnostics(response, "AnalyzeStack", lambda urn: urn if urn in urns else "")
    run.not_applicable += [("", n.policy_name, n.reason) for n in response.not_applicable]
    return run
