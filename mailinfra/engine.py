"""Offline plan: run any Pulumi Python program on the SDK's mock runtime and record it.

`run_plan(project_dir, stack)` loads `Pulumi.yaml` and the stack's config, installs a
recording `MockMonitor` (preview by default), runs the program the way the Python
language host does (`run_in_stack` around `runpy.run_path(main, run_name="__main__")`,
cwd = program dir, program dir on sys.path) and returns a `Plan`: every registered
resource with its inputs and options, the stack outputs and the invokes made.

Each run happens in its own `contextvars` context and its own event loop, and
restores cwd, sys.path, sys.argv and the project's own modules afterwards, so several
plans can run in one process without seeing each other.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import gc
import logging
import os
import runpy
import sys
import threading
import traceback
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format, struct_pb2  # type: ignore[import-untyped]
from pulumi.runtime import config as pulumi_config
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc, settings
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.stack import run_in_stack

from mailinfra.policies.mailinfra_policy.standards.errors import InputError

from .mockstate import MockState, computed_outputs
from .project import Project, ProjectError, StackConfig, load_project, load_stack_config
from .values import UNKNOWN, Secret

__all__ = [
    "Plan",
    "PlannedInvoke",
    "PlannedResource",
    "ProgramError",
    "ProjectError",
    "decode_struct",
    "run_plan",
]

STACK_TYPE = "pulumi:pulumi:Stack"


@dataclass
class PlannedResource:
    urn: str
    type: str  # type token, e.g. "aws:kms/key:Key"
    name: str
    parent: str | None  # parent URN (None for children of the stack)
    custom: bool  # False for ComponentResources
    inputs: dict  # engine (camelCase) names
    outputs: dict  # what the mock returned (inputs + computed); components: registered outputs
    dependencies: list[str]  # URNs
    property_dependencies: dict[str, list[str]]
    options: dict  # protect, ignoreChanges, deleteBeforeReplace, retainOnDelete, provider, ...
    # Where the program registered it (RegisterResourceRequest.sourcePosition): a file
    # path and 1-based line, None when the SDK sent none.
    source: tuple[str, int] | None = None


@dataclass
class PlannedInvoke:
    token: str
    args: dict
    provider: str | None
    result: dict


@dataclass
class Plan:
    project: str
    stack: str
    config: dict[str, Any]  # "project:key" -> value (secrets are Secret wrappers)
    resources: list[PlannedResource]
    outputs: dict  # stack outputs
    violations: list = field(default_factory=list)  # filled by the policy runner
    invokes: list[PlannedInvoke] = field(default_factory=list)
    preview: bool = True

    def by_type(self, type_: str) -> list[PlannedResource]:
        return [r for r in self.resources if r.type == type_]

    def get(self, urn: str) -> PlannedResource | None:
        for r in self.resources:
            if r.urn == urn:
                return r
        return None


class ProgramError(Exception):
    """The program (or its config) failed. `message` is one line, fit for stderr.

    `expected` is True for configuration / RunError-style failures, where the message
    says everything; otherwise `traceback` holds the program's traceback for --debug.
    """

    exit_code = 2

    def __init__(self, message: str, *, traceback: str = "", expected: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.traceback = traceback
        self.expected = expected


# --- protobuf -> plan values ---------------------------------------------------------


def _decode(value: struct_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return UNKNOWN if value.string_value == rpc.UNKNOWN else value.string_value
    if kind == "number_value":
        n = value.number_value
        return int(n) if n.is_integer() and abs(n) < 2**63 else n
    if kind == "bool_value":
        return value.bool_value
    if kind == "struct_value":
        return decode_struct(value.struct_value)
    if kind == "list_value":
        return [_decode(v) for v in value.list_value.values]
    return None


def decode_struct(struct: struct_pb2.Struct) -> Any:
    """Wire properties -> plan values: secrets stay `Secret` where they are (not pushed
    up to the enclosing object as the SDK does), unknowns become `UNKNOWN`, resource
    references become their URN, assets/archives a small descriptive dict."""
    fields = struct.fields
    sig = fields.get(rpc._special_sig_key)
    if sig is not None and sig.WhichOneof("kind") == "string_value":
        s = sig.string_value
        if s == rpc._special_secret_sig:
            return Secret(_decode(fields["value"]) if "value" in fields else UNKNOWN)
        if s == rpc._special_resource_sig:
            return fields["urn"].string_value if "urn" in fields else UNKNOWN
        if s == rpc._special_output_value_sig:
            val = _decode(fields["value"]) if "value" in fields else UNKNOWN
            secret = "secret" in fields and fields["secret"].bool_value
            return Secret(val) if secret else val
        kind = "asset" if s == rpc._special_asset_sig else "archive"
        return {kind: {k: _decode(v) for k, v in fields.items() if k != rpc._special_sig_key}}
    out = {}
    for k in sorted(fields):
        d = _decode(fields[k])
        if d is not None:
            out[k] = d
    return out


def _options(request: Any) -> dict[str, Any]:
    timeouts = None
    if request.HasField("customTimeouts"):
        ct = request.customTimeouts
        timeouts = {k: getattr(ct, k) for k in ("create", "update", "delete") if getattr(ct, k)} or None
    aliases: list[Any] = list(request.aliasURNs)
    for alias in request.aliases:
        if alias.WhichOneof("alias") == "urn":
            aliases.append(alias.urn)
        else:
            aliases.append(json_format.MessageToDict(alias.spec))
    return {
        "protect": bool(request.protect),
        "ignoreChanges": list(request.ignoreChanges),
        "deleteBeforeReplace": bool(request.deleteBeforeReplace),
        "retainOnDelete": bool(request.retainOnDelete),
        "provider": request.provider or None,
        "additionalSecretOutputs": list(request.additionalSecretOutputs),
        "aliases": aliases,
        "customTimeouts": timeouts,
        "version": request.version or None,
        "importId": request.importId or None,
        "replaceOnChanges": list(request.replaceOnChanges),
    }


class PlanMonitor(pulumi_mocks.MockMonitor):
    """MockMonitor that records every registration, the stack outputs and invokes."""

    def __init__(self, mocks: MockState, *, preview: bool, on_register: Callable[[int], None] | None = None) -> None:
        super().__init__(mocks)
        self.preview = preview
        self.on_register = on_register  # progress: called with the count after each registration
        self.stack_urn: str | None = None
        self.records: list[PlannedResource] = []
        self.by_urn: dict[str, PlannedResource] = {}
        self.stack_outputs: dict[str, Any] = {}
        self.invokes: list[PlannedInvoke] = []
        self.sort_keys: dict[str, tuple[Any, ...]] = {}
        self._lock = threading.Lock()

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """URN as the engine builds it: the parent's full qualified type chain, no
        `pulumi:pulumi:Stack$` prefix for children of the stack (MockMonitor keeps
        only the immediate parent's type and does prefix the stack)."""
        if parent and parent != self.stack_urn:
            type_ = parent.split("::")[2] + "$" + type_
        return f"urn:pulumi:{settings.get_stack()}::{settings.get_project()}::{type_}::{name}"

    def RegisterResource(self, request: Any) -> Any:
        if request.type == STACK_TYPE:
            resp = super().RegisterResource(request)
            self.stack_urn = resp.urn
            return resp
        # Same as MockMonitor.RegisterResource, plus additionalSecretOutputs made
        # secret the way the engine does.
        pulumi_mocks._ensure_event_loop()
        urn = self.make_urn(request.parent, request.type, request.name)
        inputs = rpc.deserialize_properties(request.object)
        args = pulumi_mocks.MockResourceArgs(
            typ=request.type,
            name=request.name,
            inputs=inputs,
            provider=request.provider,
            resource_id=request.importId,
            custom=request.custom or False,
            transforms=pulumi_mocks._resolve_callbacks(request.transforms),
        )
        id_, state = self.mocks.new_resource(args)
        for key in request.additionalSecretOutputs:
            if key in state:
                state[key] = rpc.wrap_rpc_secret(state[key])
        obj_proto = pulumi_mocks._sync_await(rpc.serialize_properties(state, {}))
        self.resources[urn] = pulumi_mocks.MockMonitor.ResourceRegistration(urn, id_ or "", state)
        resp = resource_pb2.RegisterResourceResponse(urn=urn, id=id_ or "", object=obj_proto)

        outputs = decode_struct(obj_proto) if request.custom else {}
        if request.custom:
            if self.preview:
                for key in computed_outputs(request.type):
                    outputs.setdefault(key, UNKNOWN)
            outputs.setdefault("id", id_ or UNKNOWN)
        parent = request.parent or None
        record = PlannedResource(
            urn=urn,
            type=request.type,
            name=request.name,
            parent=None if parent in (None, self.stack_urn) else parent,
            custom=bool(request.custom),
            inputs=decode_struct(request.object),
            outputs=outputs,
            # Sorted: the SDK sends them in set order, which differs from run to run.
            dependencies=sorted(set(request.dependencies)),
            property_dependencies={k: sorted(set(v.urns)) for k, v in sorted(request.propertyDependencies.items())},
            options=_options(request),
            source=_source_position(request),
        )
        with self._lock:
            self.records.append(record)
            self.by_urn[urn] = record
            self.sort_keys[urn] = _source_key(request)
            count = len(self.records)
        if self.on_register is not None:
            self.on_register(count)
        return resp

    def ordered(self) -> list[PlannedResource]:
        """Registration order depends on thread timing; this order does not: parents
        before children, siblings by where the program created them (the request's
        stack trace, outermost frame first), then by type and name."""
        children: dict[str | None, list[PlannedResource]] = {}
        for r in self.records:
            parent = r.parent if r.parent in self.by_urn else None
            children.setdefault(parent, []).append(r)
        out: list[PlannedResource] = []

        def walk(parent: str | None) -> None:
            for r in sorted(children.get(parent, []), key=lambda r: (self.sort_keys[r.urn], r.type, r.name)):
                out.append(r)
                walk(r.urn)

        walk(None)
        return out

    def RegisterResourceOutputs(self, request: Any) -> Any:
        outputs = decode_struct(request.outputs)
        with self._lock:
            if request.urn == self.stack_urn:
                self.stack_outputs = outputs
            elif request.urn in self.by_urn:
                self.by_urn[request.urn].outputs = outputs
        return super().RegisterResourceOutputs(request)

    def Invoke(self, request: Any) -> Any:
        resp = super().Invoke(request)
        if request.tok != "pulumi:pulumi:getResource":
            result = decode_struct(getattr(resp, "return"))
            with self._lock:
                self.invokes.append(PlannedInvoke(request.tok, decode_struct(request.args), request.provider or None, result))
        return resp


def _close_thread_loop() -> None:
    """Close the event loop MockMonitor made in the executor's worker thread."""
    try:
        asyncio.get_event_loop_policy().get_event_loop().close()
    except RuntimeError:
        pass


def _source_position(request: Any) -> tuple[str, int] | None:
    if not request.HasField("sourcePosition") or not request.sourcePosition.uri.startswith("file:"):
        return None
    position = request.sourcePosition
    return urllib.request.url2pathname(urllib.parse.urlparse(position.uri).path), position.line


def _source_key(request: Any) -> tuple[Any, ...]:
    frames = request.stackTrace.frames if request.HasField("stackTrace") else []
    return tuple((f.pc.uri, f.pc.line) for f in reversed(frames) if f.HasField("pc"))


# --- running a program ---------------------------------------------------------------


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in text.strip().splitlines() if part.strip())


