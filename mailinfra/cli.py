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

# shared with verify's command: mailinfra.cliutil breaks the cli <-> verify.cli import cycle
from .cliutil import InputError, make_plan
from .cliutil import default_project as _default_project
from .cliutil import one_line as _one_line

FORMATS = ("text", "json", "sarif", "markdown")


@contextlib.contextmanager
def _output(path: str | None) -> Iterator[IO[str]]:
    """The report's stream: stdout, or FILE written atomically (mailinfra/outfile.py)."""
    from .outfile import OutputError, atomic_output

    if path is None:
        try:
            yield sys.stdout
            sys.stdout.flush()
        except OSError as exc:  # stdout on a full disk, a closed pipe
            _drop_stdout()
            raise InputError(f"cannot write the report to stdout: {exc.strerror or exc}") from None
        return
    try:
        with atomic_output(path) as f:
            yield f
    except OutputError as exc:
        raise InputError(_one_line(exc)) from None


def _check_output(path: str | None) -> None:
    """Before planning: a bad --output fails in a second, not after the plan."""
    from .outfile import OutputError, check_writable

    if path is not None:
        try:
            check_writable(path)
        except OutputError as exc:
            raise InputError(_one_line(exc)) from None


def _drop_stdout() -> None:
    """Point fd 1 at /dev/null: the unwritten rest of the report would fail again at
    exit, as a second, traceback-like message."""
    with contextlib.suppress(OSError, ValueError, AttributeError, io.UnsupportedOperation):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _squash(text: str) -> str:
    return " ".join(text.split())


