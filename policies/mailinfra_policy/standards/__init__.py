"""Email-authentication standards: the single source of truth for record syntax and limits.

One module per standard, each with build / parse / check functions and one exception
class (all subclasses of :class:`errors.StandardError`, a ``ValueError``):

- :mod:`.txt`     TXT character-strings, Route53 / Cloudflare / presentation forms
- :mod:`.spf`     SPF (RFC 7208)
- :mod:`.dkim`    DKIM key records (RFC 6376, RFC 8463), SES Easy DKIM CNAMEs
- :mod:`.dmarc`   DMARC (RFC 9989; report authorisation RFC 9990)
- :mod:`.mtasts`  MTA-STS (RFC 8461)
- :mod:`.tlsrpt`  SMTP TLS reporting (RFC 8460)
- :mod:`.bimi`    BIMI assertion records, the logo (SVG Tiny PS) and its VMC/CMC
- :mod:`.tlsa`    TLSA records for DANE on MX hosts (RFC 6698, RFC 7672)

Pure Python (stdlib, dnspython, cryptography), no pulumi, relative imports only: the
CrossGuard runtime loads this package from inside ``policies/``.
"""

from . import bimi, dkim, dmarc, errors, mtasts, spf, tlsa, tlsrpt, txt
from .errors import (
    BimiError,
    DkimError,
    DmarcError,
    MtaStsError,
    SpfError,
    StandardError,
    TlsaError,
    TlsRptError,
    TxtError,
)

__all__ = [
    "BimiError",
    "DkimError",
    "DmarcError",
    "MtaStsError",
    "SpfError",
    "StandardError",
    "TlsaError",
    "TlsRptError",
    "TxtError",
    "bimi",
    "dkim",
    "dmarc",
    "errors",
    "mtasts",
    "spf",
    "tlsa",
    "tlsrpt",
    "txt",
]
