"""Benchmark `mailinfra verify --plan` against checkdmarc on the same live zones.

    python bench/verify.py [--sizes 100,1000,5000] [--rtt 0,40] [--checkdmarc-domains K]
                           [--concurrency CAP] [--out bench/results/verify.json]

Before any timing: a fleet of 10 domains (one brand zone, bench/genstack.py) is
planned once with `mailinfra plan --format json`; the plan of N domains is that plan
replicated over N/10 brand zones (brand0000 -> brandKKKK in every name, URN and value),
so every zone declares the same ten kinds of domain. Every declared record is
written as zone files (mailinfra.zone.zone_files) and served by one Knot DNS on
127.0.0.1 at a free port. Then, on the same N domains, in the same run:

- mailinfra: `mailinfra verify --stack bench --plan FILE --nameserver 127.0.0.1:PORT
  --format json` as a whole process (its start-up included);
- checkdmarc 6.0.4: `checkdmarc.check_domains(domains, resolver=<dnspython resolver
  at 127.0.0.1:PORT>, skip_tls=True, timeout=2.0)` in its own process, timed as a
  whole process (the headline speedup) and as the call alone (imports excluded: the
  conservative speedup). `nameservers=` takes bare IPs (port 53 only); the
  `resolver=` argument points it at the same server on the same port.

With ``--rtt 0,40`` each N is measured once per RTT: at 0 both tools ask Knot
directly; above 0 through tests/verify/delayproxy.py (UDP and TCP, on loopback, in
this process's thread), which adds that round trip to every question. At RTT > 0
``--checkdmarc-domains K`` lets checkdmarc (one domain at a time, ~1 domain/s at 40
ms) check only the first K domains; verdicts are compared on the domains both check
and its rate is per domain. checkdmarc 6.0.4 takes ``skip_tls`` but ignores it
(deprecated: STARTTLS is opt-in via ``check_mx_tls``, off), and its DNSSEC check
asks the system resolver, not ``resolver=``.

Neither tool can reach HTTPS (mta-sts.<domain>) or SMTP here; both are measured
on what they do with the DNS. SPF and DMARC verdicts are compared domain by domain.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)

import genstack  # noqa: E402
from tests.verify.delayproxy import DelayProxy  # noqa: E402
from tests.verify.knot import KNOTD, free_port, write_setup  # noqa: E402

# The one include every fleet domain's SPF names, served locally so both tools can
# walk the include tree (the shape of the real record: addresses only, -all).
AMAZONSES_SPF = (
    "v=spf1 ip4:199.255.192.0/22 ip4:199.127.232.0/22 ip4:54.240.0.0/18 ip4:69.169.224.0/20"
    " ip4:23.249.208.0/20 ip4:23.251.224.0/19 ip4:76.223.176.0/20 ip4:54.240.64.0/19 ip4:54.240.96.0/19 -all"
)
STUB_ZONES = {
    "amazonses.com": (
        "$ORIGIN amazonses.com.\n$TTL 3600\n@ SOA ns1.invalid. hostmaster.amazonses.com. 1 7200 900 1209600 300\n"
        f'@ NS ns1.invalid.\n@ TXT "{AMAZONSES_SPF}"\n'
    )
}
BASE = genstack.PER_ZONE  # the planned fleet: one brand zone of ten domains
TARGET_SPEEDUP = 10.0
TARGET_40MS_1000_S = 5.0  # at 40 ms RTT, 1,000 domains in at most 5 s
TARGET_0MS_RATE = 800.0  # at 0 ms, domains/s for 1,000 domains, whole process


# ------------------------------------------------------------------ plan, zones


def base_plan(tmp: str) -> dict[str, Any]:
    project = os.path.join(tmp, "base")
    genstack.make_project(BASE, project)
    out = os.path.join(tmp, "base-plan.json")
    mailinfra = os.path.join(os.path.dirname(sys.executable), "mailinfra")
    subprocess.run(
        [mailinfra, "plan", "--project", project, "--stack", "bench", "--no-policies", "--format", "json", "--output", out],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    with open(out, encoding="utf-8") as f:
        plan: dict[str, Any] = json.load(f)
    return plan


def replicate(plan: dict[str, Any], n: int) -> dict[str, Any]:
    """The plan of n domains (n a multiple of 10): every resource that names brand0000
    once per brand zone; the rest (key store, firewall, ops zone) once."""
    if n % BASE:
        raise SystemExit(f"sizes must be multiples of {BASE} (got {n})")
    marker = genstack.zone_name(0).split(".")[0]  # "brand0000"
    base_zone_id = f"Z0BENCH{0:014d}"  # genstack's zone id of brand0000
    shared: list[str] = []
    templated: list[str] = []
    for r in plan["resources"]:
        text = json.dumps(r)
        (templated if marker in text else shared).append(text)
    resources = [json.loads(t) for t in shared]
    for k in range(n // BASE):
        brand = genstack.zone_name(k).split(".")[0]
        zone_id = f"Z0BENCH{k:014d}"
        resources.extend(json.loads(t.replace(marker, brand).replace(base_zone_id, zone_id)) for t in templated)
    outputs = dict(plan["outputs"])
    zones = dict(outputs.get("zones", {}))
    base_zone = zones.pop(genstack.zone_name(0))
    for k in range(n // BASE):
        zones[genstack.zone_name(k)] = {**base_zone, "zoneId": f"Z0BENCH{k:014d}"}
    outputs["zones"] = zones
    outputs.pop("domains", None)  # per-domain exports are not read by verify
    return {**plan, "resources": resources, "outputs": outputs}


class Knot:
    """knotd on 127.0.0.1:<free port> serving the given zone files; stopped by pid."""

    def __init__(self, zones: dict[str, str], workdir: str) -> None:
        knotd = KNOTD
        if knotd is None:
            raise SystemExit("knotd not found: apt-get install knot")
        self.port = free_port()
        conf = write_setup(workdir, zones, self.port, tcp_workers=1)
        self.proc = subprocess.Popen([knotd, "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._wait_ready(list(zones))

    def _wait_ready(self, origins: list[str]) -> None:
        import dns.message
        import dns.query
        import dns.rcode

        deadline = time.monotonic() + 120
        last = origins[-1]
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"knotd exited: {self.proc.stderr.read().decode(errors='replace') if self.proc.stderr else ''}")
            try:
                resp = dns.query.udp(dns.message.make_query(last, "SOA"), "127.0.0.1", port=self.port, timeout=0.5)
                if resp.rcode() == dns.rcode.NOERROR and resp.answer:
                    return
            except Exception:  # noqa: BLE001 - not up yet
                pass
            time.sleep(0.2)
        raise SystemExit("knotd did not serve the zones within 120 s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


# ------------------------------------------------------------------ runs


def sending_domains(plan: dict[str, Any]) -> list[str]:
    out = []
    for r in plan["resources"]:
        if r["type"] == "aws:sesv2/emailIdentity:EmailIdentity":
            out.append(r["inputs"]["emailIdentity"])
    return sorted(set(out))


def run_mailinfra(plan_file: str, port: int, out: str, extra: list[str] | None = None) -> float:
    mailinfra = os.path.join(os.path.dirname(sys.executable), "mailinfra")
    cmd = [
        mailinfra,
        "verify",
        "--stack",
        "bench",
        "--plan",
        plan_file,
        "--nameserver",
        f"127.0.0.1:{port}",
        "--format",
        "json",
        "--output",
        out,
        "--timeout",
        "2",
        *(extra or []),
    ]
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"mailinfra verify failed ({proc.returncode}): {proc.stderr.decode(errors='replace')[-2000:]}")
    return wall


CHECKDMARC_RUNNER = r"""
import json, sys, time
import dns.resolver
import checkdmarc
domains, port, out = json.load(open(sys.argv[1])), int(sys.argv[2]), sys.argv[3]
resolver = dns.resolver.Resolver(configure=False)
resolver.nameservers = ["127.0.0.1"]
resolver.port = port
resolver.cache = None
start = time.perf_counter()
results = checkdmarc.check_domains(domains, resolver=resolver, skip_tls=True, timeout=2.0)
elapsed = time.perf_counter() - start
if isinstance(results, dict):
    results = [results]