class _OneLineGroup(click.Group):
    """Click's usage errors are three lines (usage, hint, error); the contract is one."""

    def main(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        kwargs["standalone_mode"] = False
        try:
            code = super().main(*args, **kwargs)
        except click.UsageError as exc:
            where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            click.echo(f"Error: {_squash(exc.format_message())}{where}", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


@click.group(cls=_OneLineGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mailinfra")
def main() -> None:
    """Secure email-sending infrastructure on Pulumi: plan offline, export zones, verify what is live."""


def _check_policy_config(pack_dir: str | None, path: str) -> None:
    """A bad --policy-pack-config stops before the program runs (the CLI checks it before any rule)."""
    from .policyconfig import PolicyConfigError
    from .policyrun import PolicyPackError, load_pack, reconcile_config

    try:
        reconcile_config(load_pack(pack_dir), path)
    except PolicyConfigError as exc:
        raise InputError(f"--policy-pack-config {_one_line(exc)}") from None
    except PolicyPackError as exc:
        raise InputError(_one_line(exc)) from None


@main.command()
@click.option("--stack", "-s", default=None, help="Stack name (reads Pulumi.<stack>.yaml).")
@click.option(
    "--fleet",
    "fleet",
    default=None,
    help="Plan a sharded fleet: this core stack and every shard whose mailinfra:fleet.core names it (README 'Sharded fleets').",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(1, 256),
    default=None,
    help="With --fleet: worker processes (default: one per CPU).",
)
@click.option(
    "--project", "project", type=click.Path(file_okay=False), default=None, help="Pulumi project directory (default: this repo)."
)
@click.option(
    "--policy-pack",
    "policy_pack",
    type=click.Path(file_okay=False),
    default=None,
    help="CrossGuard pack directory (default: the pack shipped with mailinfra).",
)
@click.option(
    "--policy-pack-config",
    "policy_pack_config",
    default=None,
    help="Policy config JSON, as for pulumi --policy-pack-config (e.g. policies/config/prod.json); checked against each policy's schema before planning.",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
# not click.Path(dir_okay=False): its usage error is three lines; _check_output says it in one
@click.option(
    "--output", "-o", "output", type=click.Path(), default=None, help="Write the report here instead of stdout (atomically)."
)
@click.option(
    "--environment",
    type=click.Choice(["dev", "staging", "prod"]),
    default=None,
    help="Override the environment the pack enforces for.",
)
@click.option("--no-policies", is_flag=True, help="Plan only; do not judge.")
@click.option(
    "--live", is_flag=True, help="Also compare the declared SPF/DMARC with live DNS: a dropped live sender is a violation."
)
@click.option("--nameserver", "nameservers", multiple=True, help="With --live: send every DNS query to HOST[:PORT].")
@click.option("--debug", is_flag=True, help="Show the program's traceback on failure.")
def plan(
    stack: str | None,
    fleet: str | None,
    jobs: int | None,
    project: str | None,
    policy_pack: str | None,
    policy_pack_config: str | None,
    fmt: str,
    output: str | None,
    environment: str | None,
    no_policies: bool,
    live: bool,
    nameservers: tuple[str, ...],
    debug: bool,
) -> None:
    """Preview a stack on Pulumi's mock engine and judge it with the policy pack."""
    from . import render

    project = project or _default_project()
    if (stack is None) == (fleet is None):
        raise InputError("give one of --stack NAME or --fleet CORE")
    if jobs is not None and fleet is None:
        raise InputError("--jobs is only for --fleet")
    if policy_pack is not None and not os.path.isdir(policy_pack):
        raise InputError(f"--policy-pack: {policy_pack!r} is not a directory")
    _check_output(output)
    if policy_pack_config is not None and not no_policies:
        _check_policy_config(policy_pack, policy_pack_config)
    from .progress import plan_progress

    fleet_plan = None
    if fleet is not None:
        from .cliutil import input_errors
        from .fleet import plan_fleet

        with input_errors(debug):
            try:
                fleet_plan = plan_fleet(
                    project,
                    fleet,
                    jobs=jobs,
                    policy_pack=policy_pack,
                    environment=environment,
                    policy_config=policy_pack_config,
                    judge=not no_policies,
                )
            except Exception as exc:
                from .policyrun import PolicyPackError

                if isinstance(exc, PolicyPackError):
                    raise InputError(_one_line(exc)) from None
                raise
        the_plan = fleet_plan.plan
    with plan_progress() if fleet_plan is None else contextlib.nullcontext() as progress:
        if fleet_plan is None:
            assert stack is not None
            the_plan = make_plan(project, stack, debug=debug, on_register=progress.registered if progress else None)
        if not no_policies and fleet_plan is None:
            from .policyrun import PolicyPackError, run_policies

            try:
                the_plan.violations = run_policies(
                    the_plan,
                    policy_pack_dir=policy_pack,
                    environment=environment,
                    policy_config=policy_pack_config,
                    on_judged=progress.judged if progress else None,
                )
            except PolicyPackError as exc:
                raise InputError(_one_line(exc)) from None
    if live:
        from .adopt.guard import client_for, live_violations
        from .cliutil import input_errors

        env = environment or str(the_plan.config.get("mailinfra:environment") or "dev")
        with input_errors():
            client = client_for(nameservers, 5.0)
            the_plan.violations = [*the_plan.violations, *live_violations(the_plan, client, env)]
    elif nameservers:
        raise InputError("--nameserver is only for --live")
    with _output(output) as out:
        if fmt == "json":
            render.plan_to_json(the_plan, out)
        elif fmt == "text":
            if fleet_plan is not None:
                from .fleet import fleet_summary

                out.write(fleet_summary(fleet_plan))
            out.write(render.plan_to_text(the_plan, the_plan.violations, judged=not no_policies))
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
@click.option(
    "--project", "project", type=click.Path(file_okay=False), default=None, help="Pulumi project directory (default: this repo)."
)
@click.option("--zone", "zone_name", default=None, help="Only this zone.")
@click.option(
    "--output-dir",
    "output_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Write <zone>.zone files here instead of stdout.",
)
def zone(stack: str, project: str | None, zone_name: str | None, output_dir: str | None) -> None:
    """Export every declared record as a BIND zone file per DNS zone."""
    from .zone import zone_files

    the_plan = make_plan(project or _default_project(), stack)
    files = zone_files(the_plan)
    if zone_name is not None:
        wanted = zone_name.rstrip(".").lower()
        if wanted not in files:
            raise InputError(
                f"--zone: {zone_name!r} is not a zone of stack {stack} (zones: {', '.join(sorted(files)) or 'none'})"
            )
        files = {wanted: files[wanted]}
    if output_dir is None:
        click.echo("\n".join(files.values()), nl=False)
        return
    from .outfile import OutputError, atomic_output, check_writable

    try:
        os.makedirs(output_dir, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--output-dir: cannot create {output_dir!r}: {exc.strerror or exc}") from None
    try:
        paths = [os.path.join(output_dir, f"{name}.zone") for name in files]
        for path in paths:  # every file is writable before the first is replaced
            check_writable(path, "--output-dir")
        for path, text in zip(paths, files.values()):
            with atomic_output(path, "--output-dir") as f:
                f.write(text)
            click.echo(path)
    except OutputError as exc:
        raise InputError(_one_line(exc)) from None


def _attach_verify() -> None:
    try:
        from .verify.cli import verify
    except ImportError:  # pragma: no cover - verify ships with the tool
        return
    main.add_command(verify)


_attach_verify()


def _attach_check_message() -> None:
    from .message.cli import check_message

    main.add_command(check_message)


_attach_check_message()


def _attach_adopt() -> None:
    from .adopt.cli import adopt  # adopt a domain that already sends mail (issue 18)

    main.add_command(adopt)


_attach_adopt()


def _attach_reports() -> None:
    from .reports.cli import reports  # DMARC / TLS-RPT reports read back (issue 15)

    main.add_command(reports)


_attach_reports()


def _attach_policy_pack() -> None:
    from .pack import policy_pack  # `mailinfra policy-pack path` for pulumi --policy-pack (issue 13)

    main.add_command(policy_pack)


_attach_policy_pack()


@main.group()
def privacy() -> None:
    """Privacy controls: the right to erasure (GDPR Art. 17, CCPA 1798.105)."""


@privacy.command("erase")
@click.argument("address")
@click.option("--stack", "-s", required=True, help="Stack name (reads Pulumi.<stack>.yaml).")
@click.option("--project", type=click.Path(file_okay=False), default=None, help="Pulumi project directory (default: this repo).")
@click.option(
    "--outputs",
    "outputs_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Stack outputs (`pulumi stack output --json`): the event archive's bucket.",
)
@click.option("--endpoint-url", default=None, help="AWS API endpoint (an emulator); default: boto3's configuration.")
@click.option("--dry-run", is_flag=True, help="Report what would be removed; change nothing.")
def privacy_erase(
    address: str, stack: str, project: str | None, outputs_file: str | None, endpoint_url: str | None, dry_run: bool
) -> None:
    """Remove ADDRESS from the SES contact lists and the event archive; keep it suppressed."""
    from . import privacy as erasure
    from .cliutil import input_errors

    with input_errors():
        address = erasure.normalize_address(address)  # bad input fails before planning
        outputs = None
        if outputs_file is not None:
            from .verify.expect import load_json_file

            outputs = load_json_file(outputs_file, "--outputs")
            if not isinstance(outputs, dict):
                raise erasure.PrivacyError("--outputs: expected a JSON object (pulumi stack output --json)")
    plan = make_plan(project or _default_project(), stack)
    with input_errors():
        targets = erasure.targets_from(plan.config, plan.outputs, outputs)
        result = erasure.erase(address, targets, endpoint_url=endpoint_url, dry_run=dry_run)
    for line in result.lines:
        click.echo(line)
    for problem in result.problems:
        click.echo(f"mailinfra: privacy erase: {problem}", err=True)
    sys.exit(result.exit_code)


if __name__ == "__main__":  # pragma: no cover
    main()
