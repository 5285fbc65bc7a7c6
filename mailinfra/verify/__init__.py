"""`mailinfra verify`: audit what is live (DNS, HTTPS, SMTP) against what a plan declares.

Entry point for the CLI and for programs::

    from mailinfra.verify import VerifyOptions, run_verify
    report, exit_code = run_verify(VerifyOptions(stack="prod", plan="plan.json"))
    print(report.render("text"))

``exit_code`` is 0 when nothing fails and 1 on any fail or error. Bad input raises
:class:`VerifyInputError` (the CLI maps it to exit 2).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mailinfra.policies.mailinfra_policy.standards import dkim as dkim_std
from mailinfra.policies.mailinfra_policy.standards.errors import StandardError

from .errors import VerifyInputError
from .report import CheckResult, Report

__all__ = [
    "FORMATS",
    "CheckResult",
    "Report",
    "VerifyInputError",
    "VerifyOptions",
    "check_plan_identity",
    "run_verify",
]

FORMATS = ("text", "json", "markdown")


@dataclass
class VerifyOptions:
    stack: str
    project: str = "."
    plan: str | None = None  # --plan FILE (a JSON plan from `mailinfra plan --format json`)
    plan_data: Any = None  # a plan dict or mailinfra.engine.Plan (programs and tests)
    nameservers: tuple[str, ...] = ()  # --nameserver HOST[:PORT], repeatable
    outputs: str | None = None  # --outputs FILE (`pulumi stack output --json`)
    outputs_data: Mapping[str, Any] | None = None
    format: str = "text"
    output: str | None = None
    timeout: float = 5.0  # per DNS query, per connection step
    concurrency: int = 1024  # a cap: see resolver.AdaptiveLimit
    jobs: int | None = None  # worker processes for the checks; None: runner.default_jobs()
    sender_ips: tuple[str, ...] = ()  # --sender-ip: must pass SPF on the MAIL FROM domain
    smtp: tuple[str, ...] = ()  # --smtp HOST:PORT (relays; STARTTLS required)
    dkim_key: str | None = None  # --dkim-key FILE (PEM private key) ...
    dkim_selector: str | None = None  # ... with --dkim-selector S: sign and verify
    ca_file: str | None = None  # --ca-file: trust only these CAs (tests)
    mta_sts_port: int = 443  # test-only: HTTPS port of mta-sts.<domain>
    smtp_port: int = 25  # test-only: port of the declared MX hosts
    trust_anchors: tuple[str, ...] = ()  # --trust-anchor FILE: DS/DNSKEY to validate DANE answers
    dnssec_ad_trusted: bool = False  # --dnssec-ad-trusted: believe the resolver's AD bit
    # sender hygiene (verify.hygiene): the stack's relay.senderIps / heloName / dnsbls, from the plan
    hygiene_ips: tuple[str, ...] = ()
    helo_name: str | None = None
    dnsbls: tuple[str, ...] | None = None  # None: standards.dnsbl.DEFAULT_ZONES
    progress: bool | None = None  # None: on a terminal and not JSON
    now: datetime | None = field(default=None, repr=False)  # injectable time

    def validate(self) -> None:
        from .resolver import parse_hostport, parse_nameserver

        if self.format not in FORMATS:
            raise VerifyInputError(f"--format must be one of {', '.join(FORMATS)} (got {self.format!r})")
        if not (self.timeout > 0):
            raise VerifyInputError(f"--timeout must be > 0 seconds (got {self.timeout!r})")
        if int(self.concurrency) < 1:
            raise VerifyInputError(f"--concurrency must be >= 1 (got {self.concurrency!r})")
        if self.jobs is not None and not 1 <= int(self.jobs) <= 64:
            raise VerifyInputError(f"--jobs must be 1..64 (got {self.jobs!r})")
        for value in self.nameservers:
            parse_nameserver(value)
        for value in self.smtp:
            parse_hostport(value, 587, "--smtp")
        for ip in self.sender_ips:
            try:
                ipaddress.ip_address(ip)
            except ValueError:
                raise VerifyInputError(f"--sender-ip: {ip!r} is not an IP address") from None
        if bool(self.dkim_key) != bool(self.dkim_selector):
            raise VerifyInputError("--dkim-key and --dkim-selector go together")
        if self.dkim_selector:
            try:
                dkim_std.validate_selector(self.dkim_selector)  # the one selector rule
            except StandardError as exc:
                raise VerifyInputError(f"--dkim-selector: {exc}") from None
        for port, what in (
            (self.mta_sts_port, "--mta-sts-port"),
            (self.smtp_port, "--smtp-port"),
        ):
            if not 0 < int(port) < 65536:
                raise VerifyInputError(f"{what} must be 1..65535 (got {port!r})")
        for path, what in ((self.ca_file, "--ca-file"), (self.dkim_key, "--dkim-key")):
            if path is not None:
                try:
                    with open(path, "rb"):
                        pass
                except OSError as exc:
                    raise VerifyInputError(f"{what}: cannot read {path!r}: {exc.strerror or exc}") from None
        if self.trust_anchors:
            from .dnssec import load_trust_anchors

            load_trust_anchors(self.trust_anchors)  # a bad file is bad input (exit 2)


def _load_plan(options: VerifyOptions) -> dict[str, Any]:
    from .expect import plan_dict

    if options.plan_data is not None:
        data = plan_dict(options.plan_data)
    elif options.plan is not None:
        from mailinfra.planfile import load_plan_file  # checked: errors name the JSON path

        data = load_plan_file(options.plan, "--plan")
    else:
        from mailinfra.engine import run_plan

        data = plan_dict(run_plan(options.project, options.stack))
    if not isinstance(data, Mapping) or not isinstance(data.get("resources"), list):
        raise VerifyInputError("--plan: not a mailinfra JSON plan (no 'resources' list)")
    return dict(data)


def _project_name(directory: str) -> str | None:
    """The name in ``directory``'s Pulumi.yaml, or None when there is no project there."""
    from mailinfra.project import ProjectError, load_project

    try:
        return load_project(directory).name
    except (ProjectError, OSError):
        return None


