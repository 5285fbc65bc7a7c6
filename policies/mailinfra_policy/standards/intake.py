"""The report intake's names: where DMARC aggregate (RFC 9990) and TLS-RPT (RFC 8460)
reports of a stack are received, and under which S3 prefixes SES stores them.

One place for config (defaults of ``reports.domain`` and of each domain's ``rua``), the
ReportIntake component (receipt rules), and ``mailinfra verify`` (what must be live).

API:
    DEFAULT_LABEL = "reports"                 # reports.<zone> by default
    default_domain(zone) -> str               # "reports.<zone>"
    dmarc_address(domain) / tls_rpt_address(domain) -> str   # dmarc@ / tls-rpt@<domain>
    PREFIXES: {"dmarc": "dmarc/", "tls-rpt": "tls-rpt/"}      # S3 object key prefixes (raw MIME messages)
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["DEFAULT_LABEL", "PREFIXES", "default_domain", "dmarc_address", "tls_rpt_address"]

DEFAULT_LABEL = "reports"
DMARC_LOCAL_PART = "dmarc"
TLS_RPT_LOCAL_PART = "tls-rpt"
PREFIXES: Mapping[str, str] = MappingProxyType({"dmarc": "dmarc/", "tls-rpt": "tls-rpt/"})


def default_domain(zone: str) -> str:
    return f"{DEFAULT_LABEL}.{zone.rstrip('.').lower()}"


def dmarc_address(domain: str) -> str:
    return f"{DMARC_LOCAL_PART}@{domain}"


def tls_rpt_address(domain: str) -> str:
    return f"{TLS_RPT_LOCAL_PART}@{domain}"
