"""Progress of `mailinfra plan` on a terminal: resources registered, policies judged, elapsed.

`plan_progress(console=None)` is a context manager yielding a `PlanProgress`, or None when
stderr is not a terminal (nothing extra is written then: CI logs and pipes stay clean).
Its `registered(count)` and `judged(done, total)` are the callbacks of
`mailinfra.engine.run_plan(on_register=)` and `mailinfra.policyrun.run_policies(on_judged=)`.
The display is rich's, on stderr, transient (gone when the plan is done).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

__all__ = ["PlanProgress", "plan_progress"]


class PlanProgress:
    """Two rows on one rich `Progress`: registrations (no total: a program's size is not
    known in advance) and policy evaluations (total known once judging starts)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.register_task: TaskID = progress.add_task("resources registered", total=None)
        self.judge_task: TaskID | None = None

    def registered(self, count: int) -> None:
        self.progress.update(self.register_task, completed=count)

    def judged(self, done: int, total: int) -> None:
        if self.judge_task is None:
            self.progress.update(self.register_task, total=self.progress.tasks[self.register_task].completed)
            self.judge_task = self.progress.add_task("policies judged", total=total)
        self.progress.update(self.judge_task, completed=done, total=total)


@contextmanager
def plan_progress(console: Console | None = None) -> Iterator[PlanProgress | None]:
    """A `PlanProgress` on `console` (default: stderr) if it is a terminal, else None."""
    if console is None:
        if not sys.stderr.isatty():
            yield None
            return
        from rich.console import Console

        console = Console(stderr=True)
    if not console.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        yield PlanProgress(progress)
