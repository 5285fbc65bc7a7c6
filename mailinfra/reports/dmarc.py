"""DMARC aggregate reports (RFC 9990; RFC 7489 appendix C's older shape reads the same).

`parse_aggregate(name, data, limits) -> AggregateReport` or ReportError. The XML goes
through defusedxml with DTDs, entities and external references forbidden (a report has
no use for any: a billion-laughs or XXE report is refused, never expanded). Elements are
matched by local name, so the RFC 9990 namespace (`urn:ietf:params:xml:ns:dmarc-2.0`),
the old draft's and none at all read alike.

Terms (RFC 9990 section 3 / appendix A):
- `row/policy_evaluated/dkim` and `/spf` are the *DMARC-aligned* results ("pass" only
  when the identifier is authenticated and aligned with the RFC5322.From domain);
  a message passes DMARC when either is "pass" (RFC 9989 section 4.4).
- `auth_results/dkim` and `/spf` are the *raw* authentication results, before alignment.
- `policy_evaluated/disposition`: none, pass (RFC 9990), quarantine or reject.
- `policy_published`: domain, p, sp, np, adkim, aspf, fo, testing (t=y), discovery_method
  (psl or treewalk); the removed `pct` of older reports is kept as read, for information.
Optional elements may be missing; a missing required one (org_name, report_id,
date_range, domain, source_ip, count) or a value of the wrong type refuses the report.
"""

from __future__ import annotations

import io
import ipaddress
from dataclasses import dataclass
from typing import Any

from mailinfra.policies.mailinfra_policy.standards.dmarc import POLICIES

from .archive import Limits, ReportError, safe_name

__all__ = ["AggregateReport", "AuthResult", "Row", "parse_aggregate"]

DISPOSITIONS = ("none", "pass", "quarantine", "reject")
_ALIGNED = ("pass", "fail")
# RFC 9990 DKIM results (RFC 8601's set) and SPF results (RFC 7208's set)
_DKIM_RESULTS = ("none", "pass", "fail", "policy", "neutral", "temperror", "permerror")
_SPF_RESULTS = ("none", "neutral", "pass", "fail", "softfail", "temperror", "permerror")
_LEGACY = {"hardfail": "fail", "unknown": "permerror", "error": "temperror"}  # RFC 7489-era spellings
MAX_SECONDS = 253402300799  # 9999-12-31T23:59:59Z


@dataclass(frozen=True)
class AuthResult:
    domain: str
    result: str
    selector: str | None = None  # DKIM
    scope: str | None = None  # SPF: mfrom or helo


@dataclass(frozen=True)
class Row:
    source_ip: str
    count: int
    disposition: str
    dkim_aligned: bool  # policy_evaluated/dkim == pass
    spf_aligned: bool  # policy_evaluated/spf == pass
    header_from: str
    envelope_from: str | None
    envelope_to: str | None
    dkim: tuple[AuthResult, ...]
    spf: tuple[AuthResult, ...]
    reasons: tuple[str, ...]  # policy override reason types (forwarded, local_policy, ...)

    @property
    def dmarc_pass(self) -> bool:
        return self.dkim_aligned or self.spf_aligned

    @property
    def dkim_pass(self) -> bool:
        return any(r.result == "pass" for r in self.dkim)

    @property
    def spf_pass(self) -> bool:
        return any(r.result == "pass" for r in self.spf)


@dataclass(frozen=True)
class AggregateReport:
    source: str
    org_name: str
    email: str | None
    report_id: str
    begin: int  # seconds since the epoch, UTC
    end: int
    domain: str
    p: str
    sp: str | None
    np: str | None
    adkim: str | None
    aspf: str | None
    testing: bool | None  # RFC 9990 <testing>; None when the report does not say
    discovery_method: str | None
    pct: int | None  # RFC 7489 only; RFC 9989 removed it
    generator: str | None
    rows: tuple[Row, ...]

    @property
    def messages(self) -> int:
        return sum(r.count for r in self.rows)


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(node: Any, name: str) -> Any:
    for child in node:
        if _local(child.tag) == name:
            return child
    return None


