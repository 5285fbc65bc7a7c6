"""A directory of 1,000 mixed reports (every packing, TLS-RPT, resends, malformed files),
summarised by the CLI: every total equals the generator's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reports.gen import DOMAINS, generate

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def thousand(tmp_path_factory):
    root = tmp_path_factory.mktemp("thousand")
    return root, generate(root, 1000)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailinfra.cli", "reports", *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def test_json_totals_match_the_generator(thousand, tmp_path):
    root, exp = thousand
    out = tmp_path / "summary.json"
    proc = _cli(str(root), "--format", "json", "--output", str(out))
    assert proc.returncode in (0, 1), proc.stderr
    assert proc.stdout == ""
    doc = json.loads(out.read_text())
    assert doc["format"] == "mailinfra-reports/1"
    assert doc["input"] == {
        "files": exp.files,
        "dmarc_reports": exp.dmarc_reports,
        "tls_reports": exp.tls_reports,
        "duplicates": exp.duplicates,
        "malformed": exp.malformed,
        "since": None,
    }
    assert exp.files == 1000 and exp.duplicates > 0 and exp.malformed > 0 and exp.tls_reports > 0
    assert len(proc.stderr.strip().splitlines()) == exp.malformed
    domains = {d["domain"]: d for d in doc["domains"]}
    assert set(domains) == set(DOMAINS)
    for name, d in domains.items():
        e = exp.domains[name]
        assert d["messages"] == e["messages"]
        assert d["dmarc_pass"] == e["aligned"]
        assert d["rates"]["dkim_aligned"] == round(e["dkim_aligned"] / e["messages"], 6)
        assert d["rates"]["spf_aligned"] == round(e["spf_aligned"] / e["messages"], 6)
        assert d["rates"]["dkim_pass"] == round(e["dkim_pass"] / e["messages"], 6)
        assert d["rates"]["spf_pass"] == round(e["spf_pass"] / e["messages"], 6)
        assert d["dispositions"] == {k.split(":", 1)[1]: v for k, v in e.items() if k.startswith("disposition:")}
        assert d["coverage"]["days"] == len(exp.days[name])  # 23:59:59 ends close the day
        for s in d["sources"]:
            se = exp.sources[(name, s["ip"])]
            assert (s["messages"], s["dmarc_pass"], s["dkim_pass"]) == (se["messages"], se["aligned"], se["dkim_pass"])
        top = d["top_failing_sources"]
        assert [s["dmarc_fail"] for s in top] == sorted((s["dmarc_fail"] for s in top), reverse=True)
        worst = max(se["messages"] - se["aligned"] for (dom, _), se in exp.sources.items() if dom == name)
        assert top[0]["dmarc_fail"] == worst
        # ~10 % of rows come from unknown failing sources: no domain may ramp
        v = d["verdict"]
        assert v["status"] == "not-ready" and v["next"] == "p=quarantine"
        assert {c["name"]: c["ok"] for c in v["checks"]}["aligned-pass"] is (e["aligned"] / e["messages"] >= 0.98)
    tls = {t["domain"]: t for t in doc["tls"]}
    for name, t in tls.items():
        e = exp.tls[name]
        assert (t["successful_sessions"], t["failed_sessions"]) == (e["successful"], e["failed"])
        assert t["failures_by_result_type"] == {k.split(":", 1)[1]: v for k, v in e.items() if k.startswith("result:")}
        assert t["failures_by_mx"] == {k.split(":", 1)[1]: v for k, v in e.items() if k.startswith("mx:")}
    assert sorted(doc["not_ready"]) == sorted(DOMAINS)
    assert proc.returncode == 1


def test_text_and_markdown_say_the_same(thousand):
    root, exp = thousand
    text = _cli(str(root))
    md = _cli(str(root), "--format", "markdown")
    assert text.returncode == md.returncode == 1
    first = f"{exp.files:,} file(s): {exp.dmarc_reports:,} DMARC aggregate and {exp.tls_reports:,} TLS-RPT report(s)"
    assert text.stdout.startswith(first)
    for name in DOMAINS:
        messages = f"{exp.domains[name]['messages']:,}"
        assert f"== {name}\n  {messages} messages" in text.stdout
        assert f"| `{name}` | ❌ not-ready | `p=none` | `p=quarantine` | {messages} |" in md.stdout
    assert text.stdout.count("verdict: NOT-READY") == len(DOMAINS)
    assert f"**{exp.malformed:,} malformed**" in md.stdout
    assert "#### TLS-RPT" in md.stdout and "== TLS-RPT example.com" in text.stdout
