"""Orchestration: turn expectations + options into check tasks and run them concurrently.

DNS concurrency is bounded by the DnsClient; HTTPS and SMTP probes run in worker
threads (bounded by the same ``concurrency``). A check that raises anyway becomes an
``error`` result naming the exception: verify never crashes on what it finds.
Progress is shown with rich on a terminal only, never with JSON output.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING

from . import checks
from .expect import Expectations
from .report import CheckResult, Report
from .resolver import DnsClient

if TYPE_CHECKING:
    from . import VerifyOptions

__all__ = ["plan_tasks", "run_checks"]

Task = tuple[
    str, str, Callable[[], Awaitable[list[CheckResult]]]
]  # (name, check, factory)


def _is_ses_feedback(value: str) -> bool:
    host = value.partition(" ")[2].rstrip(".").lower()
    return host.startswith("feedback-smtp.") and host.endswith(".amazonses.com")


def _mail_from_domains(exp: Expectations) -> list[str]:
    """Custom MAIL FROM domains: SPF names whose declared MX is SES's feedback endpoint."""
    names = {
        r.name
        for r in exp.by_purpose("mx")
        if any(_is_ses_feedback(v) for v in r.values or ())
    }
    return sorted({r.name for r in exp.by_purpose("spf") if r.name in names and r.name})


def plan_tasks(
    exp: Expectations, options: VerifyOptions, ctx: checks.Context
) -> list[Task]:
    tasks: list[Task] = []
    for rec in exp.records:
        tasks.append((rec.label, "record", partial(checks.check_record, ctx, rec)))
    spf_names = sorted({r.name for r in exp.by_purpose("spf", "null-spf") if r.name})
    senders_at = set(
        _mail_from_domains(exp) or [r.name for r in exp.by_purpose("spf") if r.name]
    )
    for name in spf_names:
        ips = tuple(options.sender_ips) if name in senders_at else ()
        tasks.append((name, "spf", partial(checks.check_spf, ctx, name, ips)))
    for rec in exp.by_purpose("dkim", "easy-dkim"):
        if rec.name and (rec.purpose == "dkim" or rec.values is not None):
            tasks.append(
                (rec.name, "dkim-key", partial(checks.check_dkim_key, ctx, rec))
            )
    if options.dkim_key and options.dkim_selector:
        key = _read_key(options.dkim_key)
        domains = sorted(
            {r.domain for r in exp.by_purpose("dkim", "easy-dkim")}
            or set(exp.domains("dmarc"))
        )
        for domain in domains:
            tasks.append(
                (
                    domain,
                    "dkim-sign",
                    partial(
                        checks.check_dkim_sign,
                        ctx,
                        domain,
                        options.dkim_selector or "",
                        key,
                    ),
                )
            )
    for domain in exp.domains("dmarc"):
        tasks.append((domain, "dmarc", partial(checks.check_dmarc, ctx, domain)))
    for rec in exp.by_purpose("mta-sts"):
        declared = rec.values[0] if rec.values else None
        tasks.append(
            (
                rec.domain,
                "mta-sts",
                partial(checks.check_mta_sts, ctx, rec.domain, declared),
            )
        )
    for domain in exp.domains("tls-rpt"):
        tasks.append((domain, "tls-rpt", partial(checks.check_tlsrpt, ctx, domain)))
    for host, port, required in smtp_targets(exp, options):
        tasks.append(
            (
                f"{host}:{port}",
                "smtp",
                partial(checks.check_smtp, ctx, host, port, required),
            )
        )
    return tasks


def _read_key(path: str) -> bytes:
    from .errors import VerifyInputError

    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise VerifyInputError(
            f"--dkim-key: cannot read {path!r}: {exc.strerror or exc}"
        ) from None


def smtp_targets(
    exp: Expectations, options: VerifyOptions
) -> list[tuple[str, int, bool]]:
    """``--smtp HOST:PORT`` targets (relays: STARTTLS required), else the declared MX hosts
    on port ``smtp_port`` (25; STARTTLS offered is enough)."""
    from .resolver import parse_hostport

    if options.smtp:
        return [(*parse_hostport(v, 587, "--smtp"), True) for v in options.smtp]
    hosts: dict[str, None] = {}
    for rec in exp.by_purpose("mx"):
        for value in rec.values or ():
            if not _is_ses_feedback(
                value
            ):  # SES's bounce endpoint is not ours to audit
                hosts[value.partition(" ")[2].rstrip(".").lower()] = None
    return [(h, options.smtp_port, False) for h in hosts if h]


def _use_progress(options: VerifyOptions) -> bool:
    if options.progress is not None:
        return options.progress
    return options.format != "json" and sys.stderr.isatty()


async def run_checks(
    exp: Expectations, options: VerifyOptions, client: DnsClient
) -> Report:
    ctx = checks.Context(
        client, options.timeout, options.ca_file, options.mta_sts_port, options.now
    )
    report = Report(options.stack)
    for rec in exp.unknown:
        report.checks.append(
            CheckResult(
                rec.label,
                "record",
                "warn",
                f"a {rec.type} record in zone {rec.domain or '?'}",
                "",
                "name known only after deploy: pass --outputs (pulumi stack output --json) to check it",
            )
        )
    tasks = plan_tasks(exp, options, ctx)
    limit = asyncio.Semaphore(max(1, options.concurrency))

    async def one(
        name: str, check: str, factory: Callable[[], Awaitable[list[CheckResult]]]
    ) -> list[CheckResult]:
        async with limit:
            try:
                return await factory()
            except Exception as exc:  # noqa: BLE001 - a bug or an unforeseen failure: report, don't crash
                return [
                    CheckResult(
                        name,
                        check,
                        "error",
                        "",
                        "",
                        f"internal error: {type(exc).__name__}: {exc}",
                    )
                ]

    coros = [one(*t) for t in tasks]
    if _use_progress(options) and coros:
        from rich.console import Console
        from rich.progress import Progress

        with Progress(transient=True, console=Console(stderr=True)) as progress:
            bar = progress.add_task("verifying", total=len(coros))
            for fut in asyncio.as_completed(coros):
                report.checks.extend(await fut)
                progress.advance(bar)
    else:
        for results in await asyncio.gather(*coros):
            report.checks.extend(results)
    return report
