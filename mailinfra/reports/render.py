"""`mailinfra reports` output: text (terminal), JSON (machines; `format` names its version), Markdown (PR / ticket)."""

from __future__ import annotations

import datetime as _dt
import json
from typing import Any

from .summary import DomainSummary, SourceStats, Summary, TlsSummary

__all__ = ["FORMATS", "JSON_FORMAT", "render", "to_dict"]

FORMATS = ("text", "json", "markdown")
JSON_FORMAT = "mailinfra-reports/1"
_ICON = {"ready": "✅", "not-ready": "❌", "final": "🔒"}


def _iso(seconds: int | None) -> str | None:
    if seconds is None:
        return None
    return _dt.datetime.fromtimestamp(seconds, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None


def _pct(part: int, whole: int) -> str:
    return f"{part / whole * 100:.1f} %" if whole else "-"


def _source(s: SourceStats) -> dict[str, Any]:
    return {
        "ip": s.ip,
        "messages": s.messages,
        "dmarc_pass": s.aligned,
        "dmarc_fail": s.failing,
        "dkim_aligned": s.dkim_aligned,
        "spf_aligned": s.spf_aligned,
        "dkim_pass": s.dkim_pass,
        "spf_pass": s.spf_pass,
        "dispositions": dict(sorted(s.dispositions.items())),
        "reporters": sorted(s.reporters),
        "header_from": sorted(s.header_from),
        "envelope_from": sorted(s.envelope_from),
        "known": s.known,
        "ignored": s.ignored,
    }


def _domain(d: DomainSummary, top: int) -> dict[str, Any]:
    pub = d.published
    v = d.verdict
    return {
        "domain": d.domain,
        "reports": d.reports,
        "messages": d.messages,
        "dmarc_pass": d.aligned,
        "rates": {
            "dmarc_pass": _rate(d.aligned, d.messages),
            "dkim_aligned": _rate(d.dkim_aligned, d.messages),
            "spf_aligned": _rate(d.spf_aligned, d.messages),
            "dkim_pass": _rate(d.dkim_pass, d.messages),
            "spf_pass": _rate(d.spf_pass, d.messages),
        },
        "dispositions": dict(sorted(d.dispositions.items())),
        "reporters": dict(sorted(d.reporters.items())),
        "subdomains": dict(sorted(d.subdomains.items())),
        "coverage": {"first": _iso(d.first), "last": _iso(d.last), "days": round(d.coverage_days, 3)},
        "policy_published": None
        if pub is None
        else {
            "p": pub.p,
            "sp": pub.sp,
            "np": pub.np,
            "adkim": pub.adkim,
            "aspf": pub.aspf,
            "testing": pub.testing,
            "discovery_method": pub.discovery_method,
            "pct": pub.pct,
            "reported_by": pub.org_name,
            "as_of": _iso(pub.end),
        },
        "top_failing_sources": [_source(s) for s in d.failing_sources(top)],
        "sources": [_source(s) for s in sorted(d.sources.values(), key=lambda s: (-s.messages, s.ip))],
        "verdict": None
        if v is None
        else {
            "status": v.status,
            "current": v.current,
            "current_from": v.current_from,
            "next": v.next,
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in v.checks],
            "notes": list(v.notes),
        },
    }


def _tls(t: TlsSummary) -> dict[str, Any]:
    return {
        "domain": t.domain,
        "reports": t.reports,
        "successful_sessions": t.successful,
        "failed_sessions": t.failed,
        "failure_rate": _rate(t.failed, t.successful + t.failed),
        "policy_types": dict(sorted(t.policy_types.items())),
        "failures_by_result_type": dict(t.by_result.most_common()),
        "failures_by_mx": dict(t.by_mx.most_common()),
        "failures": [{"mx": mx, "result_type": r, "sessions": n} for (mx, r), n in t.by_mx_result.most_common()],
        "reporters": dict(sorted(t.reporters.items())),
        "coverage": {"first": _iso(t.first), "last": _iso(t.last)},
    }


def to_dict(summary: Summary) -> dict[str, Any]:
    t = summary.thresholds
    return {
        "format": JSON_FORMAT,
        "input": {
            "files": summary.files,
            "dmarc_reports": summary.dmarc_reports,
            "tls_reports": summary.tls_reports,
            "duplicates": summary.duplicates,
            "malformed": len(summary.problems),
            "since": _iso(summary.since),
        },
        "thresholds": {
            "min_pass_rate": t.min_pass_rate,
            "min_days": t.min_days,
            "min_messages": t.min_messages,
            "source_threshold": t.source_threshold,
            "top": t.top,
        },
        "domains": [_domain(d, t.top) for d in summary.domains],
        "tls": [_tls(x) for x in summary.tls],
        "problems": summary.problems,
        "not_ready": summary.not_ready,
    }


def _cell(text: Any) -> str:
    return " ".join(str(text).split()).replace("|", "\\|").replace("`", "'")


