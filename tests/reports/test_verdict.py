"""The ramp verdict at its edges: pass rate, coverage, volume, unexplained sources, policy steps."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mailinfra.reports.dmarc import AggregateReport, Row
from mailinfra.reports.summary import Thresholds, next_step, summarise
from tests.reports.gen import START, aggregate_xml

DAY = 86400
ROOT = Path(__file__).resolve().parents[2]


def _row(ip: str, count: int, aligned: bool) -> Row:
    return Row(ip, count, "none", aligned, False, "example.com", None, None, (), (), ())


def _report(
    rows: list[Row],
    *,
    day: int = 0,
    days: float = 1,
    p: str = "none",
    testing: bool | None = None,
    rid: str | None = None,
    sp: str | None = None,
) -> AggregateReport:
    begin = START + day * DAY
    return AggregateReport(
        source="t",
        org_name="google.com",
        email=None,
        report_id=rid or f"r{day}-{p}",
        begin=begin,
        end=begin + int(days * DAY),
        domain="example.com",
        p=p,
        sp=sp,
        np=None,
        adkim=None,
        aspf=None,
        testing=testing,
        discovery_method=None,
        pct=None,
        generator=None,
        rows=tuple(rows),
    )


def _fortnight(pass_count: int, fail_count: int, *, fail_ip: str = "198.51.100.1", p: str = "none") -> list[AggregateReport]:
    """14 daily reports; the failing messages come from one source, on the first day."""
    out = [_report([_row("54.240.8.21", pass_count // 14, True)], day=d, p=p) for d in range(14)]
    out[0] = _report([_row("54.240.8.21", pass_count // 14, True), _row(fail_ip, fail_count, False)], day=0, p=p)
    return out


def _checks(verdict) -> dict[str, bool]:
    return {c.name: c.ok for c in verdict.checks}


def _verdict(reports, **kw):
    thresholds = kw.pop("thresholds", Thresholds())
    return summarise(reports, [], thresholds, **kw).domains[0].verdict


def test_exactly_98_percent_is_enough_and_just_below_is_not():
    ok = _verdict(_fortnight(14 * 70, 20), thresholds=Thresholds(source_threshold=10_000))  # 980 / 1000
    assert ok.status == "ready" and (ok.current, ok.next) == ("p=none", "p=quarantine")
    low = _verdict(_fortnight(14 * 70, 21), thresholds=Thresholds(source_threshold=10_000))  # 980 / 1001
    assert low.status == "not-ready" and _checks(low) == {
        "aligned-pass": False,
        "coverage": True,
        "volume": True,
        "unexplained-sources": True,
    }


def test_coverage_is_the_union_of_date_ranges():
    base = [_report([_row("54.240.8.21", 100, True)], day=d, rid=f"a{d}") for d in range(13)]
    # the same 13 days reported twice by another org: still 13 days
    again = [_report([_row("54.240.8.21", 100, True)], day=d, rid=f"b{d}") for d in range(13)]
    short = _verdict(base + again)
    assert not _checks(short)["coverage"] and "13.0 days" in {c.name: c.detail for c in short.checks}["coverage"]
    full = _verdict(base + [_report([_row("54.240.8.21", 100, True)], day=13)])
    assert _checks(full)["coverage"] and full.status == "ready"


def test_volume_threshold():
    v = _verdict([_report([_row("54.240.8.21", 99, True)], days=14)])
    assert _checks(v) == {"aligned-pass": True, "coverage": True, "volume": False, "unexplained-sources": True}
    assert _verdict([_report([_row("54.240.8.21", 100, True)], days=14)]).status == "ready"


@pytest.mark.parametrize("failing, blocked", [(9, False), (10, True)])
def test_unexplained_source_at_the_threshold(failing, blocked):
    v = _verdict(_fortnight(100_000, failing), thresholds=Thresholds(source_threshold=10))
    assert _checks(v)["aligned-pass"]  # 10 of 100,000 is far above 98 %
    assert _checks(v)["unexplained-sources"] is not blocked
    assert v.status == ("not-ready" if blocked else "ready")


def test_known_and_ignored_sources_explain_a_failing_source():
    reports = _fortnight(100_000, 5_000, fail_ip="198.51.100.7")
    assert _verdict(reports).status == "not-ready"
    known = _verdict(reports, known=["198.51.100.0/24"])
    # known (ours) explains the source, but its failures still count against the rate
    assert _checks(known)["unexplained-sources"] and not _checks(known)["aligned-pass"]
    ignored = _verdict(reports, ignored=["198.51.100.7"])
    assert ignored.status == "ready" and "5,000 from ignored sources left out" in ignored.checks[0].detail


def test_a_mostly_passing_source_is_explained():
    rows = [_row("54.240.8.21", 100_000, True), _row("54.240.8.21", 50, False)]
    v = _verdict([_report(rows, days=14)])
    assert v.status == "ready"


def test_the_steps():
    assert next_step("none", False) == "p=quarantine"
    assert next_step("quarantine", False) == "p=reject"
    assert next_step("quarantine", True) == "p=quarantine"
    assert next_step("reject", True) == "p=reject"
    assert next_step("reject", False) is None
    final = _verdict(_fortnight(14_000, 0, p="reject"))
    assert final.status == "final" and final.next is None
    regress = _verdict(_fortnight(14_000, 5_000, p="reject"))
    assert regress.status == "final" and any("being rejected" in n for n in regress.notes)


def test_the_latest_report_gives_the_published_policy():
    reports = [
        _report([_row("54.240.8.21", 100, True)], day=0, p="none"),
        _report([_row("54.240.8.21", 100, True)], day=5, p="quarantine"),
    ]
    v = _verdict(reports)
    assert (v.current, v.current_from) == ("p=quarantine", "reports")


def test_the_stack_wins_and_a_mismatch_is_noted():
    v = _verdict(_fortnight(14_000, 0), stack_policies={"example.com": ("quarantine", False)})
    assert (v.current, v.next, v.current_from) == ("p=quarantine", "p=reject", "stack")
    assert any("the stack declares p=quarantine" in n for n in v.notes)


def test_a_declared_domain_without_reports_is_not_ready():
    s = summarise([], [], Thresholds(), stack_policies={"quiet.example": ("none", False)})
    (d,) = s.domains
    assert d.reports == 0 and d.verdict.status == "not-ready" and s.not_ready == ["quiet.example"]


def test_weaker_subdomain_policy_is_noted():
    v = _verdict([_report([_row("54.240.8.21", 100, True)], days=14, p="reject", sp="none")])
    assert any("sp=none is weaker than p=reject" in n for n in v.notes)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailinfra.cli", "reports", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_cli_exit_code_is_the_ramp_gate(tmp_path):
    good = [
        {
            "ip": "54.240.8.21",
            "count": 50,
            "dkim_aligned": True,
            "spf_aligned": True,
            "dkim_pass": True,
            "spf_pass": True,
            "disposition": "none",
        }
    ]
    for d in range(14):
        (tmp_path / f"{d}.xml").write_bytes(
            aggregate_xml("google.com", f"id{d}", "example.com", START + d * DAY, START + (d + 1) * DAY, good)
        )
    ready = _cli(str(tmp_path), "--format", "json")
    assert ready.returncode == 0, ready.stderr
    assert json.loads(ready.stdout)["domains"][0]["verdict"]["status"] == "ready"
    assert _cli(str(tmp_path), "--min-days", "15").returncode == 1
    bad = [dict(good[0], ip="198.51.100.3", count=20, dkim_aligned=False, spf_aligned=False)]
    (tmp_path / "crm.xml").write_bytes(aggregate_xml("Yahoo", "crm", "example.com", START, START + DAY, bad))
    blocked = _cli(str(tmp_path), "--min-pass-rate", "90")
    assert blocked.returncode == 1 and "198.51.100.3 (20 failing, via Yahoo)" in blocked.stdout
    assert _cli(str(tmp_path), "--min-pass-rate", "90", "--known-source", "198.51.100.0/28").returncode == 0


@pytest.mark.parametrize("end_offset", [DAY - 1, DAY])  # Google / Yahoo end at 23:59:59, Microsoft at midnight
def test_fourteen_daily_reports_are_fourteen_days(end_offset):
    reports = [
        AggregateReport(
            source="t",
            org_name="google.com",
            email=None,
            report_id=f"d{d}",
            begin=START + d * DAY,
            end=START + d * DAY + end_offset,
            domain="example.com",
            p="none",
            sp=None,
            np=None,
            adkim=None,
            aspf=None,
            testing=None,
            discovery_method=None,
            pct=None,
            generator=None,
            rows=(_row("54.240.8.21", 10, True),),
        )
        for d in range(14)
    ]
    d = summarise(reports, [], Thresholds()).domains[0]
    assert d.coverage_days == 14.0 and d.verdict.status == "ready"
