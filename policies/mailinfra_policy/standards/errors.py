"""One exception tree for the email-authentication standards.

Every error is a ``ValueError`` (so callers validating input can catch that), with
one subclass per standard. Messages name the tag or term and the bad value, never
key material.
"""

from __future__ import annotations

__all__ = [
    "BimiError",
    "DkimError",
    "DmarcError",
    "MtaStsError",
    "SpfError",
    "StandardError",
    "TlsRptError",
    "TxtError",
]


class StandardError(ValueError):
    """A value violates an email-authentication standard (base class)."""

    mailinfra_exit_code = 2  # bad input when a builder refuses a configured value


class TxtError(StandardError):
    """A TXT value cannot be represented or was split wrongly (RFC 1035 character-strings)."""


class SpfError(StandardError):
    """An SPF record violates RFC 7208."""


class DkimError(StandardError):
    """A DKIM key record or selector violates RFC 6376 / RFC 8463 or our key policy."""


class DmarcError(StandardError):
    """A DMARC record violates RFC 9989."""


class MtaStsError(StandardError):
    """An MTA-STS TXT record or policy file violates RFC 8461."""


class TlsRptError(StandardError):
    """A TLS-RPT record violates RFC 8460."""


class BimiError(StandardError):
    """A BIMI assertion record is malformed or unsafe."""