def _is_expected(exc: BaseException) -> bool:
    """Bad input, not a bug: one line, exit 2, no traceback.

    ``InputError`` is the base of every input error of ours (config, component args,
    records, standards); ``RunError`` is the SDK's. A program that does not import
    mailinfra may mark its own class with ``mailinfra_exit_code = 2`` (docs/CONTRACTS.md).
    """
    from pulumi.errors import RunError

    if isinstance(exc, (RunError, InputError)):
        return True
    return getattr(type(exc), "mailinfra_exit_code", None) == 2


def _program_error(exc: BaseException, main: str) -> ProgramError:
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    if _is_expected(exc):
        return ProgramError(_one_line(str(exc)) or type(exc).__name__, traceback=tb, expected=True)
    where = ""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if not frame.filename.startswith(sys.prefix) and "site-packages" not in frame.filename:
            where = f" ({os.path.relpath(frame.filename, os.path.dirname(main))}:{frame.lineno})"
            break
    msg = _one_line(str(exc))
    text = f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__
    return ProgramError(f"program failed: {text}{where}", traceback=tb, expected=False)


_SITE_DIRS = tuple(
    {p for p in sys.path if p.endswith(("site-packages", "dist-packages"))} | {sys.prefix, sys.base_prefix, sys.exec_prefix}
)


