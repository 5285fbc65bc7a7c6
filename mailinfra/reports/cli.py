"""The ``reports`` click command; the main ``mailinfra`` group attaches it.

Exit codes: 0 every domain is ready for its next DMARC step or already at p=reject;
1 at least one domain is not ready (the ramp gate, for CI); 2 bad input (one line on
stderr). A malformed report never changes the exit code: it is one stderr line
("mailinfra: reports: FILE: problem") and an entry of the output's problems.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from mailinfra.cliutil import InputError, default_project, input_errors, one_line

from .render import FORMATS

__all__ = ["reports"]


def _networks(option: str, values: tuple[str, ...]) -> tuple[str, ...]:
    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise InputError(f"{option}: {value!r} is not an IP address or CIDR") from None
    return values


def _since(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        day = _dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(f"--since: {value!r} is not a date (YYYY-MM-DD)") from None
    return int(_dt.datetime(day.year, day.month, day.day, tzinfo=_dt.timezone.utc).timestamp())


def _stack_settings(project: str, stack: str) -> tuple[dict[str, tuple[str, bool]], tuple[str, ...]]:
    """Each declared domain's (dmarc.policy, dmarc.testing), and relay.senderIps (known sources)."""
    from mailinfra.components.config import NAMESPACE, _decode, parse_config
    from mailinfra.policies.mailinfra_policy.standards.errors import InputError as BadInput
    from mailinfra.project import load_project, load_stack_config

    with input_errors():
        cfg = load_stack_config(load_project(project), stack)
        prefix = NAMESPACE + ":"
        raw = {k[len(prefix) :]: _decode(v) for k, v in cfg.engine_config.items() if k.startswith(prefix)}
        try:
            parsed = parse_config(raw, stack=cfg.stack, region=cfg.engine_config.get("aws:region"), secret_keys=cfg.secret_keys)
        except BadInput:
            raise  # input_errors makes it one line
        except Exception as exc:  # noqa: BLE001 - a bug in config validation is still one line, as plan's "program failed"
            raise InputError(f"--stack {stack}: config validation failed: {exc.__class__.__name__}: {one_line(exc)}") from None
    policies = {d.name: (d.dmarc.policy, d.dmarc.testing) for d in parsed.domains}
    return policies, tuple(parsed.relay.sender_ips)


