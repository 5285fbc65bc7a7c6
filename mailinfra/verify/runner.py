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
import contextlib
import multiprocessing
import multiprocessing.connection
import os
import sys
import threading
from collections.abc import Sequence
from dataclasses import astuple
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from mailinfra.policies.mailinfra_policy.standards.dmarc import organizational_domain

from . import bimi, dane, dkim, dmarc, hygiene, intake, keyage, mtasts, records, smtp, spf, tlsrpt, unsubscribe
from .context import Context, Task
from .expect import Expectations
from .report import CheckResult, Report
from .resolver import INITIAL_CONCURRENCY, AdaptiveLimit, DnsClient

if TYPE_CHECKING:
    from . import VerifyOptions

__all__ = ["MIN_TASKS_PER_JOB", "MODULES", "TASKS_PER_SLOT", "default_jobs", "plan_tasks", "run_all"]

TASKS_PER_SLOT = 4

MODULES = (records, spf, dkim, dmarc, mtasts, tlsrpt, smtp, bimi, dane, unsubscribe, intake, hygiene, keyage)


def plan_tasks(exp: Expectations, ctx: Context) -> list[Task]:
    return [task for module in MODULES for task in module.tasks(exp, ctx)]


def _use_progress(options: VerifyOptions) -> bool:
    if options.progress is not None:
        return options.progress
    return options.format != "json" and sys.stderr.isatty()


# a worker process pays for itself from about this many checks (fork, pipes, a second
# event loop, the questions two workers both ask)
MIN_TASKS_PER_JOB = 500


def default_jobs() -> int:
    """Worker processes when --jobs is not given: one per usable CPU, at most 4."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(4, cpus))


def run_all(exp: Expectations, options: VerifyOptions, client: DnsClient) -> Report:
    """Every check, in this process or in ``options.jobs`` forked workers (the checks of
    a domain stay in one worker, so its questions are asked once). The report lists the
    results in the same order either way."""
    ctx = Context(client, options)
    report = Report(options.stack)
    report.checks.extend(_unknown_names(exp))
    tasks = plan_tasks(exp, ctx)
    jobs = options.jobs if options.jobs is not None else default_jobs()
    jobs = min(jobs, max(1, len(tasks) // MIN_TASKS_PER_JOB))
    # fork copies only this thread: with others running (a host program's, say) a lock
    # they hold would stay held in the child, so by default the checks stay in this
    # process then; an explicit --jobs is taken as the caller's word
    forkable = "fork" in multiprocessing.get_all_start_methods() and (options.jobs is not None or threading.active_count() == 1)
    if jobs <= 1 or not forkable:
        results = asyncio.run(_run_tasks(tasks, options, client, _progress(options)))
    else:
        results = _run_forked(tasks, _partition(tasks, jobs), options, client)
    for found in results:
        report.checks.extend(found)
    return report


def _unknown_names(exp: Expectations) -> list[CheckResult]:
    return [
        CheckResult(
            rec.label,
            "record",
            "warn",
            f"a {rec.type} record in zone {rec.domain or '?'}",
            "",
            "name known only after deploy: pass --outputs (pulumi stack output --json) to check it",
        )
        for rec in exp.unknown
    ]


class _Progress:
    """rich's progress bar on stderr (a terminal, not JSON), or nothing."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import Progress

        self._progress = Progress(transient=True, console=Console(stderr=True))
        self._bar: Any = None

    def __enter__(self) -> _Progress:
        self._progress.__enter__()
        self._bar = self._progress.add_task("verifying", total=None)
        return self

    def set_total(self, total: int) -> None:
        self._progress.update(self._bar, total=total)

    def advance(self, n: int = 1) -> None:
        self._progress.advance(self._bar, n)

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(None, None, None)


def _progress(options: VerifyOptions) -> _Progress | None:
    return _Progress() if _use_progress(options) else None


async def _run_tasks(
    tasks: Sequence[Task], options: VerifyOptions, client: DnsClient, progress: _Progress | None, sink: Any = None
) -> list[list[CheckResult]]:
    """Run ``tasks``; their results in task order. ``sink(index, results)`` (workers)
    hears of each task as it ends."""
    out: list[list[CheckResult]] = [[] for _ in tasks]
    queue = iter(enumerate(tasks))

    async def worker() -> None:
        # a pool of coroutines taking the next task: 25,000 checks are not 25,000 asyncio
        # tasks queued on a semaphore (a tenth of the run went to that)
        for index, task in queue:
            try:
                found = await task.run()
            except Exception as exc:  # noqa: BLE001 - a bug or an unforeseen failure: report, don't crash
                found = [CheckResult(task.name, task.check, "error", "", "", f"internal error: {type(exc).__name__}: {exc}")]
            out[index] = found
            if progress is not None:
                progress.advance()
            if sink is not None:
                sink(index, found)

    pool = min(len(tasks), max(1, options.concurrency) * TASKS_PER_SLOT)
    try:
        if progress is not None:
            with progress:
                progress.set_total(len(tasks))
                await asyncio.gather(*(worker() for _ in range(pool)))
        else:
            await asyncio.gather(*(worker() for _ in range(pool)))
    finally:
        client.close()
    return out