def check_plan_identity(plan: Mapping[str, Any], options: VerifyOptions) -> None:
    """A plan of another stack or project would be checked under this stack's name:
    refuse it (VerifyInputError, one line naming both)."""
    what = f"--plan: {options.plan}" if options.plan is not None else "the plan"
    planned = plan.get("stack")
    if isinstance(planned, str) and planned and options.stack and planned != options.stack:
        raise VerifyInputError(f"{what} is a plan of stack {planned!r}, not of --stack {options.stack!r}")
    project = plan.get("project")
    if isinstance(project, str) and project:
        mine = _project_name(options.project)
        if mine is not None and mine != project:
            raise VerifyInputError(f"{what} is a plan of project {project!r}, not of project {mine!r} ({options.project})")


def run_verify(options: VerifyOptions) -> tuple[Report, int]:
    """Check everything the plan declares against what is live. Returns (report, exit code).

    Raises VerifyInputError on bad input (exit 2 at the CLI); planning errors of the
    program (ConfigError, ProgramError) propagate to the caller unchanged.
    """
    options.validate()
    from mailinfra.gcutil import long_lived

    # a plan file is millions of objects kept to the end (JSON makes no cycles): no
    # collection while it is read, then it is frozen out of collection (gcutil)
    with long_lived(pause=options.plan is not None) as keep:
        return _run_verify(options, keep)  # the collector's settings are restored on return


def _run_verify(options: VerifyOptions, keep: Callable[[], None]) -> tuple[Report, int]:
    from .expect import build_expectations, load_json_file
    from .resolver import DnsClient, parse_nameserver
    from .runner import run_all

    plan = _load_plan(options)
    check_plan_identity(plan, options)
    outputs: Any = options.outputs_data
    if outputs is None and options.outputs is not None:
        outputs = load_json_file(options.outputs, "--outputs")
        if not isinstance(outputs, Mapping):
            raise VerifyInputError("--outputs: expected a JSON object (pulumi stack output --json)")
    expectations = build_expectations(plan, outputs)
    nameservers = [parse_nameserver(v) for v in options.nameservers]
    client = DnsClient(
        nameservers,
        timeout=options.timeout,
        concurrency=int(options.concurrency),
        memo=True,  # one run, one snapshot: each question is asked once
    )
    stack = options.stack or str(plan.get("stack") or "")
    options.stack = stack
    if not options.sender_ips:
        # the relay's sending IPs declared in the stack (mailinfra:relay.senderIps)
        declared = (plan.get("outputs") or {}).get("senderIps")
        if isinstance(declared, list) and all(isinstance(ip, str) for ip in declared):
            options.sender_ips = tuple(declared)
            options.validate()  # checked like --sender-ip values
    _hygiene_options(options, plan.get("outputs") or {})
    keep()  # plan and expectations are kept to the end
    report = run_all(expectations, options, client)
    return report, report.exit_code


def _hygiene_options(options: VerifyOptions, outputs: Mapping[str, Any]) -> None:
    """The relay's declared sending IPs, HELO name and blocklists (mailinfra:relay.*) from the plan."""
    if not isinstance(outputs, Mapping):
        return
    declared = outputs.get("senderIps")
    if not options.hygiene_ips and isinstance(declared, list) and all(isinstance(ip, str) for ip in declared):
        options.hygiene_ips = tuple(declared)
    helo = outputs.get("heloName")
    if options.helo_name is None and isinstance(helo, str) and helo:
        options.helo_name = helo
    zones = outputs.get("dnsbls")
    if options.dnsbls is None and isinstance(zones, list) and all(isinstance(z, str) for z in zones):
        options.dnsbls = tuple(zones)
