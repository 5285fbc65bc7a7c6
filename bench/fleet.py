"""Time ``mailinfra plan --fleet`` and compare its largest worker's memory with one shard planned alone.

    python bench/fleet.py N SHARDS [--jobs J] [--workdir DIR]

Writes a sharded fleet of N generated domains (bench/genstack.py's fleet, hashed into
SHARDS shards plus a core) as a project under DIR, plans it with ``plan_fleet`` (one
worker process per stack) and then plans the largest shard alone in a fresh process
(with its core's outputs given, judged by the same resource policies), and prints the
wall time, the resources, and each worker's peak RSS against the lone shard's.
Not a test: ``.ci/run`` does not run it.
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing
import os
import sys
import time
from typing import Any

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

CORE_ONLY = ("network", "nonSendingNames")  # what the core keeps and the shards drop
SHARD_ONLY = ("domains", "domainDefaults")


def _genstack() -> Any:
    spec = importlib.util.spec_from_file_location("genstack", os.path.join(ROOT, "bench", "genstack.py"))
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def make_fleet(n: int, shards: int, outdir: str) -> None:
    gen = _genstack()
    gen.make_project(n, outdir, stack="bench")
    stacks = os.path.join(outdir, "stacks")
    path = os.path.join(stacks, "Pulumi.bench.yaml")
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    os.remove(path)
    config = doc["config"]
    config.pop("mailinfra:reports", None)  # not in a fleet (one receipt rule set per region)
    core = {k: v for k, v in config.items() if k.split(":", 1)[-1] not in SHARD_ONLY}
    core["mailinfra:fleet"] = {"role": "core"}
    with open(os.path.join(stacks, "Pulumi.bench-core.yaml"), "w", encoding="utf-8") as f:
        yaml.safe_dump({**doc, "config": core}, f, sort_keys=False)
    for i in range(shards):
        shard = {k: v for k, v in config.items() if k.split(":", 1)[-1] not in CORE_ONLY}
        shard["mailinfra:fleet"] = {"role": "shard", "core": "bench-core", "shards": shards, "shard": i, "select": "hash"}
        with open(os.path.join(stacks, f"Pulumi.bench-shard-{i}.yaml"), "w", encoding="utf-8") as f:
            yaml.safe_dump({**doc, "config": shard}, f, sort_keys=False)


def _alone(project: str, stack: str, references: dict[str, Any]) -> tuple[float, int, int]:
    from mailinfra.engine import run_plan
    from mailinfra.fleet import peak_rss_kib
    from mailinfra.policyrun import run_policies

    started = time.perf_counter()
    plan = run_plan(project, stack, references=references)
    run_policies(plan, kinds="resource")
    return time.perf_counter() - started, len(plan.resources), peak_rss_kib()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int)
    ap.add_argument("shards", type=int)
    ap.add_argument("--jobs", type=int, default=None)
    ap.add_argument("--workdir", default="/tmp/mailinfra-bench-fleet")
    args = ap.parse_args(argv)
    project = os.path.abspath(args.workdir)
    make_fleet(args.n, args.shards, project)

    from mailinfra.fleet import core_outputs, plan_fleet

    fleet = plan_fleet(project, "bench-core", jobs=args.jobs)
    mandatory = sum(1 for v in fleet.plan.violations if v.enforcement == "mandatory")
    print(f"fleet: {args.n} domains, {args.shards} shards, jobs {args.jobs or os.cpu_count()}")
    print(f"  wall {fleet.seconds:.1f} s, {len(fleet.plan.resources)} resources, {mandatory} mandatory violations")
    for v in fleet.plan.violations:
        if v.enforcement == "mandatory":
            print(f"    {v.policy}: {v.message}")
    for stack, run in fleet.runs.items():
        print(f"  {stack}: {len(run.plan.resources)} resources, {run.seconds:.1f} s, peak {run.peak_rss_kib / 1024:.0f} MiB")
    largest = max((s for s in fleet.runs if s != "bench-core"), key=lambda s: len(fleet.runs[s].plan.resources))
    core = core_outputs(project, "bench-core")
    with multiprocessing.get_context("spawn").Pool(1, maxtasksperchild=1) as pool:
        seconds, count, peak = pool.apply(_alone, (project, largest, {"bench-core": core}))
    worst = max(run.peak_rss_kib for s, run in fleet.runs.items() if s != "bench-core")
    print(f"  {largest} alone: {count} resources, {seconds:.1f} s, peak {peak / 1024:.0f} MiB")
    print(f"  largest shard worker / shard alone: {worst / peak:.2f} (target at most 1.10)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
