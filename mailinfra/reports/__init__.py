"""`mailinfra reports`: DMARC aggregate (RFC 9990) and TLS-RPT (RFC 8460) reports read back.

Modules, one job each:
    archive   bytes -> reports: plain, gzip, zip, MIME message; bounded (Limits), bombs refused
    dmarc     RFC 9990 XML -> AggregateReport (defusedxml: no DTD, no entities)
    tlsrpt    RFC 8460 JSON -> TlsReport
    collect   directory / files / S3 inputs -> Collection (deduplicated, problems as one line each)
    s3        the intake bucket (boto3, optional extra `aws`)
    summary   per domain and source; the ramp verdict (Thresholds)
    render    text, JSON, Markdown
    cli       the click command

Nothing here does live DNS or needs Pulumi.
"""

from __future__ import annotations

from .archive import Limits, ReportError
from .collect import Collection, collect, directory_inputs
from .summary import Summary, Thresholds, summarise

__all__ = ["Collection", "Limits", "ReportError", "Summary", "Thresholds", "collect", "directory_inputs", "summarise"]