def _children(node: Any, name: str) -> list[Any]:
    return [child for child in node if _local(child.tag) == name]


def _text(node: Any, name: str) -> str | None:
    child = _child(node, name) if node is not None else None
    if child is None or child.text is None:
        return None
    text = safe_name(" ".join(child.text.split()))  # XML allows C1 controls (\x9b is a terminal's CSI)
    return text or None


def _required(node: Any, name: str, where: str) -> str:
    value = _text(node, name)
    if value is None:
        raise ReportError(f"{where}/{name} is missing")
    return value


def _int(value: str, where: str, lo: int = 0, hi: int = 2**63 - 1) -> int:
    try:
        number = int(value, 10)
    except ValueError:
        raise ReportError(f"{where} is not a whole number (got {value[:40]!r})") from None
    if not lo <= number <= hi:
        raise ReportError(f"{where} is out of range (got {number})")
    return number


def _choice(value: str | None, where: str, allowed: tuple[str, ...], *, optional: bool = True) -> str | None:
    if value is None:
        if optional:
            return None
        raise ReportError(f"{where} is missing")
    lowered = _LEGACY.get(value.lower(), value.lower())
    if lowered not in allowed:
        raise ReportError(f"{where} must be one of {', '.join(allowed)} (got {value[:40]!r})")
    return lowered


def _parse_xml(data: bytes, limits: Limits) -> tuple[Any, list[Row]]:
    """The root (its <record> children emptied as they are read) and the rows, streamed:
    one report's memory is its rows, not its whole element tree, and a report with too
    many records stops at the first one over the bound."""
    from xml.etree.ElementTree import ParseError

    import defusedxml
    from defusedxml.ElementTree import iterparse

    root: Any = None
    rows: list[Row] = []
    depth = 0
    try:
        for event, elem in iterparse(
            io.BytesIO(data), ("start", "end"), forbid_dtd=True, forbid_entities=True, forbid_external=True
        ):
            if event == "start":
                depth += 1
                if root is None:
                    root = elem
                    if _local(root.tag) != "feedback":
                        raise ReportError(
                            f"root element is <{_local(root.tag)[:40]}>, not <feedback> (not a DMARC aggregate report)"
                        )
                continue
            depth -= 1
            if depth == 1 and _local(elem.tag) == "record":  # a <record> directly under <feedback>
                if len(rows) >= limits.max_records:
                    raise ReportError(f"more than {limits.max_records:,} records (raise --max-records)")
                rows.append(_row(elem, len(rows)))
                root.remove(elem)  # the parser reads ahead in chunks; done records do not stay in memory
    except ReportError:
        raise
    except defusedxml.DTDForbidden:
        raise ReportError("XML with a DTD (refused: a report needs none; entity expansion attacks live there)") from None
    except defusedxml.EntitiesForbidden:
        raise ReportError("XML declares entities (refused: billion laughs / external entity attack)") from None
    except defusedxml.DefusedXmlException as exc:
        raise ReportError(f"XML refused ({exc.__class__.__name__})") from None
    except ParseError as exc:
        raise ReportError(f"not well-formed XML ({exc})") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise ReportError(f"XML cannot be read ({exc.__class__.__name__})") from None
    if root is None:
        raise ReportError("not well-formed XML (no element)")
    return root, rows


def _auth(node: Any, kind: str, where: str) -> tuple[AuthResult, ...]:
    out = []
    allowed = _DKIM_RESULTS if kind == "dkim" else _SPF_RESULTS
    for i, item in enumerate(_children(node, kind) if node is not None else []):
        at = f"{where}/auth_results/{kind}[{i}]"
        result = _choice(_text(item, "result"), f"{at}/result", allowed, optional=False)
        assert result is not None
        out.append(
            AuthResult(
                domain=(_text(item, "domain") or "").lower().rstrip("."),
                result=result,
                selector=_text(item, "selector") if kind == "dkim" else None,
                scope=((_text(item, "scope") or "").lower() or None) if kind == "spf" else None,
            )
        )
    return tuple(out)


