"""DMARC checks of `mailinfra verify`.

``dmarc-syntax``: the one DMARC record at ``_dmarc.<domain>`` (``standards.dmarc.select``)
parses per RFC 9989; ``check_dmarc`` gives advice. ``dmarc-report-auth``: each external
rua/ruf destination publishes its RFC 9990 authorisation. ``dmarc-spf-alignment``: SPF
can align for each MAIL FROM domain of the domain (``spf_alignment_problem``: e.g.
``aspf=s`` with SES's ``bounce.<domain>`` never aligns).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from functools import partial

from mailinfra.policies.mailinfra_policy.standards import dmarc as dmarc_std
from mailinfra.policies.mailinfra_policy.standards._common import ZoneSet, zone_for
from mailinfra.policies.mailinfra_policy.standards.errors import StandardError

from .context import Context, Task, records_for
from .expect import Expectations, mail_from_domains
from .report import CheckResult
from .result import could_not_check, dns_problem, result, short

__all__ = ["CHECKS", "check_dmarc", "tasks"]

CHECKS = ("dmarc-syntax", "dmarc-report-auth", "dmarc-spf-alignment")


def tasks(exp: Expectations, ctx: Context) -> Iterable[Task]:
    domains = sorted({r.domain for r in records_for(exp, "dmarc")})
    mail_from: dict[str, list[str]] = {}
    zones = ZoneSet(domains)
    for name in mail_from_domains(exp):
        owner = zone_for(name, zones)  # the From domain this MAIL FROM domain serves
        if owner is not None:
            mail_from.setdefault(owner, []).append(name)
    for domain in domains:
        yield Task(domain, "dmarc-syntax", partial(check_dmarc, ctx, domain, tuple(mail_from.get(domain, ()))))


async def check_dmarc(ctx: Context, domain: str, mail_from: Sequence[str] = ()) -> list[CheckResult]:
    """RFC 9989 syntax; external rua/ruf destinations authorised; SPF alignment possible."""
    name = dmarc_std.dmarc_name(domain)
    expected = "one v=DMARC1 record (RFC 9989)"
    answer = await ctx.client.query(name, "TXT")
    if not answer.ok:
        return [dns_problem(name, "dmarc-syntax", answer, expected)]
    try:
        text = dmarc_std.select(answer.txt())
    except StandardError as exc:
        found = short([v for v in answer.txt() if dmarc_std.is_dmarc(v)]) or "none"
        return [result(name, "dmarc-syntax", "fail", expected, found, str(exc))]
    try:
        record = dmarc_std.parse_dmarc(text)
    except StandardError as exc:
        return [result(name, "dmarc-syntax", "fail", expected, text, str(exc))]
    problems = dmarc_std.check_dmarc(text)
    out = [result(name, "dmarc-syntax", "warn" if problems else "pass", expected, text, "; ".join(problems))]
    for envelope in mail_from:
        problem = dmarc_std.spf_alignment_problem(record.aspf, domain, envelope)
        want = f"SPF can align for MAIL FROM {envelope}"
        found = f"aspf={record.aspf}"
        out.append(result(name, "dmarc-spf-alignment", "warn" if problem else "pass", want, found, str(problem or "")))
    dests = dmarc_std.external_destinations(domain, record)
    out.extend(await asyncio.gather(*(_report_auth(ctx, domain, dest) for dest in dests)))
    return out


async def _report_auth(ctx: Context, domain: str, dest: str) -> CheckResult:
    check = "dmarc-report-auth"
    try:
        name, value = dmarc_std.report_auth_record(domain, dest)
    except StandardError as exc:
        return result(f"{domain} -> {dest}", check, "fail", "", "", str(exc))
    expected = f"{value} at {name}"
    answer = await ctx.client.query(name, "TXT")
    if answer.status == "error":
        return could_not_check(name, check, expected, answer.reason)
    message = f"external report destination {dest} has not authorised reports for {domain}"
    if not answer.ok:
        return result(name, check, "fail", expected, answer.describe(), message)
    authorising = dmarc_std.report_authorisation(answer.txt())
    if authorising is None:
        return result(name, check, "fail", expected, short(answer.txt()), f"{message}: no v=DMARC1 authorisation record")
    return result(name, check, "pass", expected, authorising)