def _under(path: str | None, roots: tuple[str, ...]) -> bool:
    if not path:
        return False
    p = os.path.abspath(path)
    if any(p.startswith(os.path.abspath(site) + os.sep) for site in _SITE_DIRS):
        return False  # installed packages (a venv inside the project) are not the program's
    return any(p == r or p.startswith(r + os.sep) for r in roots)


def _execute(
    project: Project,
    cfg: StackConfig,
    preview: bool,
    organization: str | None,
    on_register: Callable[[int], None] | None = None,
    references: Mapping[str, Mapping[str, Any]] | None = None,
) -> Plan:
    """Run the program; must be called inside a fresh contextvars context."""
    mocks = MockState(preview=preview, config=cfg.engine_config, references=references, stack=cfg.stack)
    monitor = PlanMonitor(mocks, preview=preview, on_register=on_register)
    features = set(monitor.GetDeploymentInfo(None).supportedFeatures)
    mock_settings = pulumi_mocks.MockSettings(
        monitor=monitor,
        monitor_features=features,
        engine=pulumi_mocks.MockEngine(logging.getLogger("mailinfra.program")),
        project=project.name,
        stack=cfg.stack,
        dry_run=preview,
        organization=organization or "organization",
        root_directory=project.root,
        legacy_apply_enabled=False,
        callbacks=None,
    )
    settings.configure(mock_settings)
    settings.SETTINGS.outputs = set()
    settings.set_root_resource(None)  # type: ignore[arg-type]
    pulumi_config.set_all_config(dict(cfg.engine_config), list(cfg.secret_keys))

    try:
        previous_loop: asyncio.AbstractEventLoop | None = asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        previous_loop = None
    loop = asyncio.new_event_loop()
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mailinfra-plan")
    loop.set_default_executor(executor)  # one worker: registrations in program order
    asyncio.set_event_loop(loop)

    saved_cwd = os.getcwd()
    saved_path = list(sys.path)
    saved_argv = list(sys.argv)
    saved_modules = set(sys.modules)
    asyncio_logger = logging.getLogger("asyncio")
    saved_level = asyncio_logger.level
    asyncio_logger.setLevel(logging.CRITICAL)  # as the language host does
    # A plan allocates millions of long-lived objects (Outputs, tasks, records); with
    # the default thresholds the collector walks them all again and again (a quarter
    # of the run at 200 domains, growing with size). Collect young objects less often
    # while the program runs; the thresholds are restored afterwards.
    saved_gc = gc.get_threshold()
    gc.set_threshold(50_000, 20, 100)
    error: BaseException | None = None
    try:
        os.chdir(project.program_dir)
        sys.path.insert(0, project.program_dir)
        sys.argv = [project.main]

        def program() -> Awaitable[None]:
            runpy.run_path(project.main, run_name="__main__")
            # A synchronous program has only queued its registrations: none of their
            # RPCs has started, so the SDK's wait_for_rpcs would find no RPC and drain
            # every pending output through asyncio.wait(FIRST_COMPLETED) over the whole
            # set - quadratic in the number of outputs (minutes at 1,000 domains).
            # One turn of the loop starts them; the SDK then awaits them one by one.
            return asyncio.sleep(0)

        loop.run_until_complete(run_in_stack(program))
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        error = exc
    finally:
        os.chdir(saved_cwd)
        sys.path[:] = saved_path
        sys.argv = saved_argv
        roots = tuple({os.path.abspath(project.root), os.path.abspath(project.program_dir)})
        for name in set(sys.modules) - saved_modules:
            mod = sys.modules.get(name)
            if mod is not None and _under(getattr(mod, "__file__", None), roots):
                del sys.modules[name]
                # A package loaded before the run keeps its submodule as an attribute;
                # `from . import wiring` in the next run would get that stale module
                # while `from .keystore import X` imports afresh (two KeyStoreArgs).
                parent, _, child = name.rpartition(".")
                if parent in saved_modules and getattr(sys.modules.get(parent), child, None) is mod:
                    delattr(sys.modules[parent], child)
        try:
            for task in asyncio.all_tasks(loop):
                task.cancel()
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            executor.submit(_close_thread_loop).result()
            loop.close()
            # Leave the thread with a usable loop: the SDK calls get_event_loop().
            if previous_loop is None or previous_loop.is_closed():
                previous_loop = asyncio.new_event_loop()
            asyncio.set_event_loop(previous_loop)
            executor.shutdown(wait=True)
            asyncio_logger.setLevel(saved_level)
            gc.set_threshold(*saved_gc)

    if error is not None and mocks.reference_error is not None:
        raise ProgramError(str(mocks.reference_error)) from None
    if error is not None:
        if isinstance(error, SystemExit) and error.code in (0, None):
            pass
        else:
            if isinstance(error, SystemExit):
                error = RuntimeError(f"program called sys.exit({error.code!r})")
            raise _program_error(error, project.main) from None

    return Plan(
        project=project.name,
        stack=cfg.stack,
        config=dict(cfg.config),
        resources=monitor.ordered(),
        outputs=dict(monitor.stack_outputs),
        invokes=list(monitor.invokes),
        preview=preview,
    )


def run_plan(
    project_dir: str,
    stack: str,
    *,
    preview: bool = True,
    organization: str | None = None,
    on_register: Callable[[int], None] | None = None,
    stack_dir: str | None = None,
    references: Mapping[str, Mapping[str, Any]] | None = None,
) -> Plan:
    """Plan `stack` of the Pulumi Python project in `project_dir` on the mock engine.

    `on_register(count)` (progress display) is called after each resource registration.
    `stack_dir`: read Pulumi.<stack>.yaml from there instead (``mailinfra adopt`` plans a
    candidate stack file without touching the user's; the URNs stay the stack's).
    `references`: stack name -> outputs, what a ``pulumi.StackReference`` to that stack
    reads (a fleet shard's core, from the core's own offline plan: mailinfra/fleet.py).

    Raises `ProjectError` for a missing/invalid Pulumi.yaml or stack file and
    `ProgramError` when the program raises.
    """
    project = load_project(project_dir)
    if stack_dir is not None:
        project = dataclasses.replace(project, stack_config_dir=os.path.abspath(stack_dir))
    cfg = load_stack_config(project, stack)
    ctx = contextvars.copy_context()
    return ctx.run(_execute, project, cfg, preview, organization, on_register, references)
