"""CAN-SPAM (15 U.S.C. 7704) facts a commercial message must carry: the sender's valid
physical postal address, 7704(a)(5)(A)(iii).

API:
    POSTAL_ADDRESS_RULE = "CAN-SPAM 15 U.S.C. 7704(a)(5)(A)(iii)"
    normalize_text(text) -> str               # casefolded, punctuation to spaces, whitespace collapsed
    contains_address(text, address) -> bool   # the declared address appears in text (normalised)
    address_like_lines(text) -> list[str]     # lines that look like a postal address (heuristic)

Matching is on normalised text, so "1 Main Street,\\nDublin" in a footer matches
"1 main street dublin". Without a declared address only a heuristic is possible: a
line with a number and a street word, a PO box, or a postal code next to words.
"""

from __future__ import annotations

import re

__all__ = ["POSTAL_ADDRESS_RULE", "address_like_lines", "contains_address", "normalize_text"]

POSTAL_ADDRESS_RULE = "CAN-SPAM 15 U.S.C. 7704(a)(5)(A)(iii)"
_MAX_SCAN = 2_000_000  # characters of body text looked at (hostile input stays bounded)

_PUNCT = re.compile(r"[^\w]+", re.UNICODE)
_STREET = re.compile(
    r"\b(street|st|road|rd|avenue|ave|lane|ln|boulevard|blvd|drive|dr|way|place|pl|square|sq|court|ct|suite|"
    r"floor|strasse|straße|str|rue|via|calle|plaza|parkway|pkwy|highway|hwy|quay|row|terrace)\b",
    re.IGNORECASE,
)
_PO_BOX = re.compile(r"\b(p\.?\s*o\.?\s*box|postfach|boite postale|apartado)\b", re.IGNORECASE)
_POSTCODE = re.compile(
    r"\b(\d{5}(-\d{4})?|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}|[A-Z]\d{2} ?[A-Z\d]{4}|\d{4} ?[A-Z]{2}|[A-Z]\d[A-Z] ?\d[A-Z]\d)\b"
)


def normalize_text(text: str) -> str:
    """Casefold, turn punctuation into spaces and collapse whitespace."""
    return " ".join(_PUNCT.sub(" ", text[:_MAX_SCAN].casefold()).split())


def contains_address(text: str, address: str) -> bool:
    """Whether the declared ``address`` appears in ``text``, ignoring case, punctuation and line breaks."""
    want = normalize_text(address)
    return bool(want) and f" {want} " in f" {normalize_text(text)} "


def address_like_lines(text: str) -> list[str]:
    """Lines that look like a postal address (a heuristic for when none is declared)."""
    found = []
    for line in text[:_MAX_SCAN].splitlines():
        line = " ".join(line.split())
        if not line or len(line) > 300:
            continue
        has_digit = any(c.isdigit() for c in line)
        if _PO_BOX.search(line) or (has_digit and _STREET.search(line)) or (_POSTCODE.search(line) and "," in line):
            found.append(line)
    return found