def _text(summary: Summary) -> str:
    t = summary.thresholds
    lines = [
        f"{summary.files:,} file(s): {summary.dmarc_reports:,} DMARC aggregate and {summary.tls_reports:,} TLS-RPT report(s), "
        f"{summary.duplicates:,} duplicate(s), {len(summary.problems):,} malformed",
    ]
    for d in summary.domains:
        v = d.verdict
        lines += ["", f"== {d.domain}"]
        if d.reports:
            lines.append(
                f"  {d.messages:,} messages in {d.reports:,} report(s) from {', '.join(sorted(d.reporters))}; "
                f"{d.coverage_days:.1f} days covered ({_iso(d.first)} .. {_iso(d.last)})"
            )
            lines.append(
                f"  DMARC pass {_pct(d.aligned, d.messages)} (aligned DKIM {_pct(d.dkim_aligned, d.messages)}, aligned SPF {_pct(d.spf_aligned, d.messages)}); "
                f"raw DKIM pass {_pct(d.dkim_pass, d.messages)}, raw SPF pass {_pct(d.spf_pass, d.messages)}"
            )
            lines.append("  disposition: " + ", ".join(f"{k} {n:,}" for k, n in sorted(d.dispositions.items())))
            failing = d.failing_sources(t.top)
            if failing:
                lines.append("  top failing sources:")
                for s in failing:
                    tag = " [known]" if s.known else " [ignored]" if s.ignored else ""
                    lines.append(
                        f"    {s.ip:<39} {s.failing:>9,} failing of {s.messages:,}{tag}  via {', '.join(sorted(s.reporters))}"
                        + (f"  from {', '.join(sorted(s.header_from)[:2])}" if s.header_from else "")
                    )
        else:
            lines.append("  no reports")
        if v is not None:
            lines.append(
                f"  verdict: {v.status.upper()}  {v.current} (from {v.current_from})" + (f" -> {v.next}" if v.next else "")
            )
            for c in v.checks:
                lines.append(f"    [{'ok' if c.ok else 'FAIL'}] {c.name}: {c.detail}")
            for note in v.notes:
                lines.append(f"    note: {note}")
    for x in summary.tls:
        lines += ["", f"== TLS-RPT {x.domain}"]
        lines.append(
            f"  {x.successful:,} successful, {x.failed:,} failed session(s) in {x.reports:,} report(s) from {', '.join(sorted(x.reporters))}"
        )
        if x.by_result:
            lines.append("  failures by result type: " + ", ".join(f"{k} {n:,}" for k, n in x.by_result.most_common()))
            lines.append("  failures by MX: " + ", ".join(f"{k} {n:,}" for k, n in x.by_mx.most_common(t.top)))
    if summary.problems:
        lines += ["", f"malformed ({len(summary.problems):,}):"] + [f"  {p}" for p in summary.problems[:50]]
        if len(summary.problems) > 50:
            lines.append(f"  and {len(summary.problems) - 50:,} more (--format json lists them all)")
    return "\n".join(lines) + "\n"


def _markdown(summary: Summary) -> str:
    t = summary.thresholds
    lines = [
        "### mailinfra reports",
        "",
        f"{summary.files:,} file(s) · {summary.dmarc_reports:,} DMARC · {summary.tls_reports:,} TLS-RPT · "
        f"{summary.duplicates:,} duplicate(s) · **{len(summary.problems):,} malformed**",
        "",
        "| Domain | Verdict | Policy | Next | Messages | DMARC pass | DKIM aligned | SPF aligned | Days |",
        "|---|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for d in summary.domains:
        v = d.verdict
        status = f"{_ICON.get(v.status, '')} {v.status}" if v else "-"
        lines.append(
            f"| `{_cell(d.domain)}` | {status} | `{v.current if v else '-'}` | {f'`{v.next}`' if v and v.next else '-'} | {d.messages:,} | "
            f"{_pct(d.aligned, d.messages)} | {_pct(d.dkim_aligned, d.messages)} | {_pct(d.spf_aligned, d.messages)} | {d.coverage_days:.1f} |"
        )
    for d in summary.domains:
        v = d.verdict
        if v is None:
            continue
        lines += ["", f"#### `{_cell(d.domain)}`", ""]
        lines += [f"- {'✅' if c.ok else '❌'} **{c.name}**: {_cell(c.detail)}" for c in v.checks]
        lines += [f"- ℹ️ {_cell(n)}" for n in v.notes]
        failing = d.failing_sources(t.top)
        if failing:
            lines += ["", "| Failing source | Failing | Messages | Reporters | Known |", "|---|---:|---:|---|---|"]
            for s in failing:
                known = "known" if s.known else "ignored" if s.ignored else ""
                lines.append(f"| `{s.ip}` | {s.failing:,} | {s.messages:,} | {_cell(', '.join(sorted(s.reporters)))} | {known} |")
    if summary.tls:
        lines += [
            "",
            "#### TLS-RPT",
            "",
            "| Policy domain | Successful | Failed | Failures by result type | Failures by MX |",
            "|---|---:|---:|---|---|",
        ]
        for x in summary.tls:
            results = ", ".join(f"{k} {n:,}" for k, n in x.by_result.most_common(5))
            mxs = ", ".join(f"{k} {n:,}" for k, n in x.by_mx.most_common(5))
            lines.append(
                f"| `{_cell(x.domain)}` | {x.successful:,} | {x.failed:,} | {_cell(results) or '-'} | {_cell(mxs) or '-'} |"
            )
    if summary.problems:
        lines += ["", f"<details><summary>{len(summary.problems):,} malformed report(s)</summary>", ""]
        lines += [f"- `{_cell(p)}`" for p in summary.problems[:100]]
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def render(summary: Summary, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(to_dict(summary), indent=2, ensure_ascii=False) + "\n"
    if fmt == "markdown":
        return _markdown(summary)
    return _text(summary)
