"""SMTP TLS reports (RFC 8460 section 4: JSON, `application/tlsrpt+json`, gzip as `+gzip`).

`parse_tls_report(name, data, limits) -> TlsReport` or ReportError. Field names are the
RFC's: organization-name, date-range (start-datetime / end-datetime, RFC 3339),
contact-info, report-id, policies[] of {policy {policy-type (sts, tlsa, no-policy-found),
policy-domain, mx-host}, summary {total-successful-session-count,
total-failure-session-count}, failure-details[] {result-type, sending-mta-ip,
receiving-mx-hostname, receiving-ip, failed-session-count, failure-reason-code}}.
A count must be a JSON integer (not a string, a float or a boolean); optional fields may
be missing; a wrong type anywhere refuses the report, naming the JSON path.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass
from typing import Any

from .archive import Limits, ReportError, safe_name

__all__ = ["TlsFailure", "TlsPolicy", "TlsReport", "parse_tls_report"]

POLICY_TYPES = ("sts", "tlsa", "no-policy-found")


@dataclass(frozen=True)
class TlsFailure:
    result_type: str
    count: int
    receiving_mx: str | None
    sending_ip: str | None
    receiving_ip: str | None
    reason_code: str | None


@dataclass(frozen=True)
class TlsPolicy:
    policy_type: str
    domain: str
    mx_hosts: tuple[str, ...]
    successful: int
    failed: int
    failures: tuple[TlsFailure, ...]


@dataclass(frozen=True)
class TlsReport:
    source: str
    org_name: str
    report_id: str
    begin: int  # seconds since the epoch, UTC
    end: int
    contact: str | None
    policies: tuple[TlsPolicy, ...]


def _get(obj: dict[str, Any], key: str, where: str, kind: type | tuple[type, ...], *, required: bool = True) -> Any:
    if key not in obj or obj[key] is None:
        if required:
            raise ReportError(f"{where}.{key} is missing")
        return None
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        shown = json.dumps(value)[:40]
        raise ReportError(f"{where}.{key} must be {_json_kind(names)} (got {shown})")
    if isinstance(value, str):  # JSON may carry control characters (terminal escapes): shown escaped
        return safe_name(value)
    return value


def _json_kind(names: str) -> str:
    return names.replace("str", "a string").replace("int", "an integer").replace("dict", "an object").replace("list", "an array")


def _count(obj: dict[str, Any], key: str, where: str) -> int:
    value = _get(obj, key, where, int)
    if value < 0:
        raise ReportError(f"{where}.{key} is negative ({value})")
    return int(value)


def _datetime(text: str, where: str) -> int:
    try:
        moment = _dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ReportError(f"{where} is not an RFC 3339 date-time (got {text[:40]!r})") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.timezone.utc)
    return int(moment.timestamp())


def parse_tls_report(name: str, data: bytes, limits: Limits) -> TlsReport:
    try:
        doc = json.loads(data)
    except UnicodeDecodeError:
        raise ReportError("not UTF-8 JSON") from None
    except json.JSONDecodeError as exc:
        raise ReportError(f"invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except (ValueError, RecursionError) as exc:  # a number of 5,000 digits, nesting too deep
        raise ReportError(f"JSON cannot be read ({exc.__class__.__name__})") from None
    if not isinstance(doc, dict):
        raise ReportError(f"top level is a JSON {type(doc).__name__}, not an object (not a TLS-RPT report)")
    if "organization-name" not in doc and "policies" not in doc:
        raise ReportError("no organization-name and no policies (not a TLS-RPT report)")
    org = _get(doc, "organization-name", "$", str)
    report_id = _get(doc, "report-id", "$", str)
    dates = _get(doc, "date-range", "$", dict)
    begin = _datetime(_get(dates, "start-datetime", "$.date-range", str), "$.date-range.start-datetime")
    end = _datetime(_get(dates, "end-datetime", "$.date-range", str), "$.date-range.end-datetime")
    if end < begin:
        raise ReportError("$.date-range.end-datetime is before start-datetime")
    policies = []
    details = 0
    for i, item in enumerate(_get(doc, "policies", "$", list)):
        where = f"$.policies[{i}]"
        if not isinstance(item, dict):
            raise ReportError(f"{where} must be an object")
        policy = _get(item, "policy", where, dict)
        ptype = _get(policy, "policy-type", f"{where}.policy", str).lower()
        if ptype not in POLICY_TYPES:
            raise ReportError(f"{where}.policy.policy-type must be one of {', '.join(POLICY_TYPES)} (got {ptype[:40]!r})")
        mx = _get(policy, "mx-host", f"{where}.policy", (str, list), required=False)
        mx_hosts = (mx,) if isinstance(mx, str) else tuple(str(h) for h in (mx or ()))
        summary = _get(item, "summary", where, dict)
        failures = []
        for j, fd in enumerate(_get(item, "failure-details", where, list, required=False) or []):
            at = f"{where}.failure-details[{j}]"
            details += 1
            if details > limits.max_records:
                raise ReportError(f"more than {limits.max_records:,} failure details (raise --max-records)")
            if not isinstance(fd, dict):
                raise ReportError(f"{at} must be an object")
            failures.append(
                TlsFailure(
                    result_type=_get(fd, "result-type", at, str).lower(),
                    count=_count(fd, "failed-session-count", at),
                    receiving_mx=(_get(fd, "receiving-mx-hostname", at, str, required=False) or "").lower().rstrip(".") or None,
                    sending_ip=_get(fd, "sending-mta-ip", at, str, required=False),
                    receiving_ip=_get(fd, "receiving-ip", at, str, required=False),
                    reason_code=_get(fd, "failure-reason-code", at, str, required=False),
                )
            )
        policies.append(
            TlsPolicy(
                policy_type=ptype,
                domain=_get(policy, "policy-domain", f"{where}.policy", str).lower().rstrip("."),
                mx_hosts=mx_hosts,
                successful=_count(summary, "total-successful-session-count", f"{where}.summary"),
                failed=_count(summary, "total-failure-session-count", f"{where}.summary"),
                failures=tuple(failures),
            )
        )
    return TlsReport(
        source=name,
        org_name=org,
        report_id=report_id,
        begin=begin,
        end=end,
        contact=_get(doc, "contact-info", "$", str, required=False),
        policies=tuple(policies),
    )
