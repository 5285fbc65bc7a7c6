"""`mailinfra reports` on generated directories: wall time and peak memory.

    python bench/reports.py [N ...]        # default: 1000 10000

Each N gets a fresh directory of N mixed reports (tests/reports/gen.py: DMARC plain, gzip,
zip and as SES-stored mails, TLS-RPT plain and gzip, resends, malformed files), then the
CLI summarises it in a child process (`--format json`), so the peak RSS is the command's
own (ru_maxrss of the child). Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.reports.gen import generate  # noqa: E402


def run(n: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix=f"reports-{n}-") as tmp:
        root = Path(tmp) / "in"
        exp = generate(root, n)
        size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "mailinfra.cli", "reports", str(root), "--format", "json"],
            cwd=ROOT, capture_output=True, text=True, env={**os.environ, "COLUMNS": "100"},
        )  # fmt: skip
        seconds = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        doc = json.loads(proc.stdout)
        assert doc["input"]["dmarc_reports"] == exp.dmarc_reports, "summary disagrees with the generator"
        return {
            "reports": n,
            "input_mb": round(size / 1e6, 1),
            "seconds": round(seconds, 2),
            "reports_per_second": round(n / seconds),
            "peak_rss_mb": round(max(peak, before) / 1024, 1),  # ru_maxrss is KiB on Linux
            "exit": proc.returncode,
        }


def run_large(records: int = 100_000) -> dict[str, object]:
    """One report at the default --max-records: the XML tree of a single report is the memory peak."""
    from tests.reports.gen import START, aggregate_xml, gz

    row = {
        "ip": "54.240.8.21",
        "count": 3,
        "dkim_aligned": True,
        "spf_aligned": True,
        "dkim_pass": True,
        "spf_pass": True,
        "disposition": "none",
    }
    with tempfile.TemporaryDirectory(prefix="reports-large-") as tmp:
        data = aggregate_xml("google.com", "big", "example.com", START, START + 86399, [row] * records)
        (Path(tmp) / "big.xml.gz").write_bytes(gz(data))
        start = time.perf_counter()
        code = "import resource, runpy, sys; sys.argv = ['mailinfra', 'reports', sys.argv[1], '--format', 'json']\n"
        code += "try:\n    runpy.run_module('mailinfra.cli', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        code += "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)"
        proc = subprocess.run([sys.executable, "-c", code, tmp], cwd=ROOT, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        assert json.loads(proc.stdout)["domains"][0]["messages"] == 3 * records
        return {
            "records": records,
            "xml_mb": round(len(data) / 1e6, 1),
            "seconds": round(seconds, 2),
            "peak_rss_mb": round(int(proc.stderr.split()[-1]) / 1024, 1),
        }


def main(argv: list[str]) -> None:
    for n in [int(a) for a in argv] or [1000, 10000]:
        print(json.dumps(run(n)), flush=True)
    if not argv:
        print(json.dumps(run_large()), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
