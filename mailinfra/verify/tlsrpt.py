"""``tls-rpt``: the one ``v=TLSRPTv1`` record at ``_smtp._tls.<domain>`` parses (RFC 8460),
as ``standards.tlsrpt`` selects and parses it."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial

from mailinfra.policies.mailinfra_policy.standards import tlsrpt as tlsrpt_std
from mailinfra.policies.mailinfra_policy.standards.errors import StandardError

from .context import Context, Task, records_for
from .expect import Expectations
from .report import CheckResult
from .result import dns_problem, result, short

__all__ = ["CHECKS", "check_tlsrpt", "tasks"]

CHECKS = ("tls-rpt",)


def tasks(exp: Expectations, ctx: Context) -> Iterable[Task]:
    for domain in sorted({r.domain for r in records_for(exp, "tls-rpt")}):
        yield Task(domain, "tls-rpt", partial(check_tlsrpt, ctx, domain))


async def check_tlsrpt(ctx: Context, domain: str) -> list[CheckResult]:
    name = tlsrpt_std.txt_name(domain)
    expected = "one v=TLSRPTv1 record with rua"
    answer = await ctx.client.query(name, "TXT")
    if not answer.ok:
        return [dns_problem(name, "tls-rpt", answer, expected)]
    try:
        text = tlsrpt_std.select(answer.txt())
    except StandardError as exc:
        return [result(name, "tls-rpt", "fail", expected, short(answer.txt()) or "none", str(exc))]
    try:
        record = tlsrpt_std.parse_tlsrpt(text)
    except StandardError as exc:
        return [result(name, "tls-rpt", "fail", expected, text, str(exc))]
    return [result(name, "tls-rpt", "pass", expected, text, f"rua: {', '.join(record.rua)}")]
