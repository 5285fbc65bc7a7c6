"""The report intake checks of `mailinfra verify` (stacks with ``reports.enabled``).

``reports-mx``: the reports domain (``reports.domain``, else ``reports.<first zone>``:
standards/intake.py) has an MX to SES's inbound endpoint of the stack's region
(``standards.aws.ses_inbound_smtp_host``) and no other exchange: reports sent anywhere
else are lost to the intake.

``reports-rua``: for every declared DMARC and TLS-RPT record, the ``rua`` destinations
live are exactly the declared ones (a record edited by hand, or an old one still
cached at the provider, sends reports where the plan does not say); the result says
whether they include the intake's address.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from mailinfra.policies.mailinfra_policy.standards import aws as aws_std
from mailinfra.policies.mailinfra_policy.standards import dmarc as dmarc_std
from mailinfra.policies.mailinfra_policy.standards import intake as intake_std
from mailinfra.policies.mailinfra_policy.standards import tlsrpt as tlsrpt_std
from mailinfra.policies.mailinfra_policy.standards.errors import StandardError

from .context import Context, Task
from .expect import Expectations, ExpectedRecord, mx_exchange
from .report import CheckResult
from .result import dns_problem, result, short

__all__ = ["CHECKS", "IntakeTarget", "check_reports_mx", "check_rua", "intake_target", "tasks"]

CHECKS = ("reports-mx", "reports-rua")


@dataclass(frozen=True)
class IntakeTarget:
    domain: str
    region: str

    @property
    def inbound_host(self) -> str:
        return aws_std.ses_inbound_smtp_host(self.region)

    @property
    def addresses(self) -> dict[str, str]:
        return {"dmarc": intake_std.dmarc_address(self.domain), "tls-rpt": intake_std.tls_rpt_address(self.domain)}


def _as_bool(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def intake_target(exp: Expectations) -> IntakeTarget | None:
    """The stack's report intake as its config declares it, or None (disabled, or no region)."""
    namespace = exp.project or "mailinfra"
    reports = exp.config.get(f"{namespace}:reports", exp.config.get("mailinfra:reports"))
    zones = exp.config.get(f"{namespace}:zones", exp.config.get("mailinfra:zones"))
    region = exp.config.get("aws:region")
    if not isinstance(reports, Mapping) or not _as_bool(reports.get("enabled")) or not isinstance(region, str):
        return None
    domain = reports.get("domain")
    if not isinstance(domain, str):
        if not isinstance(zones, Mapping) or not zones:
            return None
        domain = intake_std.default_domain(str(next(iter(zones))))
    if not aws_std.is_ses_receiving_region(region):
        return None  # config refuses it; a hand-written plan is judged by the pack (ses-receiving-region)
    return IntakeTarget(domain.rstrip(".").lower(), region)


def tasks(exp: Expectations, ctx: Context) -> Iterable[Task]:
    target = intake_target(exp)
    if target is None:
        return
    yield Task(target.domain, "reports-mx", partial(check_reports_mx, ctx, target))
    for rec in sorted(exp.by_purpose("dmarc", "tls-rpt"), key=lambda r: r.name or ""):
        if rec.name is not None and rec.values:
            yield Task(rec.name, "reports-rua", partial(check_rua, ctx, target, rec))


async def check_reports_mx(ctx: Context, target: IntakeTarget) -> list[CheckResult]:
    expected = f"MX {target.inbound_host} only (SES receiving, {target.region})"
    answer = await ctx.client.query(target.domain, "MX")
    if not answer.ok:
        return [dns_problem(target.domain, "reports-mx", answer, expected)]
    hosts = sorted({mx_exchange(v) for v in answer.texts()})
    found = ", ".join(hosts)
    if target.inbound_host not in hosts:
        return [result(target.domain, "reports-mx", "fail", expected, found, "reports to this domain never reach the SES intake")]
    others = [h for h in hosts if h != target.inbound_host]
    if others:
        return [
            result(
                target.domain,
                "reports-mx",
                "fail",
                expected,
                found,
                f"other exchanges receive part of the reports: {', '.join(others)}",
            )
        ]
    return [result(target.domain, "reports-mx", "pass", expected, found)]


def _rua(purpose: str, values: Iterable[str]) -> tuple[str, ...]:
    """The rua URIs of the one record among ``values`` (lowercased, DMARC size limits dropped)."""
    if purpose == "dmarc":
        record = dmarc_std.parse_dmarc(dmarc_std.select(values), strict=False)
        uris: Iterable[str] = record.rua
    else:
        uris = tlsrpt_std.parse_tlsrpt(tlsrpt_std.select(values)).rua
    return tuple(sorted({u.split("!", 1)[0].lower() for u in uris}))


async def check_rua(ctx: Context, target: IntakeTarget, rec: ExpectedRecord) -> list[CheckResult]:
    assert rec.name is not None and rec.values is not None
    try:
        declared = _rua(rec.purpose, rec.values)
    except StandardError as exc:
        return [result(rec.name, "reports-rua", "error", "", "", f"the declared record does not parse: {exc}")]
    expected = f"rua {', '.join(declared) or '(none)'}"
    answer = await ctx.client.query(rec.name, "TXT")
    if not answer.ok:
        return [dns_problem(rec.name, "reports-rua", answer, expected)]
    try:
        live = _rua(rec.purpose, answer.txt())
    except StandardError as exc:
        return [result(rec.name, "reports-rua", "fail", expected, short(answer.txt()) or "none", str(exc))]
    found = f"rua {', '.join(live) or '(none)'}"
    if live != declared:
        extra = sorted(set(live) - set(declared))
        missing = sorted(set(declared) - set(live))
        parts = ([f"undeclared: {', '.join(extra)}"] if extra else []) + ([f"missing: {', '.join(missing)}"] if missing else [])
        return [result(rec.name, "reports-rua", "fail", expected, found, "; ".join(parts))]
    intake = f"mailto:{target.addresses['dmarc' if rec.purpose == 'dmarc' else 'tls-rpt']}"
    note = "reports reach the intake" if intake in live else f"reports go elsewhere (the intake is {intake})"
    return [result(rec.name, "reports-rua", "pass", expected, found, note)]