def _row(record: Any, index: int) -> Row:
    where = f"record[{index}]"
    row = _child(record, "row")
    if row is None:
        raise ReportError(f"{where}/row is missing")
    ip_text = _required(row, "source_ip", f"{where}/row")
    try:
        source_ip = str(ipaddress.ip_address(ip_text))
    except ValueError:
        raise ReportError(f"{where}/row/source_ip is not an IP address (got {ip_text[:60]!r})") from None
    count = _int(_required(row, "count", f"{where}/row"), f"{where}/row/count")
    evaluated = _child(row, "policy_evaluated")
    if evaluated is None:
        raise ReportError(f"{where}/row/policy_evaluated is missing")
    at = f"{where}/row/policy_evaluated"
    disposition = _choice(_text(evaluated, "disposition"), f"{at}/disposition", DISPOSITIONS, optional=False)
    dkim = _choice(_text(evaluated, "dkim"), f"{at}/dkim", _ALIGNED) or "fail"
    spf = _choice(_text(evaluated, "spf"), f"{at}/spf", _ALIGNED) or "fail"
    reasons = tuple((_text(r, "type") or "other").lower() for r in _children(evaluated, "reason"))
    identifiers = _child(record, "identifiers")
    header_from = (_text(identifiers, "header_from") or "").lower().rstrip(".")
    results = _child(record, "auth_results")
    assert disposition is not None
    return Row(
        source_ip=source_ip,
        count=count,
        disposition=disposition,
        dkim_aligned=dkim == "pass",
        spf_aligned=spf == "pass",
        header_from=header_from,
        envelope_from=(_text(identifiers, "envelope_from") or "").lower() or None,
        envelope_to=(_text(identifiers, "envelope_to") or "").lower() or None,
        dkim=_auth(results, "dkim", where),
        spf=_auth(results, "spf", where),
        reasons=reasons,
    )


def parse_aggregate(name: str, data: bytes, limits: Limits) -> AggregateReport:
    root, rows = _parse_xml(data, limits)
    meta = _child(root, "report_metadata")
    if meta is None:
        raise ReportError("feedback/report_metadata is missing")
    org = _required(meta, "org_name", "report_metadata")
    report_id = _required(meta, "report_id", "report_metadata")
    dates = _child(meta, "date_range")
    if dates is None:
        raise ReportError("report_metadata/date_range is missing")
    begin = _int(_required(dates, "begin", "date_range"), "date_range/begin", 0, MAX_SECONDS)
    end = _int(_required(dates, "end", "date_range"), "date_range/end", 0, MAX_SECONDS)
    if end < begin:
        raise ReportError(f"date_range/end ({end}) is before begin ({begin})")
    published = _child(root, "policy_published")
    if published is None:
        raise ReportError("feedback/policy_published is missing")
    domain = _required(published, "domain", "policy_published").lower().rstrip(".")
    p = _choice(_text(published, "p"), "policy_published/p", POLICIES) or "none"  # RFC 9989 4.7: missing p reads as none
    testing_text = _text(published, "testing")
    testing = None if testing_text is None else _choice(testing_text, "policy_published/testing", ("y", "n")) == "y"
    pct_text = _text(published, "pct")
    return AggregateReport(
        source=name,
        org_name=org,
        email=_text(meta, "email"),
        report_id=report_id,
        begin=begin,
        end=end,
        domain=domain,
        p=p,
        sp=_choice(_text(published, "sp"), "policy_published/sp", POLICIES),
        np=_choice(_text(published, "np"), "policy_published/np", POLICIES),
        adkim=_choice(_text(published, "adkim"), "policy_published/adkim", ("r", "s")),
        aspf=_choice(_text(published, "aspf"), "policy_published/aspf", ("r", "s")),
        testing=testing,
        discovery_method=_choice(_text(published, "discovery_method"), "policy_published/discovery_method", ("psl", "treewalk")),
        pct=int(pct_text)
        if pct_text is not None and pct_text.isdigit() and int(pct_text) <= 100
        else None,  # removed tag: never fatal
        generator=_text(meta, "generator"),
        rows=tuple(rows),
    )
