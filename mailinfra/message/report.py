"""check-message results and report: verify's CheckResult and Report, plus each rule's source.

JSON: ``{"message", "stack", "checks": [{"name", "check", "status", "expected", "found",
"message", "rule"}], "summary": {"pass", "warn", "fail", "error", "total"}}``; checks
keep the order in which they were made (the message read top-down), not sorted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from mailinfra.verify.report import CheckResult, Report

from .rules import rule

__all__ = ["MessageReport", "MessageResult", "make"]


@dataclass(frozen=True)
class MessageResult(CheckResult):
    rule: str = ""  # where the rule comes from (RFC section, law, receiver requirement)


def make(name: str, check: str, status: str, expected: str = "", found: str = "", message: str = "") -> MessageResult:
    return MessageResult(name, check, status, expected, found, message, rule(check))


def _rule(c: CheckResult) -> str:
    return c.rule if isinstance(c, MessageResult) else ""


class MessageReport(Report):
    def __init__(self, message_file: str, stack: str | None) -> None:
        super().__init__(message_file)
        self.message_file = message_file
        self.stack_name = stack

    def sorted(self) -> list[CheckResult]:
        return list(self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "message": self.message_file,
            "stack": self.stack_name,
            "checks": [asdict(c) for c in self.checks],
            "summary": self.summary,
        }

    def to_text(self) -> str:
        where = f" (stack {self.stack_name})" if self.stack_name else ""
        lines = [f"mailinfra check-message: {self.message_file}{where}"]
        for c in self.checks:
            lines.append(f"{c.status.upper():5} {c.check:24} {c.name}")
            if c.message:
                lines.append(f"      {c.message}")
            if c.status != "pass" and (c.expected or c.found):
                lines.append(f"      expected: {c.expected or '-'}")
                lines.append(f"      found:    {c.found or '-'}")
            if c.status != "pass" and _rule(c):
                lines.append(f"      rule:     {_rule(c)}")
        lines.append(self._summary_line())
        return "\n".join(lines) + "\n"

    def to_markdown(self) -> str:
        def cell(text: str) -> str:
            return text.replace("|", "\\|").replace("\n", " ") or " "

        icon = {"pass": "✅ pass", "warn": "⚠️ warn", "fail": "❌ fail", "error": "🛑 error"}
        where = f" (stack `{self.stack_name}`)" if self.stack_name else ""
        lines = [
            f"## mailinfra check-message: `{cell(self.message_file)}`{where}",
            "",
            self._summary_line(),
            "",
            "| status | check | name | expected | found | message | rule |",
            "|---|---|---|---|---|---|---|",
        ]
        for c in self.checks:
            lines.append(
                f"| {icon[c.status]} | `{c.check}` | `{cell(c.name)}` | {cell(c.expected)} | {cell(c.found)} "
                f"| {cell(c.message)} | {cell(_rule(c))} |"
            )
        return "\n".join(lines) + "\n"