json.dump({"seconds": elapsed, "results": results}, open(out, "w"), default=str)
"""


def run_checkdmarc(domains: list[str], port: int, tmp: str) -> tuple[float, float, list[dict[str, Any]]]:
    dfile = os.path.join(tmp, "domains.json")
    out = os.path.join(tmp, "checkdmarc.json")
    with open(dfile, "w", encoding="utf-8") as f:
        json.dump(domains, f)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", CHECKDMARC_RUNNER, dfile, str(port), out], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    wall = time.perf_counter() - start  # includes writing its results (json.dump)
    if proc.returncode != 0:
        raise SystemExit(f"checkdmarc failed: {proc.stderr.decode(errors='replace')[-2000:]}")
    with open(out, encoding="utf-8") as f:
        data = json.load(f)
    return data["seconds"], wall, data["results"]


# ------------------------------------------------------------------ verdicts


def mailinfra_verdicts(report: dict[str, Any], domains: list[str]) -> dict[str, dict[str, str]]:
    """domain -> {"spf": pass|fail, "dmarc": pass|fail}: a domain's SPF (DMARC) verdict
    fails when any spf* (dmarc*) check on the domain's own record name is fail/error."""
    wanted = set(domains)
    out: dict[str, dict[str, str]] = {d: {"spf": "pass", "dmarc": "pass"} for d in domains}
    for c in report["checks"]:
        name = c["name"].rstrip(".").lower()
        kind = None
        if c["check"].startswith("spf") and name in wanted:
            kind, dom = "spf", name
        elif c["check"].startswith("dmarc") and name.startswith("_dmarc.") and name[7:] in wanted:
            kind, dom = "dmarc", name[7:]
        elif c["check"] == "record" and name in wanted and "v=spf1" in (c.get("expected") or ""):
            kind, dom = "spf", name
        elif c["check"] == "record" and name.startswith("_dmarc.") and name[7:] in wanted:
            kind, dom = "dmarc", name[7:]
        if kind and c["status"] in ("fail", "error"):
            out[dom][kind] = "fail"
    return out


