"""The ``verify`` click command; the main ``mailinfra`` group attaches it.

Exit codes: 0 nothing fails, 1 any fail or error, 2 bad input (one line on stderr).
"""

from __future__ import annotations

import sys

import click

from mailinfra.cliutil import default_project, make_plan

from . import FORMATS, VerifyInputError, VerifyOptions, run_verify

__all__ = ["verify"]


def _fail_input(message: str) -> None:
    click.echo(f"mailinfra: error: {' '.join(str(message).splitlines())}", err=True)
    sys.exit(2)


@click.command()
@click.option(
    "--stack",
    "-s",
    required=True,
    help="Stack name (reads Pulumi.<stack>.yaml when planning).",
)
@click.option(
    "--project",
    type=click.Path(file_okay=False),
    default=None,
    help="Pulumi project directory (default: this repo).",
)
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Reuse a JSON plan from `mailinfra plan --format json` instead of planning again.",
)
@click.option(
    "--nameserver",
    "nameservers",
    multiple=True,
    metavar="HOST[:PORT]",
    help="Send every DNS query here (repeatable). Default: the system resolver.",
)
@click.option(
    "--outputs",
    "outputs_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Stack outputs (`pulumi stack output --json`) for values known only after deploy, e.g. Easy DKIM tokens.",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option(
    "--output",
    "-o",
    "output",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the report here instead of stdout.",
)
@click.option(
    "--timeout",
    type=float,
    default=5.0,
    show_default=True,
    help="Seconds per DNS query and per network step.",
)
@click.option(
    "--concurrency",
    type=int,
    default=1024,
    show_default=True,
    help="Cap on DNS queries in flight: the number starts at 16 and adapts to the measured round trip, up to this.",
)
@click.option(
    "--jobs",
    type=click.IntRange(1, 64),
    default=None,
    help="Worker processes for the checks (default: one per CPU, at most 4; one for a small plan).",
)
@click.option(
    "--sender-ip",
    "sender_ips",
    multiple=True,
    metavar="IP",
    help="An IP the relay sends from: SPF on the MAIL FROM domain must pass for it (repeatable).",
)
@click.option(
    "--smtp",
    "smtp",
    multiple=True,
    metavar="HOST:PORT",
    help="A relay to probe (STARTTLS required); default: the declared MX hosts on port 25.",
)
@click.option(
    "--dkim-key",
    type=click.Path(dir_okay=False),
    default=None,
    help="PEM private key: sign a test message and verify it against the live record.",
)
@click.option("--dkim-selector", default=None, help="Selector of --dkim-key.")
@click.option(
    "--ca-file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Trust only these CA certificates for HTTPS and SMTP (tests, private CAs).",
)
@click.option(
    "--mta-sts-port",
    type=int,
    default=443,
    show_default=True,
    help="Test only: HTTPS port for mta-sts.<domain>.",
)
@click.option(
    "--smtp-port",
    type=int,
    default=25,
    show_default=True,
    help="Test only: port of the declared MX hosts.",
)
@click.option(
    "--trust-anchor",
    "trust_anchors",
    multiple=True,
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="DS or DNSKEY records (presentation form) of a zone: DANE answers at or below it are validated with dnspython (repeatable).",
)
@click.option(
    "--dnssec-ad-trusted",
    is_flag=True,
    default=False,
    help="The resolver validates DNSSEC and the path to it is trusted: believe its AD bit for DANE answers.",
)
def verify(
    stack: str,
    project: str | None,
    plan_file: str | None,
    nameservers: tuple[str, ...],
    outputs_file: str | None,
    fmt: str,
    output: str | None,
    timeout: float,
    concurrency: int,
    jobs: int | None,
    sender_ips: tuple[str, ...],
    smtp: tuple[str, ...],
    dkim_key: str | None,
    dkim_selector: str | None,
    ca_file: str | None,
    mta_sts_port: int,
    smtp_port: int,
    trust_anchors: tuple[str, ...],
    dnssec_ad_trusted: bool,
) -> None:
    """Audit what is live (DNS, MTA-STS over HTTPS, SMTP STARTTLS) against what the stack declares."""
    # the project a --plan must belong to, and the one planned without --plan
    project_dir = project or default_project()
    options = VerifyOptions(
        stack=stack,
        project=project_dir,
        plan=plan_file,
        nameservers=nameservers,
        outputs=outputs_file,
        format=fmt,
        output=output,
        timeout=timeout,
        concurrency=concurrency,
        jobs=jobs,
        sender_ips=sender_ips,
        smtp=smtp,
        dkim_key=dkim_key,
        dkim_selector=dkim_selector,
        ca_file=ca_file,
        mta_sts_port=mta_sts_port,
        smtp_port=smtp_port,
        trust_anchors=trust_anchors,
        dnssec_ad_trusted=dnssec_ad_trusted,
    )
    if output is not None:  # a bad --output fails before any query, not after the audit
        from ..outfile import OutputError, check_writable

        try:
            check_writable(output)
        except OutputError as exc:
            _fail_input(str(exc))
    if plan_file is None:
        # plan like `mailinfra plan` (mock engine; its errors exit 2)
        options.plan_data = make_plan(project_dir, stack)
    try:
        report, code = run_verify(options)
    except VerifyInputError as exc:
        _fail_input(str(exc))
        return
    text = report.render(fmt)
    if output is None:
        click.echo(text, nl=False)
    else:
        from ..outfile import OutputError, atomic_output

        try:
            with atomic_output(output) as f:  # a full disk leaves the old report, never half of one
                f.write(text)
        except OutputError as exc:
            _fail_input(str(exc))
    sys.exit(code)
