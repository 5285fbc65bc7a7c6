"""Find the reports (a directory tree, files, an S3 prefix), read each within bounds, deduplicate.

`collect(inputs, limits, on_progress=None) -> Collection`. `inputs` are `Input`s: a name
and a `load()` that returns the bytes (bounded) or raises ReportError. Every problem is
one line "NAME: problem" in `Collection.problems`, and the run goes on. Reports are
deduplicated by (reporting org, report_id) (RFC 9990 section 3.1.1: the pair is unique),
the first one read wins; TLS-RPT likewise by (organization-name, report-id).
"""

from __future__ import annotations

import functools
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from .archive import Limits, ReportError, payloads, safe_name
from .dmarc import AggregateReport, parse_aggregate
from .tlsrpt import TlsReport, parse_tls_report

__all__ = ["Collection", "Input", "collect", "directory_inputs", "safe_name"]


@dataclass(frozen=True)
class Input:
    name: str
    load: Callable[[], bytes]


@dataclass
class Collection:
    dmarc: list[AggregateReport] = field(default_factory=list)
    tls: list[TlsReport] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    files: int = 0
    duplicates: int = 0


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def read_file(path: str, limits: Limits) -> bytes:
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise ReportError("not a regular file")
        if info.st_size > limits.max_bytes:
            raise ReportError(f"file is larger than {limits.max_bytes:,} bytes (raise --max-bytes)")
        with open(path, "rb") as f:
            return f.read(limits.max_bytes + 1)
    except OSError as exc:
        raise ReportError(f"cannot read ({exc.strerror or exc.__class__.__name__})") from None


def directory_inputs(paths: Iterable[str], limits: Limits) -> list[Input]:
    """Every file under each directory (symlinked directories are not followed), or the file itself."""
    found: list[str] = []
    for top in paths:
        if os.path.isdir(top):
            for root, dirs, files in os.walk(top):
                dirs.sort()
                found.extend(os.path.join(root, name) for name in sorted(files))
        else:
            found.append(top)
    return [Input(path, functools.partial(read_file, path, limits)) for path in found]


def _parse(name: str, kind: str, data: bytes, limits: Limits) -> AggregateReport | TlsReport:
    if kind == "xml":
        return parse_aggregate(name, data, limits)
    return parse_tls_report(name, data, limits)


def collect(
    inputs: Iterable[Input],
    limits: Limits,
    on_progress: Callable[[int, str], None] | None = None,
    on_problem: Callable[[str], None] | None = None,
) -> Collection:
    out = Collection()
    seen_dmarc: set[tuple[str, str]] = set()
    seen_tls: set[tuple[str, str]] = set()

    def problem(name: str, message: str) -> None:
        line = f"{safe_name(name)}: {_one_line(message)}"
        out.problems.append(line)
        if on_problem is not None:
            on_problem(line)

    for done, item in enumerate(inputs, 1):
        out.files += 1
        try:
            reports: Iterator[tuple[str, str, bytes]] = (
                (p.name, p.kind, p.data) for p in payloads(item.name, item.load(), limits)
            )
            for name, kind, data in reports:
                try:
                    report = _parse(name, kind, data, limits)
                except ReportError as exc:
                    problem(name, str(exc))
                    continue
                key = (report.org_name.lower(), report.report_id)
                if isinstance(report, AggregateReport):
                    if key in seen_dmarc:
                        out.duplicates += 1
                        continue
                    seen_dmarc.add(key)
                    out.dmarc.append(report)
                else:
                    if key in seen_tls:
                        out.duplicates += 1
                        continue
                    seen_tls.add(key)
                    out.tls.append(report)
        except ReportError as exc:
            problem(exc.where or item.name, str(exc))
        except MemoryError:
            problem(item.name, "out of memory while reading (lower --max-bytes)")
        if on_progress is not None:
            on_progress(done, item.name)
    return out
