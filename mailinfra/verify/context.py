"""What every check module gets: the run's :class:`Context` and the :class:`Task` it yields.

A check module (``verify/<standard>.py``) exposes ``CHECKS`` (the check ids it reports)
and ``tasks(exp, ctx) -> Iterable[Task]``; ``runner.MODULES`` lists the modules.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from mailinfra.policies.mailinfra_policy.standards import kinds

from .expect import Expectations, ExpectedRecord
from .report import CheckResult
from .resolver import DnsClient

if TYPE_CHECKING:
    from . import VerifyOptions

__all__ = ["Context", "Task", "records_for"]


def records_for(exp: Expectations, check: str) -> list[ExpectedRecord]:
    """The expected records whose kind (``standards.kinds``) lists the verify ``check``."""

    def applies(purpose: str) -> bool:
        try:
            return check in kinds.checks(purpose)
        except kinds.UnknownKindError:
            return False

    return [r for r in exp.records if applies(r.purpose)]


@dataclass(frozen=True)
class Task:
    name: str  # what is checked: a DNS name, "host:port", a URL
    check: str  # the check id, for the error result if ``run`` raises
    run: Callable[[], Awaitable[list[CheckResult]]]


@dataclass
class Context:
    client: DnsClient
    options: VerifyOptions

    @property
    def timeout(self) -> float:
        return float(self.options.timeout)

    @property
    def ca_file(self) -> str | None:
        return self.options.ca_file

    @property
    def mta_sts_port(self) -> int:
        return int(self.options.mta_sts_port)

    @property
    def smtp_port(self) -> int:
        return int(self.options.smtp_port)

    def utcnow(self) -> datetime:
        """The injected time (tests) or now: certificate expiry is judged against it."""
        return self.options.now or datetime.now(timezone.utc)
