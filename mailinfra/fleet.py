"""``mailinfra plan --fleet CORE``: plan a sharded fleet (components/fleet.py) offline.

The fleet is the core stack CORE and every stack in the stack directory whose
``mailinfra:fleet.core`` names it. Each stack is planned in its own worker process
(``--jobs``, one per CPU by default) and judged there by the pack's resource policies,
with its own config, as ``pulumi preview --policy-pack`` judges it. The plans are then
merged and the pack's stack policies run once over the union, with the core's config
and the shards' domains: that is where one SPF record per name, one SES identity per
domain (a domain in two shards) and the quota budget summed over the account are
judged, by the same rules as for one stack.

A shard's ``pulumi.StackReference`` to the core reads the core's outputs from the core's
own offline plan, made as an update (``preview=False``) so that they are known, as a real
preview reads them from the core's deployed state.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import time
from collections.abc import Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from mailinfra.policies.mailinfra_policy.standards.errors import InputError

from .gcutil import long_lived
from .engine import Plan, run_plan
from .project import ProjectError, list_stacks, load_project, load_stack_config, stack_file_name

__all__ = ["FleetError", "FleetPlan", "Member", "core_outputs", "discover", "plan_fleet", "references_for"]

FLEET_KEY = "mailinfra:fleet"
DOMAINS_KEY = "mailinfra:domains"


class FleetError(InputError):
    """The fleet's stack files do not form a fleet (exit 2, naming the file and key)."""


@dataclass(frozen=True)
class Member:
    stack: str
    role: str  # core | shard
    file: str
    core: str | None = None  # a shard's mailinfra:fleet.core, as written
    shard: int | None = None
    shards: int | None = None


@dataclass
class StackRun:
    """One worker's result: the stack's plan, its resource-policy violations and what it cost."""

    plan: Plan
    violations: list[Any]
    seconds: float
    peak_rss_kib: int


@dataclass
class FleetPlan:
    core: str
    members: list[Member]
    plan: Plan  # the union; violations: every stack's resource policies, then the stack policies once
    runs: dict[str, StackRun] = field(default_factory=dict)
    seconds: float = 0.0


def _fleet_section(cfg: Any) -> Mapping[str, Any] | None:
    raw = cfg.config.get(FLEET_KEY)
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise FleetError(f"{cfg.file}: {FLEET_KEY}: must be a mapping (got {raw!r})")
    return raw


