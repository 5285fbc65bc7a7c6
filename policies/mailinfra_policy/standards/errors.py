"""One exception tree for the email-authentication standards.

Every error is a ``ValueError`` (so callers validating input can catch that), with
one subclass per standard. Messages name the tag or term and the bad value, never
key material.
"""

from __future__ import annotations

__all__ = [
    "BimiError",
    "InputError",
    "Problem",
    "DkimError",
    "DmarcError",
    "MtaStsError",
    "SpfError",
    "StandardError",
    "TlsRptError",
    "TlsaError",
    "TxtError",
    "UnsubscribeError",
]


class InputError(ValueError):
    """Base of every error that means "the user's input is invalid".

    The CLI and the plan engine turn any subclass into one line on stderr and exit 2
    (no traceback). Config, component-argument, record and standards errors derive
    from it; the message never contains a secret or key material. (Programs that do
    not import mailinfra mark theirs with ``mailinfra_exit_code = 2``: docs/CONTRACTS.md.)
    """


class Problem(str):
    """One finding of a standard's ``check_*`` function: the message, plus a stable code.

    A ``str`` subclass so that callers that only show messages keep working; policies,
    verify and SARIF use ``code`` (kebab-case, stable across releases) and ``tag`` (the
    tag, term or field at fault, when there is one).
    """

    code: str
    tag: str | None

    def __new__(cls, code: str, message: str, tag: str | None = None) -> "Problem":
        obj = super().__new__(cls, message)
        obj.code = code
        obj.tag = tag
        return obj

    def __reduce__(self) -> tuple[object, ...]:
        return (Problem, (self.code, str(self), self.tag))


class StandardError(InputError):
    """A value violates an email-authentication standard (base class)."""

    # The tag, term or field at fault, set by the parser when it knows it; ``check_*``
    # functions copy it into their ``Problem``.
    tag: str | None = None


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


class TlsaError(StandardError):
    """A TLSA record (RFC 6698) is malformed or unusable for SMTP (RFC 7672)."""


class UnsubscribeError(StandardError):
    """A one-click unsubscribe endpoint (RFC 8058) is not usable: not an https URI."""
