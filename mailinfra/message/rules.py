"""Where each check-message rule comes from: the RFC section, the law, the receiver's
published requirement (with its URL). One table, shown with every result."""

from __future__ import annotations

from mailinfra.policies.mailinfra_policy.standards.canspam import POSTAL_ADDRESS_RULE

__all__ = ["GOOGLE", "MICROSOFT", "RULES", "YAHOO", "rule"]

GOOGLE = "Google sender guidelines https://support.google.com/a/answer/81126"
YAHOO = "Yahoo sender best practices https://senders.yahooinc.com/best-practices/"
MICROSOFT = (
    "Microsoft Outlook high-volume sender requirements https://techcommunity.microsoft.com/blog/"
    "microsoftdefenderforoffice365blog/strengthening-email-ecosystem-outlook%E2%80%99s-new-requirements-"
    "for-high%E2%80%90volume-senders/4399730"
)
_BULK = f"{GOOGLE}; {YAHOO}; {MICROSOFT}"

RULES: dict[str, str] = {
    "message-syntax": "RFC 5322 2.1, RFC 2045 (bounded: mailinfra reads at most the limits in mailinfra.message.parse)",
    "dkim-signature": f"RFC 6376 6.1 (verifier actions); {_BULK}",
    "dkim-key-size": f"RFC 8301 3.2, RFC 8463; policy: RSA >= 2048 bits or Ed25519 (standards.dkim); {GOOGLE}",
    "dkim-aligned": f"RFC 9989 4.4.1 (DKIM identifier alignment, adkim); {_BULK}",
    "dmarc-record": f"RFC 9989 4.7 (policy discovery); {_BULK}",
    "dmarc-return-path": "RFC 9989 4.4.2 (SPF identifier alignment, aspf)",
    "spf": f"RFC 7208 4 (check_host on the MAIL FROM); {_BULK}",
    "dmarc-result": f"RFC 9989 4.4 (DMARC pass: an aligned DKIM or SPF pass); {_BULK}",
    "list-unsubscribe": f"RFC 2369 3.2, RFC 8058 3.1; CAN-SPAM 15 U.S.C. 7704(a)(3); {GOOGLE}; {YAHOO}",
    "list-unsubscribe-post": f"RFC 8058 3.1; {GOOGLE}; {YAHOO}",
    "list-unsubscribe-signed": "RFC 8058 3 (both headers covered by a valid DKIM signature)",
    "postal-address": POSTAL_ADDRESS_RULE,
    "from-header": f"RFC 5322 3.6.2, RFC 9989 4.4 (one From domain); {GOOGLE}",
    "reply-to-header": "RFC 5322 3.6.2",
    "message-id": f"RFC 5322 3.6.4; {GOOGLE}",
    "date": "RFC 5322 3.6.1 (Date is required)",
    "declared-domain": "the stack's mailinfra:domains (the identities SES sends for)",
    "configuration-set": "the stack's SES configuration set (X-SES-CONFIGURATION-SET, else the identity's default)",
}


def rule(check: str) -> str:
    return RULES[check]
