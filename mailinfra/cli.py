"""The ``mailinfra`` command: plan (offline preview + policy pack), zone, verify.

Exit codes are a contract: 0 ok, 1 a mandatory violation (plan) or a failed check
(verify), 2 invalid input - one line on stderr, never a traceback.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator
from typing import IO, Any

import click

FORMATS = ("text", "json", "sarif", "markdown")


class InputError(click.ClickException):
    """Bad input: one line on stderr, exit 2."""

    exit_code = 2

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"mailinfra: error: {self.message}", err=True)


def _default_project() -> str:
    """The repo this tool ships in, else the current directory."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if os.path.exists(os.path.join(here, "Pulumi.yaml")) and not os.path.exists("Pulumi.yaml"):
        return here
    return os.getcwd()


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or exc.__class__.__name__
    return " ".join(text.splitlines())


@contextlib.contextmanager
def _input_errors(debug: bool = False) -> Iterator[None]:
    """Map every known bad-input error to exit 2 with one clear line."""
    from components.config import ConfigError

    from .engine import ProgramError
    from .project import ProjectError

    try:
        yield
    except (ConfigError, ProjectError, ProgramError) as exc:
        trace = getattr(exc, "traceback", None)
        if debug and trace:
            click.echo(trace, err=True)
        raise InputError(_one_line(exc)) from None
    except OSError as exc:
        raise InputError(f"{exc.filename or ''}: {exc.strerror or exc}".strip(": ")) from None


@contextlib.contextmanager
def _output(path: str | None) -> Iterator[IO[str]]:
    if path is None:
        yield sys.stdout
        return
    try:
        f = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise InputError(f"--output: cannot write {path!r}: {exc.strerror}") from None
    with f:
        yield f


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mailinfra")
def main() -> None:
    """Secure email-sending infrastructure on Pulumi: plan offline, export zones, verify what is live."""


def make_plan(project: str, stack: str, *, debug: bool = False):
    """Run the program on the mock engine (shared by plan, zone and verify)."""
    from .engine import run_plan

    with _input_errors(debug), contextlib.redirect_stdout(io.StringIO()) as captured:
        plan = run_plan(project, stack)
    leaked = captured.getvalue()
    if leaked.strip():  # the program printed: keep it visible, but off stdout (reports go there)
        click.echo(leaked.rstrip(), err=True)
    return plan


@main.command()
@click.option("--stack", "-s", required=True, help="Stack name (reads Pulumi.<stack>.yaml).")
@click.option("--project", "project", type=click.Path(file_okay=False), default=None, help="Pulumi project directory (default: this repo).")
@click.option("--policy-pack", "policy_pack", type=click.Path(file_okay=False), default=None, help="CrossGuard pack directory (default: the pack shipped with mailinfra).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--output", "-o", "output", type=click.Path(dir_okay=False), default=None, help="Write the report here instead of stdout.")
@click.option("--environment", type=click.Choice(["dev", "staging", "prod"]), default=None, help="Override the environment the pack enforces for.")
@click.option("--no-policies", is_flag=True, help="Plan only; do not judge.")
@click.option("--debug", is_flag=True, help="Show the program's traceback on failure.")
def plan(stack: str, project: str | None, policy_pack: str | None, fmt: str, output: str | None, environment: str | None, no_policies: bool, debug: bool) -> None:
    """Preview a stack on Pulumi's mock engine and judge it with the policy pack."""
    from . import render

    project = project or _default_project()
    if policy_pack is not None and not os.path.isdir(policy_pack):
        raise InputError(f"--policy-pack: {policy_pack!r} is not a directory")
    the_plan = make_plan(project, stack, debug=debug)
    if not no_policies:
        from .policyrun import PolicyPackError, run_policies

        try:
            the_plan.violations = run_policies(the_plan, policy_pack_dir=policy_pack, environment=environment)
        except PolicyPackError as exc:
            raise InputError(_one_line(exc)) from None
    with _output(output) as out:
        if fmt == "json":
            render.plan_to_json(the_plan, out)
        elif fmt == "text":
            out.write(render.plan_to_text(the_plan, the_plan.violations))
        elif fmt == "sarif":
            from .sarif import write_sarif

            write_sarif(the_plan, the_plan.violations, out, project_dir=project)
        else:
            from .markdown import plan_to_markdown

            out.write(plan_to_markdown(the_plan, the_plan.violations))
    if any(v.enforcement == "mandatory" for v in the_plan.violations):
        sys.exit(1)


@main.command()
@click.option("--stack", "-s", required=True, help="Stack name (reads Pulumi.<stack>.yaml).")
@click.option("--project", "project", type=click.Path(file_okay=False), default=None, help="Pulumi project directory (default: this repo).")
@click.option("--zone", "zone_name", default=None, help="Only this zone.")
@click.option("--output-dir", "output_dir", type=click.Path(file_okay=False), default=None, help="Write <zone>.zone files here instead of stdout.")
def zone(stack: str, project: str | None, zone_name: str | None, output_dir: str | None) -> None:
    """Export every declared record as a BIND zone file per DNS zone."""
    from .zone import zone_files

    the_plan = make_plan(project or _default_project(), stack)
    files = zone_files(the_plan)
    if zone_name is not None:
        wanted = zone_name.rstrip(".").lower()
        if wanted not in files:
            raise InputError(f"--zone: {zone_name!r} is not a zone of stack {stack} (zones: {', '.join(sorted(files)) or 'none'})")
        files = {wanted: files[wanted]}
    if output_dir is None:
        click.echo("\n".join(files.values()), nl=False)
        return
    os.makedirs(output_dir, exist_ok=True)
    for name, text in files.items():
        with open(os.path.join(output_dir, f"{name}.zone"), "w", encoding="utf-8") as f:
            f.write(text)
        click.echo(os.path.join(output_dir, f"{name}.zone"))


def _attach_verify() -> None:
    try:
        from .verify.cli import verify
    except ImportError:  # pragma: no cover - verify ships with the tool
        return
    main.add_command(verify)


_attach_verify()

if __name__ == "__main__":  # pragma: no cover
    main()
