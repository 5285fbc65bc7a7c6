"""Benchmark `mailinfra plan` against the floor, in one run.

    python bench/plan.py [--sizes 10,100,500,1000] [--repeat 1] [--out bench/results/plan.json]

For each N: a fleet project of N domains (bench/genstack.py) in a temp dir, then,
each in its own process, measured whole (wall time, peak RSS from os.wait4):
- plan:  `mailinfra plan --project DIR --stack bench --format json --output FILE`
         (the offline engine, every policy of the pack, the JSON report);
- floor: `python bench/floor.py DIR bench` - the same program and config on the
         SDK's bare `set_mocks` engine, no recording, no policies, no report.
Prints a table and writes it as JSON. With --repeat R, each cell is the fastest of R.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import genstack  # noqa: E402

TARGET_TIME, TARGET_RSS, TARGET_1000 = 1.3, 1.5, 90.0


def measure(cmd: list[str]) -> tuple[float, float, int]:
    """(wall seconds, peak RSS MB, exit code) of one whole process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stderr.close()
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err.decode(errors='replace')[-2000:]}")
    return wall, usage.ru_maxrss / 1024, proc.returncode


def run(sizes: list[int], repeat: int) -> list[dict]:
    mailinfra = os.path.join(os.path.dirname(sys.executable), "mailinfra")
    rows = []
    with tempfile.TemporaryDirectory(prefix="mailinfra-bench-") as tmp:
        for n in sizes:
            project = os.path.join(tmp, f"fleet-{n}")
            genstack.make_project(n, project)
            out = os.path.join(tmp, f"plan-{n}.json")
            plan_cmd = [mailinfra, "plan", "--project", project, "--stack", "bench", "--format", "json", "--output", out]
            floor_cmd = [sys.executable, os.path.join(HERE, "floor.py"), project, "bench"]
            plans, floors = [], []
            for _ in range(repeat):  # interleaved: both see the same machine load
                floors.append(measure(floor_cmd))
                plans.append(measure(plan_cmd))
            with open(out, encoding="utf-8") as f:
                report = json.load(f)
            p_s, p_mb = min(p[0] for p in plans), min(p[1] for p in plans)
            f_s, f_mb = min(x[0] for x in floors), min(x[1] for x in floors)
            row = {
                "domains": n,
                "resources": len(report["resources"]),
                "violations": len(report["violations"]),
                "plan_s": round(p_s, 2),
                "floor_s": round(f_s, 2),
                "time_ratio": round(p_s / f_s, 2),
                "plan_rss_mb": round(p_mb, 1),
                "floor_rss_mb": round(f_mb, 1),
                "rss_ratio": round(p_mb / f_mb, 2),
            }
            rows.append(row)
            print(_line(row), flush=True)
    return rows


HEAD = f"{'N':>5} {'resources':>9} {'plan s':>8} {'floor s':>8} {'ratio':>6} {'plan MB':>8} {'floor MB':>8} {'ratio':>6}"


def _line(r: dict) -> str:
    return (
        f"{r['domains']:>5} {r['resources']:>9} {r['plan_s']:>8.2f} {r['floor_s']:>8.2f} {r['time_ratio']:>6.2f}"
        f" {r['plan_rss_mb']:>8.1f} {r['floor_rss_mb']:>8.1f} {r['rss_ratio']:>6.2f}"
    )


def verdicts(rows: list[dict]) -> dict[str, bool | None]:
    big = [r for r in rows if r["domains"] == 1000]
    per = [r["plan_s"] / r["domains"] for r in rows if r["domains"] >= 100]
    return {
        "time_within_1.3x_floor": all(r["time_ratio"] <= TARGET_TIME for r in rows),
        "rss_within_1.5x_floor": all(r["rss_ratio"] <= TARGET_RSS for r in rows),
        # linear: seconds per domain from N=100 up vary by at most 1.5x
        "linear": (max(per) / min(per) <= 1.5) if len(per) >= 2 else None,
        "1000_domains_under_90s": (big[0]["plan_s"] < TARGET_1000) if big else None,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10,100,500,1000", help="comma-separated domain counts")
    ap.add_argument("--repeat", type=int, default=1, help="runs per cell; the fastest is kept")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "plan.json"))
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    load_before = os.getloadavg()
    print(HEAD, flush=True)
    rows = run(sizes, args.repeat)
    result: dict[str, Any] = {
        "command": "python bench/plan.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_before": load_before,
            "load_after": os.getloadavg(),
        },
        "rows": rows,
        "targets": verdicts(rows),
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    for k, v in result["targets"].items():
        print(f"{k}: {'n/a' if v is None else ('met' if v else 'NOT met')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