@contextmanager
def _progress(total: int) -> Iterator[Any]:
    """A rich bar on stderr, only on a terminal (CI logs and pipes stay clean)."""
    if total < 2 or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    if not console.is_terminal:
        yield None
        return
    with Progress(
        TextColumn("reports read"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console, transient=True
    ) as bar:
        yield bar


@click.command()
@click.argument("paths", nargs=-1, metavar="[DIR|FILE]...")
@click.option(
    "--bucket",
    default=None,
    metavar="s3://BUCKET[/PREFIX]",
    help="Also read the intake bucket (boto3: the 'aws' extra; AWS credentials).",
)
@click.option("--stack", "-s", default=None, help="Read each domain's declared DMARC policy and relay.senderIps from this stack.")
@click.option("--project", type=click.Path(file_okay=False), default=None, help="Pulumi project directory (default: this repo).")
@click.option(
    "--known-source", "known", multiple=True, metavar="IP|CIDR", help="A source that is yours (explained) (repeatable)."
)
@click.option(
    "--ignore-source",
    "ignored",
    multiple=True,
    metavar="IP|CIDR",
    help="A source to leave out of the pass rate: a known forger or forwarder (repeatable).",
)
@click.option(
    "--min-pass-rate",
    type=click.FloatRange(0, 100),
    default=98.0,
    show_default=True,
    help="Percent of messages that must pass DMARC.",
)
@click.option(
    "--min-days", type=click.FloatRange(0, 3650), default=14.0, show_default=True, help="Days of report coverage needed."
)
@click.option(
    "--min-messages", type=click.IntRange(0), default=100, show_default=True, help="Messages that must have been reported."
)
@click.option(
    "--source-threshold",
    type=click.IntRange(1),
    default=10,
    show_default=True,
    help="Failing messages from one unexplained source that block the next step.",
)
@click.option("--top", type=click.IntRange(1, 1000), default=10, show_default=True, help="Failing sources listed per domain.")
@click.option(
    "--since",
    default=None,
    metavar="YYYY-MM-DD",
    help="Only reports whose range ends on or after this day (UTC), e.g. the day of the last policy change.",
)
@click.option(
    "--max-bytes",
    "max_mb",
    type=click.FloatRange(0.001, 4096),
    default=50.0,
    show_default=True,
    help="MB one report may decompress to (and one file may be).",
)
@click.option(
    "--max-records",
    type=click.IntRange(1),
    default=100_000,
    show_default=True,
    help="Records per DMARC report, failure details per TLS report.",
)
@click.option(
    "--max-members",
    type=click.IntRange(1, 10_000),
    default=20,
    show_default=True,
    help="Members per zip, attachments per message.",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option(
    "--output", "-o", "output", type=click.Path(), default=None, help="Write the summary here instead of stdout (atomically)."
)
def reports(
    paths: tuple[str, ...],
    bucket: str | None,
    stack: str | None,
    project: str | None,
    known: tuple[str, ...],
    ignored: tuple[str, ...],
    min_pass_rate: float,
    min_days: float,
    min_messages: int,
    source_threshold: int,
    top: int,
    since: str | None,
    max_mb: float,
    max_records: int,
    max_members: int,
    fmt: str,
    output: str | None,
) -> None:
    """Summarise DMARC aggregate and TLS-RPT reports per domain and source, with a DMARC ramp verdict."""
    import os

    from .archive import Limits
    from .collect import collect, directory_inputs
    from .render import render
    from .summary import Thresholds, summarise

    if not paths and bucket is None:
        raise InputError("give a directory or file of reports, or --bucket s3://BUCKET[/PREFIX]")
    for path in paths:
        if not os.path.exists(path):
            raise InputError(f"{path!r}: no such file or directory")
    known = _networks("--known-source", known)
    ignored = _networks("--ignore-source", ignored)
    start = _since(since)
    if output is not None:  # a bad --output fails before any report is read
        from ..outfile import OutputError, check_writable

        try:
            check_writable(output)
        except OutputError as exc:
            raise InputError(one_line(exc)) from None
    stack_policies = None
    if stack is not None:
        stack_policies, sender_ips = _stack_settings(project or default_project(), stack)
        known = known + sender_ips
    limits = Limits(max_bytes=int(max_mb * 1024 * 1024), max_records=max_records, max_members=max_members)
    inputs = directory_inputs(paths, limits)
    if bucket is not None:
        from .s3 import BucketError, bucket_inputs

        try:
            inputs += bucket_inputs(bucket, limits)
        except BucketError as exc:
            raise InputError(one_line(exc)) from None

    with _progress(len(inputs)) as bar:
        task = bar.add_task("reports", total=len(inputs)) if bar is not None else None

        def on_problem(line: str) -> None:
            message = f"mailinfra: reports: {line}"
            if bar is not None:
                bar.console.print(message, markup=False, highlight=False)
            else:
                click.echo(message, err=True)

        def on_progress(done: int, _name: str) -> None:
            if bar is not None:
                bar.update(task, completed=done)

        found = collect(inputs, limits, on_progress=on_progress, on_problem=on_problem)
    thresholds = Thresholds(
        min_pass_rate=min_pass_rate / 100,
        min_days=min_days,
        min_messages=min_messages,
        source_threshold=source_threshold,
        top=top,
    )
    summary = summarise(
        found.dmarc,
        found.tls,
        thresholds,
        known=known,
        ignored=ignored,
        stack_policies=stack_policies,
        since=start,
        files=found.files,
        duplicates=found.duplicates,
        problems=found.problems,
    )
    text = render(summary, fmt)
    if output is None:
        click.echo(text, nl=False)
    else:
        from ..outfile import OutputError, atomic_output

        try:
            with atomic_output(output) as f:
                f.write(text)
        except OutputError as exc:
            raise InputError(one_line(exc)) from None
    if summary.not_ready:
        sys.exit(1)