def _group(name: str) -> str:
    """The organisational domain a task's name (a DNS name, host:port, a URL) is about."""
    host = name
    if "://" in host:
        try:
            host = urlsplit(host).hostname or host
        except ValueError:  # "https://[2001:db8::1/x": grouped by itself, judged by its check
            return host
    elif host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else host
    elif host.count(":") == 1:
        host = host.split(":")[0]
    return organizational_domain(host) if "." in host else host


def _partition(tasks: Sequence[Task], jobs: int) -> list[list[int]]:
    """Task indices for each worker: whole organisational domains, largest first onto the
    least-loaded worker, so that the workers finish together and share few questions."""
    groups: dict[str, list[int]] = {}
    for i, task in enumerate(tasks):
        groups.setdefault(_group(task.name), []).append(i)
    bins: list[list[int]] = [[] for _ in range(jobs)]
    loads = [0] * jobs
    for key in sorted(groups, key=lambda k: (-len(groups[k]), k)):
        j = loads.index(min(loads))
        bins[j].extend(groups[key])
        loads[j] += len(groups[key])
    return [sorted(b) for b in bins if b]


_CHUNK = 200  # results a worker sends at once


def _run_forked(
    tasks: Sequence[Task], parts: list[list[int]], options: VerifyOptions, client: DnsClient
) -> list[list[CheckResult]]:
    """Each part's tasks in a forked worker with its own event loop and DNS client (a
    copy of this one with the cap shared out); results come back over a pipe, task by
    task. A worker that dies turns its unfinished tasks into ``error`` results."""
    context = multiprocessing.get_context("fork")
    out: list[list[CheckResult] | None] = [None] * len(tasks)
    workers = []
    cap = max(1, int(options.concurrency) // len(parts))
    for part in parts:
        reader, writer = context.Pipe(duplex=False)
        proc = context.Process(target=_worker, args=(writer, [tasks[i] for i in part], part, options, client, cap), daemon=True)
        proc.start()
        writer.close()
        workers.append((proc, reader, part))
    progress = _progress(options)
    with progress if progress is not None else contextlib.nullcontext():
        if progress is not None:
            progress.set_total(len(tasks))
        live = {reader: (proc, part) for proc, reader, part in workers}
        while live:
            for conn in multiprocessing.connection.wait(list(live)):
                assert isinstance(conn, multiprocessing.connection.Connection)
                try:
                    batch = conn.recv()
                except (EOFError, OSError):
                    batch = None
                if batch is None:
                    proc, _ = live.pop(conn)
                    proc.join()
                    continue
                for index, rows in batch:
                    out[index] = [CheckResult(*row) for row in rows]
                if progress is not None:
                    progress.advance(len(batch))
    for proc, reader, part in workers:
        reader.close()
        for index in part:
            if out[index] is None:
                task = tasks[index]
                why = f"internal error: verify worker exited ({proc.exitcode})"
                out[index] = [CheckResult(task.name, task.check, "error", "", "", why)]
    return [found or [] for found in out]


def _worker(
    conn: multiprocessing.connection.Connection,
    tasks: list[Task],
    indices: list[int],
    options: VerifyOptions,
    client: DnsClient,
    cap: int,
) -> None:
    """In a forked child: run ``tasks`` (``indices`` in the parent's list), stream results."""
    client.limit = AdaptiveLimit(min(INITIAL_CONCURRENCY, cap), cap)
    batch: list[tuple[int, list[tuple[str, ...]]]] = []

    def sink(position: int, found: list[CheckResult]) -> None:
        batch.append((indices[position], [astuple(c) for c in found]))
        if len(batch) >= _CHUNK:
            conn.send(batch[:])
            batch.clear()

    try:
        asyncio.run(_run_tasks(tasks, options, client, None, sink))
        if batch:
            conn.send(batch)
        conn.send(None)
    finally:
        conn.close()
