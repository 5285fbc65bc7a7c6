"""Errors of `mailinfra verify`."""

from __future__ import annotations

from mailinfra.policies.mailinfra_policy.standards.errors import InputError

__all__ = ["VerifyInputError"]


class VerifyInputError(InputError):
    """Bad input to verify (a bad --nameserver or --smtp value, an unreadable --plan or
    --outputs file, ...). The CLI prints the message on one line and exits 2."""
