"""Privacy-law facts for marketing mail (GDPR, ePrivacy, CCPA/CPRA): the lawful bases, the
audience codes, when the CCPA "Do Not Sell or Share" opt-out applies, and the rule that
erasure keeps the address suppressed.

API:
    LAWFUL_BASES                     # ("consent", "legitimate-interests"): GDPR Art. 6(1)(a) / (f)
    LAWFUL_BASIS_RULE, CCPA_RULE, ERASURE_RULE, RETENTION_RULE   # citations for messages
    is_audience(code) -> bool        # "EU", "EEA", ISO 3166-1 alpha-2 ("DE") or 3166-2 ("US-CA")
    needs_ccpa_opt_out(audiences) -> bool   # the audience includes California (US or US-CA)
    ERASURE_SUPPRESSION_REASON       # the SES suppression reason an erased address is kept under

Legitimate interests for email marketing is the ePrivacy "soft opt-in" (Directive 2002/58/EC
Art. 13(2), UK PECR reg. 22(3)): existing customers, similar products, an opt-out at
collection and in every message; anyone else needs consent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = [
    "CCPA_RULE",
    "ERASURE_RULE",
    "ERASURE_SUPPRESSION_REASON",
    "LAWFUL_BASES",
    "LAWFUL_BASIS_RULE",
    "RETENTION_RULE",
    "is_audience",
    "needs_ccpa_opt_out",
]

LAWFUL_BASES = ("consent", "legitimate-interests")
LAWFUL_BASIS_RULE = "GDPR Art. 6(1)(a)/(f), ePrivacy Directive Art. 13"
CCPA_RULE = "CCPA/CPRA Cal. Civ. Code 1798.120, 1798.135"
ERASURE_RULE = "GDPR Art. 17, CCPA Cal. Civ. Code 1798.105"
RETENTION_RULE = "GDPR Art. 5(1)(e)"

# SESv2 knows BOUNCE and COMPLAINT only. COMPLAINT is the one that stands for "the recipient
# does not want this mail": SES never lets it lapse, and an erasure that forgot the opt-out
# would let the next import mail the person again (GDPR Art. 21(3): the objection binds).
ERASURE_SUPPRESSION_REASON = "COMPLAINT"

_CALIFORNIA = frozenset({"US", "US-CA"})
_REGIONS = frozenset({"EU", "EEA"})
_CODE = re.compile(r"[A-Z]{2}(-[A-Z0-9]{1,3})?")


def is_audience(code: object) -> bool:
    """An audience code: EU, EEA, an ISO 3166-1 alpha-2 country or an ISO 3166-2 subdivision."""
    return isinstance(code, str) and (code in _REGIONS or _CODE.fullmatch(code) is not None)


def needs_ccpa_opt_out(audiences: Iterable[object]) -> bool:
    """Whether the audience includes California residents (the whole US, or US-CA)."""
    return any(isinstance(a, str) and a.upper() in _CALIFORNIA for a in audiences)
