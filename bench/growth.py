"""Which resources grow with the number of sending domains, and by how many per domain.

    python bench/growth.py [--small 10] [--large 20] [--genstack PATH]

Generates two fleets with bench/genstack.py (``--genstack``: another checkout's, to
measure an older design), plans each offline (``mailinfra plan --format json``) and
prints, per resource type, how many the stack declares per added domain (the
difference of the two plans over the difference in domains) and how many it declares
whatever the fleet's size. Types that do not change are left out of the per-domain
column. Not a timed benchmark: the counts are exact.
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def _genstack(path: str):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("genstack", path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def count(n: int, genstack: str, workdir: str) -> collections.Counter[str]:
    project = os.path.join(workdir, f"fleet{n}")
    _genstack(genstack).make_project(n, project)
    out = os.path.join(workdir, f"plan{n}.json")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mailinfra.cli",
            "plan",
            "--project",
            project,
            "--stack",
            "bench",
            "--format",
            "json",
            "--output",
            out,
        ],
        capture_output=True,
        text=True,
    )
    if proc.returncode not in (0, 1):  # 1: a mandatory violation; the resources are still planned
        raise SystemExit(f"plan of {n} domains failed: {proc.stderr.strip()}")
    with open(out, encoding="utf-8") as f:
        plan = json.load(f)
    return collections.Counter(r["type"] for r in plan["resources"] if not r["type"].startswith("pulumi:providers:"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=10)
    parser.add_argument("--large", type=int, default=20)
    parser.add_argument("--genstack", default=os.path.join(HERE, "genstack.py"))
    args = parser.parse_args()
    if args.large <= args.small:
        parser.error("--large must be above --small")
    with tempfile.TemporaryDirectory() as workdir:
        small, large = count(args.small, args.genstack, workdir), count(args.large, args.genstack, workdir)
    step = args.large - args.small
    rows = []
    for type_ in sorted(set(small) | set(large)):
        per = (large[type_] - small[type_]) / step
        fixed = small[type_] - per * args.small
        rows.append((type_, per, fixed))
    total_per = sum(r[1] for r in rows)
    print("| resource type | per domain | fixed |\n|---|---|---|")
    for type_, per, fixed in sorted(rows, key=lambda r: (-r[1], r[0])):
        print(f"| `{type_}` | {per:g} | {fixed:g} |")
    print(f"| **all** | **{total_per:g}** | **{sum(r[2] for r in rows):g}** |")


if __name__ == "__main__":
    main()