def checkdmarc_verdicts(results: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    out = {}
    for r in results:
        out[r["domain"].rstrip(".").lower()] = {
            "spf": "pass" if r.get("spf", {}).get("valid") else "fail",
            "dmarc": "pass" if r.get("dmarc", {}).get("valid") else "fail",
        }
    return out


def compare(a: dict[str, dict[str, str]], b: dict[str, dict[str, str]]) -> list[dict[str, str]]:
    diffs = []
    for d in sorted(set(a) | set(b)):
        for kind in ("spf", "dmarc"):
            va, vb = a.get(d, {}).get(kind, "absent"), b.get(d, {}).get(kind, "absent")
            if va != vb:
                diffs.append({"domain": d, "check": kind, "mailinfra": va, "checkdmarc": vb})
    return diffs


def checkdmarc_errors(results: list[dict[str, Any]], domain: str) -> dict[str, Any]:
    for r in results:
        if r["domain"].rstrip(".").lower() == domain:
            return {k: r.get(k, {}).get("error") for k in ("spf", "dmarc")} | {
                "warnings": {k: r.get(k, {}).get("warnings") for k in ("spf", "dmarc")}
            }
    return {}


# ------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100,1000,5000")
    ap.add_argument("--rtt", default="0", help="comma-separated RTTs in ms added by the delay proxy (0: Knot direct)")
    ap.add_argument(
        "--checkdmarc-domains",
        type=int,
        default=0,
        help="at RTT > 0, checkdmarc checks only the first K domains (0: all); verdicts are compared on those",
    )
    ap.add_argument("--concurrency", default=None, help="pass --concurrency to mailinfra verify (its cap)")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "verify.json"))
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    rtts = [float(s) for s in args.rtt.split(",") if s]
    extra = ["--concurrency", args.concurrency] if args.concurrency else []
    from mailinfra.zone import zone_files

    rows: list[dict[str, Any]] = []
    examples: dict[str, Any] = {}
    head = (
        f"{'N':>5} {'rtt ms':>6} {'checks':>7} {'mailinfra s':>11} {'dom/s':>8} {'timeouts':>8} {'cd N':>5}"
        f" {'checkdmarc s':>12} {'(call s)':>8} {'dom/s':>8} {'speedup':>7} {'verdict diffs':>13}"
    )
    print(head, flush=True)
    with tempfile.TemporaryDirectory(prefix="mailinfra-verify-bench-") as tmp:
        base = base_plan(tmp)
        for n in sizes:
            work = os.path.join(tmp, f"n{n}")
            os.makedirs(work)
            plan = replicate(base, n)
            plan_file = os.path.join(work, "plan.json")
            with open(plan_file, "w", encoding="utf-8") as f:
                json.dump(plan, f)
            domains = sending_domains(plan)
            knot = Knot({**zone_files(plan), **STUB_ZONES}, os.path.join(work, "knot"))
            try:
                for rtt in rtts:
                    rows.append(_one_run(n, rtt, plan_file, domains, knot.port, work, args, extra, examples))
            finally:
                knot.stop()
    by = {(r["domains"], r["rtt_ms"]): r for r in rows}
    targets: dict[str, Any] = {"at_least_10x_checkdmarc": all(r["speedup"] >= TARGET_SPEEDUP for r in rows if r["rtt_ms"] == 0)}
    if (1000, 40.0) in by:
        targets["rtt40_1000_domains_within_5s"] = by[(1000, 40.0)]["mailinfra_s"] <= TARGET_40MS_1000_S
    if (1000, 0.0) in by:
        targets["rtt0_1000_domains_800_per_s"] = by[(1000, 0.0)]["mailinfra_domains_per_s"] >= TARGET_0MS_RATE
    targets["same_verdicts_as_checkdmarc"] = all(r["verdict_differences"] == 0 for r in rows)
    result: dict[str, Any] = {
        "command": "python bench/verify.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "loadavg_at_end": os.getloadavg()},
        "rows": rows,
        "difference_examples": examples,
        "targets": targets,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    for name, ok in targets.items():
        print(f"{name}: {'met' if ok else 'NOT met'}")
    return 0


def _one_run(
    n: int,
    rtt: float,
    plan_file: str,
    domains: list[str],
    knot_port: int,
    work: str,
    args: argparse.Namespace,
    extra: list[str],
    examples: dict[str, Any],
) -> dict[str, Any]:
    """mailinfra then checkdmarc on the same zones, through a delay proxy when rtt > 0."""
    proxy = DelayProxy("127.0.0.1", knot_port, rtt / 1000.0).start() if rtt > 0 else None
    port = proxy.port if proxy is not None else knot_port
    sample = domains if rtt == 0 or not args.checkdmarc_domains else domains[: args.checkdmarc_domains]
    run_dir = os.path.join(work, f"rtt{rtt:g}")
    os.makedirs(run_dir)
    try:
        report_file = os.path.join(run_dir, "verify.json")
        m_s = run_mailinfra(plan_file, port, report_file, extra)
        c_s, c_proc_s, c_results = run_checkdmarc(sample, port, run_dir)
    finally:
        if proxy is not None:
            proxy.stop()
    with open(report_file, encoding="utf-8") as f:
        report = json.load(f)
    diffs = compare(mailinfra_verdicts(report, sample), checkdmarc_verdicts(c_results))
    statuses: dict[str, int] = report["summary"]
    by_check: dict[str, dict[str, int]] = {}
    for c in report["checks"]:
        by_check.setdefault(c["check"], {}).setdefault(c["status"], 0)
        by_check[c["check"]][c["status"]] += 1
    timeouts = sum(1 for c in report["checks"] if c["status"] == "error" and "timeout" in (c.get("message") or ""))
    row = {
        "domains": len(domains),
        "rtt_ms": rtt,
        "checks": statuses["total"],
        "mailinfra_s": round(m_s, 2),
        "mailinfra_domains_per_s": round(len(domains) / m_s, 1),
        "mailinfra_timeouts": timeouts,
        "checkdmarc_domains": len(sample),
        "checkdmarc_s": round(c_s, 2),
        "checkdmarc_domains_per_s": round(len(sample) / c_s, 1),
        "checkdmarc_process_s": round(c_proc_s, 2),
        "checkdmarc_process_domains_per_s": round(len(sample) / c_proc_s, 1),
        # whole process vs whole process, per domain (checkdmarc may check a sample)
        "speedup": round((c_proc_s / len(sample)) / (m_s / len(domains)), 1),
        "speedup_vs_call_only": round((c_s / len(sample)) / (m_s / len(domains)), 1),
        "verdict_differences": len(diffs),
        "mailinfra_summary": statuses,
        "mailinfra_by_check": by_check,
        "differences_by_kind": _group(diffs),
    }
    if diffs:
        examples[f"{n}@{rtt:g}ms"] = [d | {"checkdmarc_detail": checkdmarc_errors(c_results, d["domain"])} for d in diffs[:5]] + [
            {
                "mailinfra_checks": [
                    c for c in report["checks"] if c["name"].rstrip(".") in (diffs[0]["domain"], "_dmarc." + diffs[0]["domain"])
                ]
            }
        ]
    print(
        f"{row['domains']:>5} {rtt:>6g} {row['checks']:>7} {m_s:>11.2f} {row['mailinfra_domains_per_s']:>8.1f}"
        f" {timeouts:>8} {len(sample):>5} {c_proc_s:>12.2f} {c_s:>8.2f} {row['checkdmarc_process_domains_per_s']:>8.1f}"
        f" {row['speedup']:>7.1f} {len(diffs):>13}",
        flush=True,
    )
    return row


def _group(diffs: list[dict[str, str]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in diffs:
        key = f"{d['check']}: mailinfra {d['mailinfra']} / checkdmarc {d['checkdmarc']}"
        out[key] = out.get(key, 0) + 1
    return out


if __name__ == "__main__":
    sys.exit(main())
