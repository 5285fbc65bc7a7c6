"""Building check results: one constructor, DNS outcomes, short value lists."""

from __future__ import annotations

from collections.abc import Sequence

from .report import CheckResult
from .resolver import DnsAnswer

__all__ = ["could_not_check", "dns_problem", "result", "short"]


def result(
    name: str,
    check: str,
    status: str,
    expected: str = "",
    found: str = "",
    message: str = "",
) -> CheckResult:
    return CheckResult(name, check, status, expected, found, message)


def could_not_check(name: str, check: str, expected: str, reason: str) -> CheckResult:
    """``error``: no usable answer came, so the check says nothing about the record."""
    return result(name, check, "error", expected, "", f"could not check: {reason}")


def dns_problem(name: str, check: str, answer: DnsAnswer, expected: str) -> CheckResult:
    """A non-ok answer: ``error`` when DNS gave no usable answer, ``fail`` for NXDOMAIN / no data."""
    if answer.status == "error":
        return could_not_check(name, check, expected, answer.reason)
    return result(name, check, "fail", expected, answer.describe(), answer.describe())


def short(values: Sequence[str], limit: int = 300) -> str:
    text = " | ".join(values)
    return text if len(text) <= limit else text[: limit - 3] + "..."
