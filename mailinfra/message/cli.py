"""The ``check-message`` click command; the main ``mailinfra`` group attaches it.

Exit codes: 0 nothing fails, 1 any fail or error, 2 bad input (one line on stderr).
"""

from __future__ import annotations

import sys

import click

from mailinfra.cliutil import default_project, make_plan

from . import FORMATS, CheckMessageInputError, CheckMessageOptions, run_check_message, stack_facts

__all__ = ["check_message"]


def _fail_input(message: str) -> None:
    click.echo(f"mailinfra: error: {' '.join(str(message).splitlines())}", err=True)
    sys.exit(2)


@click.command("check-message")
@click.argument("message_file", metavar="FILE.eml")
@click.option("--stack", "-s", default=None, help="Match the stack's domains, configuration set and compliance.postalAddress.")
@click.option("--project", type=click.Path(file_okay=False), default=None, help="Pulumi project directory (default: this repo).")
@click.option("--nameserver", "nameservers", multiple=True, metavar="HOST[:PORT]", help="Send every DNS query here (repeatable).")
@click.option("--client-ip", default=None, metavar="IP", help="The connecting IP: evaluate SPF on the Return-Path domain for it.")
@click.option("--helo", default="", metavar="NAME", help="The HELO name for SPF (with --client-ip).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option(
    "--output", "-o", "output", type=click.Path(), default=None, help="Write the report here instead of stdout (atomically)."
)
@click.option("--timeout", type=float, default=5.0, show_default=True, help="Seconds per DNS query.")
def check_message(
    message_file: str,
    stack: str | None,
    project: str | None,
    nameservers: tuple[str, ...],
    client_ip: str | None,
    helo: str,
    fmt: str,
    output: str | None,
    timeout: float,
) -> None:
    """Check one message as receivers do: DKIM, DMARC alignment, one-click unsubscribe, CAN-SPAM address."""
    from ..outfile import OutputError, atomic_output, check_writable

    options = CheckMessageOptions(
        path=message_file, nameservers=nameservers, client_ip=client_ip, helo=helo, timeout=timeout, format=fmt
    )
    try:
        options.validate()
        if output is not None:
            check_writable(output)
    except (CheckMessageInputError, OutputError, ValueError) as exc:
        _fail_input(str(exc))
    if stack is not None:
        options.stack = stack_facts(make_plan(project or default_project(), stack))  # its errors exit 2
    try:
        report, code = run_check_message(options)
    except (CheckMessageInputError, ValueError) as exc:
        _fail_input(str(exc))
        return
    text = report.render(fmt)
    if output is None:
        click.echo(text, nl=False)
    else:
        try:
            with atomic_output(output) as f:
                f.write(text)
        except OutputError as exc:
            _fail_input(str(exc))
    sys.exit(code)