def _member(stack: str, cfg: Any, raw: Mapping[str, Any]) -> Member:
    role = raw.get("role")
    if role == "core":
        return Member(stack, "core", cfg.file)
    if role != "shard":
        raise FleetError(f"{cfg.file}: {FLEET_KEY}.role: must be core or shard (got {role!r})")
    core, shard, shards = raw.get("core"), raw.get("shard"), raw.get("shards")
    for key, value in (("shard", shard), ("shards", shards)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise FleetError(f"{cfg.file}: {FLEET_KEY}.{key}: must be an integer (got {value!r})")
    if not isinstance(core, str):
        raise FleetError(f"{cfg.file}: {FLEET_KEY}.core: must be the core's stack name (got {core!r})")
    return Member(stack, "shard", cfg.file, core=core, shard=shard, shards=shards)


def discover(project_dir: str, core: str) -> list[Member]:
    """The core stack and its shards, in shard order; every shard of the fleet exactly once."""
    project = load_project(project_dir)
    core = stack_file_name(core)
    core_cfg = load_stack_config(project, core)
    raw = _fleet_section(core_cfg)
    if raw is None or raw.get("role") != "core":
        raise FleetError(f"{core_cfg.file}: {FLEET_KEY}.role: --fleet {core} needs the core of a fleet here (role: core)")
    members = [Member(core, "core", core_cfg.file)]
    shards: list[Member] = []
    for stack in list_stacks(project):
        if stack == core:
            continue
        cfg = load_stack_config(project, stack)
        section = _fleet_section(cfg)
        if section is None or section.get("role") != "shard":
            continue
        member = _member(stack, cfg, section)
        if member.core is not None and stack_file_name(member.core) == core:
            shards.append(member)
    if not shards:
        raise FleetError(
            f"{core_cfg.file}: no stack in {project.stack_config_dir} is a shard of {core} ({FLEET_KEY}.core: {core})"
        )
    count = shards[0].shards
    by_index: dict[int, Member] = {}
    for m in shards:
        if m.shards != count:
            raise FleetError(
                f"{m.file}: {FLEET_KEY}.shards: {m.shards} differs from {count} in {shards[0].file} (every shard states the same count)"
            )
        assert m.shard is not None
        if m.shard in by_index:
            raise FleetError(f"{m.file}: {FLEET_KEY}.shard: {m.shard} is also the index of {by_index[m.shard].file}")
        by_index[m.shard] = m
    missing = [i for i in range(count or 0) if i not in by_index]
    if missing:
        raise FleetError(
            f"{core_cfg.file}: shard {missing[0]} of {count} of fleet {core} has no stack ({FLEET_KEY}.shard: {missing[0]})"
        )
    return members + [by_index[i] for i in sorted(by_index)]


def core_outputs(project_dir: str, core: str) -> dict[str, Any]:
    return run_plan(project_dir, core, preview=False).outputs


def references_for(project_dir: str, stack: str, stack_dir: str | None = None) -> dict[str, Any] | None:
    """For a shard: its core's outputs, keyed as its StackReference names the core (None otherwise).

    The core's stack file is looked up beside the shard's (``stack_dir``, else the project's)."""
    project = load_project(project_dir)
    if stack_dir is not None:
        import dataclasses

        project = dataclasses.replace(project, stack_config_dir=os.path.abspath(stack_dir))
    try:
        cfg = load_stack_config(project, stack)
    except ProjectError:
        return None  # run_plan reports it
    raw = cfg.config.get(FLEET_KEY)
    if not isinstance(raw, Mapping) or raw.get("role") != "shard" or not isinstance(raw.get("core"), str):
        return None  # not a shard, or a bad section: the program's config validation says which key
    core = raw["core"]
    if stack_file_name(core) == stack_file_name(stack):
        raise FleetError(f"{cfg.file}: {FLEET_KEY}.core: {core!r} names this shard itself")
    return {core: run_plan(project_dir, stack_file_name(core), preview=False, stack_dir=stack_dir).outputs}


def _plan_one(
    project_dir: str,
    stack: str,
    references: dict[str, Any] | None,
    policy_pack: str | None,
    environment: str | None,
    policy_config: str | None,
    judge: bool,
) -> StackRun:
    """In a worker: plan one stack and judge it by the pack's resource policies."""
    started = time.perf_counter()
    plan = run_plan(project_dir, stack, references=references)
    violations: list[Any] = []
    if judge:
        from .policyrun import run_policies

        violations = run_policies(
            plan, policy_pack_dir=policy_pack, environment=environment, policy_config=policy_config, kinds="resource"
        )
    return StackRun(plan, violations, time.perf_counter() - started, peak_rss_kib())


def peak_rss_kib() -> int:
    """This process's own peak resident set, KiB. Linux's VmHWM belongs to the address
    space, which exec replaces; ru_maxrss survives exec with the forking parent's size,
    so a spawned worker of a parent that holds 3 GB would report 3 GB."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, elsewhere a bound


def _domain_name(entry: Any) -> str | None:
    name = entry.get("name") if isinstance(entry, Mapping) else entry
    return name.rstrip(".").lower() if isinstance(name, str) else None


def merge(core: str, members: list[Member], runs: Mapping[str, StackRun]) -> Plan:
    """The union of the fleet's plans. Config: the core's, with the shards' domains (each
    once) as mailinfra:domains, which the stack policies read (compliance facts)."""
    core_plan = runs[core].plan
    config = dict(core_plan.config)
    domains: list[Any] = []
    seen: set[str | None] = set()
    for m in members:
        for entry in runs[m.stack].plan.config.get(DOMAINS_KEY) or []:
            name = _domain_name(entry)
            if name not in seen or name is None:
                seen.add(name)
                domains.append(entry)
    config[DOMAINS_KEY] = domains
    return Plan(
        project=core_plan.project,
        stack=core,
        config=config,
        resources=[r for m in members for r in runs[m.stack].plan.resources],
        outputs={m.stack: runs[m.stack].plan.outputs for m in members},
        invokes=[i for m in members for i in runs[m.stack].plan.invokes],
        preview=True,
    )


def plan_fleet(
    project_dir: str,
    core: str,
    *,
    jobs: int | None = None,
    policy_pack: str | None = None,
    environment: str | None = None,
    policy_config: str | None = None,
    judge: bool = True,
) -> FleetPlan:
    """Plan and judge the fleet whose core is ``core``; raises FleetError, ProjectError, ProgramError."""
    started = time.perf_counter()
    members = discover(project_dir, core)
    core = members[0].stack
    workers = max(1, jobs or os.cpu_count() or 1)
    # spawn: each worker starts clean (no copy of this process's state); one stack per
    # process, so each stack's peak memory is its own.
    context = multiprocessing.get_context("spawn")
    runs: dict[str, StackRun] = {}
    # the shards' plans are millions of objects (unpickling makes no cycles): see gcutil
    with long_lived() as keep:
        with ProcessPoolExecutor(max_workers=workers, mp_context=context, max_tasks_per_child=1) as pool:
            outputs = pool.submit(core_outputs, project_dir, core)
            futures: dict[str, Future[StackRun]] = {
                core: pool.submit(_plan_one, project_dir, core, None, policy_pack, environment, policy_config, judge)
            }
            known = outputs.result()
            for m in members[1:]:
                assert m.core is not None
                refs = {m.core: known}
                futures[m.stack] = pool.submit(
                    _plan_one, project_dir, m.stack, refs, policy_pack, environment, policy_config, judge
                )
            for stack, future in futures.items():
                runs[stack] = future.result()
        keep()  # the workers' plans are kept to the end: out of collection
        merged = merge(core, members, runs)
        if judge:
            from .policyrun import run_policies

            stack_violations = run_policies(
                merged, policy_pack_dir=policy_pack, environment=environment, policy_config=policy_config, kinds="stack"
            )
            merged.violations = [v for m in members for v in runs[m.stack].violations] + stack_violations
    return FleetPlan(core=core, members=members, plan=merged, runs=runs, seconds=time.perf_counter() - started)


def fleet_summary(fleet: FleetPlan) -> str:
    """The text report's head: each stack of the fleet, what it declares and what it cost."""
    lines = [f"Fleet {fleet.core}: {len(fleet.members) - 1} shards, planned in {fleet.seconds:.1f} s"]
    for m in fleet.members:
        run = fleet.runs[m.stack]
        where = "core" if m.role == "core" else f"shard {m.shard} of {m.shards}"
        identities = sum(1 for r in run.plan.resources if r.type == "aws:sesv2/emailIdentity:EmailIdentity")
        lines.append(
            f"    {m.stack} ({where}): {len(run.plan.resources)} resources, {identities} domains, "
            f"{run.seconds:.1f} s, peak {run.peak_rss_kib // 1024} MiB"
        )
    return "\n".join(lines) + "\n\n"
