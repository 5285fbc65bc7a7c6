"""Check results and the verify report: text, JSON and Markdown.

JSON: ``{"stack", "checks": [{"name", "check", "status", "expected", "found",
"message"}], "summary": {"pass", "warn", "fail", "error", "total"}}``.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["STATUSES", "CheckResult", "Report"]

STATUSES = ("pass", "warn", "fail", "error")


@dataclass(frozen=True)
class CheckResult:
    name: str  # what was checked: a DNS name, "host:port", a URL
    check: str  # kebab-case check id, e.g. "spf-budget"
    status: str  # pass | warn | fail | error
    expected: str = ""
    found: str = ""
    message: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES} (got {self.status!r})")


@dataclass
class Report:
    stack: str
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def summary(self) -> dict[str, int]:
        counts = Counter(c.status for c in self.checks)
        out = {s: counts.get(s, 0) for s in STATUSES}
        out["total"] = len(self.checks)
        return out

    @property
    def exit_code(self) -> int:
        """0 when nothing fails; 1 on any fail or error."""
        s = self.summary
        return 1 if s["fail"] or s["error"] else 0

    def sorted(self) -> list[CheckResult]:
        return sorted(self.checks, key=lambda c: (c.name, c.check, c.status, c.found))

    # ------------------------------------------------------------------ formats
    def to_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "checks": [asdict(c) for c in self.sorted()],
            "summary": self.summary,
        }

    def to_json(self) -> str:
        """``json.dumps(self.to_dict(), indent=2, ensure_ascii=False)``, written out check by
        check: with an indent, json encodes in Python (a second for 25,000 checks)."""
        if type(self).to_dict is not Report.to_dict or any(type(c) is not CheckResult for c in self.checks):
            return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"  # another shape (check-message)
        quote = json.encoder.encode_basestring  # type: ignore[attr-defined]  # the C encoder, as ensure_ascii=False
        fields = [f.name for f in dataclasses.fields(CheckResult)]
        rows = [
            "    {\n" + ",\n".join(f"      {quote(k)}: {quote(getattr(c, k))}" for k in fields) + "\n    }" for c in self.sorted()
        ]
        checks = "[\n" + ",\n".join(rows) + "\n  ]" if rows else "[]"
        summary = json.dumps(self.summary, indent=2, ensure_ascii=False).replace("\n", "\n  ")
        return f'{{\n  "stack": {quote(self.stack)},\n  "checks": {checks},\n  "summary": {summary}\n}}\n'

    def to_text(self) -> str:
        lines = [f"mailinfra verify: stack {self.stack}"]
        for c in self.sorted():
            lines.append(f"{c.status.upper():5} {c.check:26} {c.name}")
            if c.message:
                lines.append(f"      {c.message}")
            if c.status != "pass" and (c.expected or c.found):
                lines.append(f"      expected: {c.expected or '-'}")
                lines.append(f"      found:    {c.found or '-'}")
        lines.append(self._summary_line())
        return "\n".join(lines) + "\n"

    def to_markdown(self) -> str:
        def cell(text: str) -> str:
            return text.replace("|", "\\|").replace("\n", " ") or " "

        icon = {
            "pass": "✅ pass",
            "warn": "⚠️ warn",
            "fail": "❌ fail",
            "error": "🛑 error",
        }
        lines = [
            f"## mailinfra verify: `{self.stack}`",
            "",
            self._summary_line(),
            "",
            "| status | check | name | expected | found | message |",
            "|---|---|---|---|---|---|",
        ]
        for c in self.sorted():
            lines.append(
                f"| {icon[c.status]} | `{c.check}` | `{cell(c.name)}` | {cell(c.expected)} | {cell(c.found)} | {cell(c.message)} |"
            )
        return "\n".join(lines) + "\n"

    def render(self, fmt: str) -> str:
        if fmt == "json":
            return self.to_json()
        if fmt == "markdown":
            return self.to_markdown()
        if fmt == "text":
            return self.to_text()
        raise ValueError(f"unknown format {fmt!r}")

    def _summary_line(self) -> str:
        s = self.summary
        return f"{s['total']} checks: {s['pass']} pass, {s['warn']} warn, {s['fail']} fail, {s['error']} error"
