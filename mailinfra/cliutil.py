"""What the ``mailinfra`` commands share: the exit-2 error, the default project and
planning on the mock engine. Its own module so that ``mailinfra.cli`` (which attaches
``verify``) and ``mailinfra.verify.cli`` (which plans) do not import each other.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable, Iterator
from typing import IO, Any

import click

__all__ = ["InputError", "default_project", "input_errors", "make_plan", "one_line"]


class InputError(click.ClickException):
    """Bad input: one line on stderr, exit 2."""

    exit_code = 2

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"mailinfra: error: {self.message}", err=True)


def default_project() -> str:
    """The repo this tool ships in, else the current directory."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if os.path.exists(os.path.join(here, "Pulumi.yaml")) and not os.path.exists("Pulumi.yaml"):
        return here
    return os.getcwd()


def one_line(exc: BaseException) -> str:
    text = str(exc).strip() or exc.__class__.__name__
    return " ".join(text.splitlines())


@contextlib.contextmanager
def input_errors(debug: bool = False) -> Iterator[None]:
    """Map every known bad-input error to exit 2 with one clear line."""
    from mailinfra.policies.mailinfra_policy.standards.errors import InputError as BadInput

    from .engine import ProgramError

    try:
        yield
    except (BadInput, ProgramError) as exc:  # BadInput: config, project, verify, standards
        trace = getattr(exc, "traceback", None)
        if debug and trace:
            click.echo(trace, err=True)
        raise InputError(one_line(exc)) from None
    except OSError as exc:
        raise InputError(f"{exc.filename or ''}: {exc.strerror or exc}".strip(": ")) from None


def make_plan(
    project: str,
    stack: str,
    *,
    debug: bool = False,
    on_register: Callable[[int], None] | None = None,
    stack_dir: str | None = None,
) -> Any:
    """Run the program on the mock engine (shared by plan, zone, verify and adopt)."""
    from .engine import run_plan
    from .fleet import references_for

    with input_errors(debug), contextlib.redirect_stdout(io.StringIO()) as captured:
        # a fleet shard reads its core's outputs: from the core's offline plan
        references = references_for(project, stack, stack_dir)
        plan = run_plan(project, stack, on_register=on_register, stack_dir=stack_dir, references=references)
    leaked = captured.getvalue()
    if leaked.strip():  # the program printed: keep it visible, but off stdout (reports go there)
        click.echo(leaked.rstrip(), err=True)
    return plan
