"""`mailinfra check-message`: judge one message as Gmail, Yahoo and Microsoft do.

    from mailinfra.message import CheckMessageOptions, run_check_message
    report, code = run_check_message(CheckMessageOptions(path="campaign.eml", nameservers=("127.0.0.1:5300",)))

DKIM (dkimpy, keys from DNS), DMARC alignment of DKIM ``d=`` and the Return-Path,
SPF with ``--client-ip`` (pyspf), RFC 8058 one-click unsubscribe, the CAN-SPAM postal
address, From / Reply-To / Message-ID / Date, and with ``--stack`` the declared
domains and configuration set. ``code``: 0 nothing fails, 1 any fail or error. Bad
input (unreadable file, bad ``--nameserver`` / ``--client-ip``) raises
:class:`CheckMessageInputError` (exit 2 at the CLI). A hostile message never raises:
see ``parse``.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mailinfra.verify.errors import VerifyInputError

from .checks import StackFacts, check_message
from .parse import MAX_BYTES, parse_message
from .report import MessageReport

__all__ = [
    "FORMATS",
    "CheckMessageInputError",
    "CheckMessageOptions",
    "MessageReport",
    "StackFacts",
    "run_check_message",
    "stack_facts",
]

FORMATS = ("text", "json", "markdown")


class CheckMessageInputError(VerifyInputError):
    """Bad input to check-message: one line, exit 2."""


@dataclass
class CheckMessageOptions:
    path: str
    stack: StackFacts | None = None
    nameservers: tuple[str, ...] = ()
    client_ip: str | None = None
    helo: str = ""
    timeout: float = 5.0
    format: str = "text"

    def validate(self) -> None:
        from mailinfra.verify.resolver import parse_nameserver

        if self.format not in FORMATS:
            raise CheckMessageInputError(f"--format must be one of {', '.join(FORMATS)} (got {self.format!r})")
        if not (self.timeout > 0):
            raise CheckMessageInputError(f"--timeout must be > 0 seconds (got {self.timeout!r})")
        for value in self.nameservers:
            parse_nameserver(value)
        if self.client_ip is not None:
            try:
                ipaddress.ip_address(self.client_ip)
            except ValueError:
                raise CheckMessageInputError(f"--client-ip: {self.client_ip!r} is not an IP address") from None


def read_message(path: str) -> bytes:
    """The file's bytes, at most MAX_BYTES + 1 (the parser reports a larger message)."""
    try:
        with open(path, "rb") as f:
            return f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise CheckMessageInputError(f"{path}: cannot read the message: {exc.strerror or exc}") from None


def stack_facts(plan: Any) -> StackFacts:
    """The sending domains, their configuration sets and the postal address of a plan."""
    from mailinfra.values import Secret

    outputs = getattr(plan, "outputs", None) or {}
    domains: dict[str, str | None] = {}
    for name, info in (outputs.get("domains") or {}).items():
        cs = info.get("configurationSet") if isinstance(info, Mapping) else None
        domains[str(name)] = cs if isinstance(cs, str) and cs else None
    compliance = (getattr(plan, "config", None) or {}).get("mailinfra:compliance")
    address = compliance.get("postalAddress") if isinstance(compliance, Mapping) else None
    if isinstance(address, Secret) or not isinstance(address, str):
        address = None
    return StackFacts(str(getattr(plan, "stack", "") or ""), domains, address)


def run_check_message(options: CheckMessageOptions) -> tuple[MessageReport, int]:
    from mailinfra.verify.resolver import DnsClient, parse_nameserver

    options.validate()
    raw = read_message(options.path)
    client = DnsClient([parse_nameserver(v) for v in options.nameservers], timeout=options.timeout, concurrency=4, memo=True)
    msg = parse_message(raw)
    report = MessageReport(options.path, options.stack.name if options.stack else None)
    report.checks.extend(
        asyncio.run(check_message(msg, client, stack=options.stack, client_ip=options.client_ip, helo=options.helo))
    )
    return report, report.exit_code
