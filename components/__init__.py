"""mailinfra's Pulumi components, for your own Pulumi program::

    from mailinfra.components import KeyStore, KeyStoreArgs, SendingDomain, SendingDomainArgs, config

This directory is the package ``mailinfra.components`` (``mailinfra/components`` links to
it; the wheel installs it there). The names below load on first use (PEP 562), so
``mailinfra.components.config`` - which ``mailinfra verify`` reads - imports without
pulumi_aws.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

if __name__ != "mailinfra.components":
    # One module, one name: imported as top-level ``components`` too, every class would
    # exist twice (isinstance and the registries fail across the copies) and the DKIM
    # dynamic provider would be pickled under a path the wheel does not install.
    raise ImportError(f"import mailinfra.components, not {__name__!r} (issue 13: the components live in the mailinfra package)")

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "MailStack": "stack",
    "SendingDomain": "domain",
    "SendingDomainArgs": "domain",
    "KeyStore": "keystore",
    "KeyStoreArgs": "keystore",
    "KeyStoreError": "keystore",
    "Firewall": "firewall",
    "FirewallArgs": "firewall",
    "SesRelay": "relay",
    "SesRelayArgs": "relay",
    "SmtpAccess": "smtp",
    "SmtpAccessArgs": "smtp",
    "AuthRecords": "dns",
    "AuthRecordsArgs": "dns",
    "Dnssec": "dnssec",
    "DnssecArgs": "dnssec",
    "ByoDkim": "dkim",
    "ByoDkimArgs": "dkim",
    "DkimKeyPair": "dkim",
    "MtaStsHosting": "mtasts_hosting",
    "MtaStsHostingArgs": "mtasts_hosting",
    "SesEvents": "events",
    "SesEventsArgs": "events",
    "ReportIntake": "intake",
    "ReportIntakeArgs": "intake",
    "ReputationAlarms": "reputation",
    "ReputationAlarmsArgs": "reputation",
    "SecurityAlerts": "alerts",
    "SecurityAlertsArgs": "alerts",
    "AuditTrail": "audit",
    "AuditTrailArgs": "audit",
    "Detection": "detection",
    "DetectionArgs": "detection",
    "Operators": "operators",
    "OperatorsArgs": "operators",
    "Posture": "posture",
    "PostureArgs": "posture",
    "SharedConfigurationSet": "relay",
    "SharedConfigurationSetArgs": "relay",
    "DnsRecord": "records",
    "PrivateBucket": "buckets",
    "private_bucket": "buckets",
    "ArgsError": "errors",
    "ConfigError": "config",
    "StackConfig": "config",
    "DomainConfig": "config",
    "parse_config": "config",
}

__all__ = sorted(_EXPORTS)


def _is_module(name: str) -> bool:
    here = Path(__file__).parent
    return name.isidentifier() and ((here / f"{name}.py").is_file() or (here / name / "__init__.py").is_file())


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    elif _is_module(name):
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS, *(p.stem for p in Path(__file__).parent.glob("*.py") if p.stem != "__init__")})
