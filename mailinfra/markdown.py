"""A PR-comment-sized Markdown summary of a judged plan (secrets redacted, as in every format)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .values import redactor_for

MAX_ROWS = 50


def _cell(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plan_to_markdown(plan: Any, violations: Iterable[Any], *, max_rows: int = MAX_ROWS) -> str:
    redactor = redactor_for(plan)
    found = sorted(violations, key=lambda v: (v.enforcement != "mandatory", v.policy, v.urn))
    mandatory = sum(1 for v in found if v.enforcement == "mandatory")
    advisory = len(found) - mandatory
    verdict = "❌ blocked" if mandatory else ("⚠️ passes with advisories" if advisory else "✅ passes")
    lines = [
        f"### mailinfra plan `{plan.stack}`: {verdict}",
        "",
        f"{len(plan.resources)} resources · **{mandatory} mandatory** · {advisory} advisory violation(s)",
        "",
    ]
    if found:
        lines += ["| Enforcement | Severity | Policy | Resource | Message |", "|---|---|---|---|---|"]
        for v in found[:max_rows]:
            resource = v.resource_name or (v.urn.rsplit("::", 1)[-1] if v.urn else "(stack)")
            # redact before _cell escapes and cuts, so a secret is found as written
            cells = (_cell(redactor.text(str(resource)), 80), _cell(redactor.text(str(v.message))))
            lines.append(f"| {v.enforcement} | {v.severity} | `{v.policy}` | `{cells[0]}` | {cells[1]} |")
        if len(found) > max_rows:
            lines += ["", f"_and {len(found) - max_rows} more_"]
    return redactor.text("\n".join(lines) + "\n")
