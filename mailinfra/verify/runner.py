"""Orchestration: every check module's tasks, run concurrently.

``MODULES`` is the registry: one module per standard (or concern), each exposing
``CHECKS`` and ``tasks(exp, ctx)`` (see ``context``). DNS concurrency is set by the
DnsClient's adaptive limit (at most ``concurrency``); so that the limit, not the
number of running checks, paces the link, up to ``TASKS_PER_SLOT`` checks per slot run
at once (a check asks its questions one after another). HTTPS and SMTP probes run in
asyncio's worker threads, so at most that pool's size of them at once. A task that raises anyway becomes an ``error`` result naming the
exception: verify never crashes on what it finds. Progress is shown with rich on a
terminal only, never with JSON output.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Any

from . import bimi, dane, dkim, dmarc, hygiene, intake, keyage, mtasts, records, smtp, spf, tlsrpt, unsubscribe
from .context import Context, Task
from .expect import Expectations
from .report import CheckResult, Report
from .resolver import DnsClient

if TYPE_CHECKING:
    from . import VerifyOptions

__all__ = ["MODULES", "TASKS_PER_SLOT", "plan_tasks", "run_checks"]

TASKS_PER_SLOT = 4

MODULES = (records, spf, dkim, dmarc, mtasts, tlsrpt, smtp, bimi, dane, unsubscribe, intake, hygiene, keyage)


def plan_tasks(exp: Expectations, ctx: Context) -> list[Task]:
    return [task for module in MODULES for task in module.tasks(exp, ctx)]


def _use_progress(options: VerifyOptions) -> bool:
    if options.progress is not None:
        return options.progress
    return options.format != "json" and sys.stderr.isatty()


async def run_checks(exp: Expectations, options: VerifyOptions, client: DnsClient) -> Report:
    ctx = Context(client, options)
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
    tasks = plan_tasks(exp, ctx)
    limit = asyncio.Semaphore(max(1, options.concurrency) * TASKS_PER_SLOT)

    async def one(task: Task) -> list[CheckResult]:
        async with limit:
            try:
                return await task.run()
            except Exception as exc:  # noqa: BLE001 - a bug or an unforeseen failure: report, don't crash
                return [CheckResult(task.name, task.check, "error", "", "", f"internal error: {type(exc).__name__}: {exc}")]

    coros = [one(t) for t in tasks]
    try:
        await _gather(coros, report, options)
    finally:
        client.close()
    return report


async def _gather(coros: list[Any], report: Report, options: VerifyOptions) -> None:
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
