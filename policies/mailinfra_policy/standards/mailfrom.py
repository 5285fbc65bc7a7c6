"""SES custom MAIL FROM domain: the MX and SPF records SES requires.

Amazon SES documents both values ("Setting up a custom MAIL FROM domain", SES
Developer Guide): an MX of priority 10 to ``feedback-smtp.<region>.amazonses.com``
and the TXT ``v=spf1 include:amazonses.com -all`` at the MAIL FROM domain.

API:
    MAIL_FROM_SPF = "v=spf1 include:amazonses.com -all"
    feedback_mx(region: str) -> str       # "10 feedback-smtp.<region>.amazonses.com"
    feedback_host(value: str) -> str | None   # the feedback host of an MX value, None if not SES's
    is_feedback_mx(value: str) -> bool    # an MX value ("pref host") that points at SES feedback
"""

from __future__ import annotations

from ._common import normalize_host
from .aws import SES_REGIONS, ses_feedback_host

__all__ = ["FEEDBACK_PRIORITY", "MAIL_FROM_SPF", "feedback_host", "feedback_mx", "is_feedback_mx"]

MAIL_FROM_SPF = "v=spf1 include:amazonses.com -all"
FEEDBACK_PRIORITY = 10
# The feedback host of every SES region (the one rule: standards/aws.py ses_feedback_host).
_FEEDBACK_HOSTS = frozenset(ses_feedback_host(region) for region in SES_REGIONS)


def feedback_mx(region: str) -> str:
    """The MX value SES asks for in ``region``; AwsError for a bad or non-SES region."""
    return f"{FEEDBACK_PRIORITY} {ses_feedback_host(region)}"


def feedback_host(value: str) -> str | None:
    """The host of an MX value ``"<pref> <host>"`` when it is SES's feedback endpoint."""
    if not isinstance(value, str):
        return None
    host = normalize_host(value.strip().partition(" ")[2])
    return host if host in _FEEDBACK_HOSTS else None


def is_feedback_mx(value: str) -> bool:
    """True for an MX value that points at ``feedback-smtp.<region>.amazonses.com``."""
    return feedback_host(value) is not None
