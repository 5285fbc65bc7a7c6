"""SPF checks of `mailinfra verify`, and the RFC 7208 machinery they use.

Checks: ``spf-single`` (exactly one SPF record at the name), ``spf-syntax`` (it parses;
advice from ``standards.spf.check_spf``), ``spf-budget`` (the live include tree's
lookups), ``spf-sender`` (``check_host()`` gives ``pass`` for each sending IP on the
MAIL FROM domain).

``check_host`` is pyspf's (``spf.query(...).check()``, the field's reference
implementation) with every DNS lookup routed through our :class:`DnsClient`. pyspf's
documented hook for DNS is the module function ``spf.DNSLookup(name, qtype, strict,
timeout)`` (its own test driver replaces it); we install a dispatcher once that sends
the lookups of the current worker thread to the client given to ``check_host`` and
leaves every other caller on pyspf's default.

``walk_budget`` expands the whole live include tree (include, redirect, a, mx, exists,
ptr - every branch, as in the worst case where nothing matches) and counts the
DNS-querying terms, the void lookups and include/redirect loops against the limits of
``mailinfra.policies.mailinfra_policy.standards.spf``, which also owns the record syntax, the
redirect rule and the MX address-lookup limit.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import dns.name
import dns.rdatatype
import spf as pyspf  # type: ignore[import-untyped]

from mailinfra.policies.mailinfra_policy.standards import spf as spf_std
from mailinfra.policies.mailinfra_policy.standards.errors import SpfError, StandardError

from .context import Context, Task, records_for
from .expect import Expectations, mail_from_domains
from .report import CheckResult
from .resolver import DnsAnswer, DnsClient
from .result import dns_problem, result, short

__all__ = ["CHECKS", "BudgetReport", "SpfResult", "check_host", "check_spf", "tasks", "walk_budget"]

CHECKS = ("spf-single", "spf-syntax", "spf-budget", "spf-sender")

_local = threading.local()
_ORIGINAL_LOOKUP = pyspf.DNSLookup
_install_lock = threading.Lock()

# pyspf's older result names
_OLD_RESULTS = {"unknown": "permerror", "error": "temperror"}


def _dispatch(name: str, qtype: str, strict: Any = True, timeout: Any = None) -> Any:
    lookup = getattr(_local, "lookup", None)
    if lookup is None:
        return _ORIGINAL_LOOKUP(name, qtype, strict, timeout)
    return lookup(name, qtype)


def _install() -> None:
    with _install_lock:
        if pyspf.DNSLookup is not _dispatch:
            pyspf.DNSLookup = _dispatch


def _text(name: dns.name.Name) -> str:
    """A name as pyspf spells it: raw labels (no presentation escapes), no final dot."""
    return ".".join(label.decode("utf-8", "replace") for label in name.labels if label)


def _to_pyspf(answer: DnsAnswer) -> list[tuple[tuple[str, str], Any]]:
    """The answer section in pyspf's driver format: [((owner, type), value), ...]."""
    out: list[tuple[tuple[str, str], Any]] = []
    if answer.response is None:
        return out
    for rrset in answer.response.answer:
        owner = _text(rrset.name)
        rtype = dns.rdatatype.to_text(rrset.rdtype)
        for rd in rrset:
            value: Any
            if rtype == "CNAME":
                value = _text(rd.target)
            elif rtype in ("A", "AAAA"):
                value = rd.address
            elif rtype == "MX":
                value = (rd.preference, _text(rd.exchange))
            elif rtype == "PTR":
                value = _text(rd.target)
            elif rtype in ("TXT", "SPF"):
                value = list(rd.strings)
            else:
                continue
            out.append(((owner, rtype), value))
    return out


def _make_lookup(client: DnsClient, loop: asyncio.AbstractEventLoop) -> Callable[[str, str], Any]:
    def lookup(name: str, qtype: str) -> list[tuple[tuple[str, str], Any]]:
        try:
            answer = client.query_sync(name, qtype, loop)
        except Exception as exc:  # noqa: BLE001 - the loop went away (its tasks cancelled)
            raise pyspf.TempError(f"DNS {type(exc).__name__}: {exc}") from None
        if answer.cname_loop:
            # hand pyspf the raw CNAMEs: its own loop handling applies (RFC 7208 5.5 skips the name)
            return _to_pyspf(answer)
        if answer.status == "error":
            raise pyspf.TempError(f"DNS {answer.reason}")
        return _to_pyspf(answer)

    return lookup


@dataclass(frozen=True)
class SpfResult:
    result: str  # pass | fail | softfail | neutral | none | permerror | temperror
    code: int  # the SMTP code pyspf suggests
    explanation: str


async def check_host(
    client: DnsClient,
    ip: str,
    mail_from: str,
    helo: str = "",
    *,
    default_explanation: str | None = None,
) -> SpfResult:
    """RFC 7208 check_host() for (ip, MAIL FROM, HELO), DNS through ``client``."""
    _install()
    loop = asyncio.get_running_loop()
    lookup = _make_lookup(client, loop)

    def run() -> SpfResult:
        _local.lookup = lookup
        try:
            query = pyspf.query(i=ip, s=mail_from, h=helo, timeout=client.timeout)
            if default_explanation is not None:
                query.set_default_explanation(default_explanation)
            result, code, explanation = query.check()
        except pyspf.TempError as exc:
            return SpfResult("temperror", 451, str(exc))
        except (pyspf.PermError, pyspf.AmbiguityWarning) as exc:
            return SpfResult("permerror", 550, str(exc))
        finally:
            _local.lookup = None
        result = _OLD_RESULTS.get(result, result)
        return SpfResult(result, int(code), str(explanation))

    return await asyncio.to_thread(run)


# ---------------------------------------------------------------- lookup budget


@dataclass
class BudgetReport:
    domain: str
    record: str | None = None  # the root record
    lookups: int = 0  # DNS-querying terms in the whole tree
    void_lookups: int = 0
    loops: list[str] = field(default_factory=list)  # "a -> b -> a"
    problems: list[str] = field(default_factory=list)  # permerror-grade findings
    temp_errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # not followed (macros, ptr)
    tree: list[str] = field(default_factory=list)  # "  include:x -> v=spf1 ..."
    truncated: bool = False

    @property
    def over_lookups(self) -> bool:
        return self.lookups > spf_std.MAX_DNS_LOOKUPS

    @property
    def over_voids(self) -> bool:
        return self.void_lookups > spf_std.MAX_VOID_LOOKUPS


_WALK_CAP = 60  # stop expanding after this many lookups: far past the limit already


async def _fetch_spf(client: DnsClient, domain: str, report: BudgetReport) -> str | None:
    answer = await client.query(domain, "TXT")
    if answer.status == "error":
        report.temp_errors.append(answer.reason)
        return None
    try:
        return spf_std.select(answer.txt())
    except SpfError as exc:
        where = "" if answer.ok else f" ({answer.describe()})"
        report.problems.append(f"{domain}: {exc}{where}")
        return None


async def _void(
    client: DnsClient,
    report: BudgetReport,
    name: str,
    rdtypes: tuple[str, ...],
    term: str,
) -> None:
    answers = await asyncio.gather(*(client.query(name, t) for t in rdtypes))
    for answer in answers:
        if answer.status == "error":
            report.temp_errors.append(answer.reason)
            return
    if all(a.empty for a in answers):
        report.void_lookups += 1
        report.notes.append(f"void lookup: {term} ({answers[0].describe()})")
    elif rdtypes == ("MX",):
        problem = spf_std.mx_address_problem(term, len(answers[0].rrset or ()))
        if problem is not None:
            report.problems.append(str(problem))


async def _walk(
    client: DnsClient,
    domain: str,
    path: tuple[str, ...],
    report: BudgetReport,
    depth: int,
) -> None:
    text = await _fetch_spf(client, domain, report)
    if text is None:
        return
    if depth == 0:
        report.record = text
    report.tree.append("  " * depth + f"{domain}: {text}")
    try:
        record = spf_std.parse_spf(text)
    except SpfError as exc:
        report.problems.append(f"{domain}: {exc}")
        return
    children: list[Any] = []
    for mech in record.mechanisms:
        if mech.name not in spf_std.LOOKUP_MECHANISMS:
            continue
        report.lookups += 1
        if report.lookups > _WALK_CAP:
            report.truncated = True
            return
        target = (mech.value or domain).rstrip(".").lower()
        term = f"{domain}: {mech}"
        if "%" in target:
            report.notes.append(f"{term}: macro, not followed")
            continue
        if mech.name == "include":
            if target in path:
                report.loops.append(" -> ".join((*path, target)))
                continue
            children.append(_walk(client, target, (*path, target), report, depth + 1))
        elif mech.name == "a":
            children.append(_void(client, report, target, ("A", "AAAA"), term))
        elif mech.name == "mx":
            children.append(_void(client, report, target, ("MX",), term))
        elif mech.name == "exists":
            children.append(_void(client, report, target, ("A",), term))
        elif mech.name == "ptr":
            report.notes.append(f"{term}: ptr depends on the client IP, not followed")
    target_redirect = spf_std.effective_redirect(record)
    if target_redirect is not None:
        report.lookups += 1
        target = target_redirect.rstrip(".").lower()
        if "%" in target:
            report.notes.append(f"{domain}: redirect={target_redirect}: macro, not followed")
        elif target in path:
            report.loops.append(" -> ".join((*path, target)))
        else:
            children.append(_walk(client, target, (*path, target), report, depth + 1))
    if children:
        await asyncio.gather(*children)


async def walk_budget(client: DnsClient, domain: str) -> BudgetReport:
    """Expand the live SPF include tree of ``domain`` and count against RFC 7208 4.6.4."""
    domain = domain.rstrip(".").lower()
    report = BudgetReport(domain)
    await _walk(client, domain, (domain,), report, 0)
    return report


# ---------------------------------------------------------------- the checks


def tasks(exp: Expectations, ctx: Context) -> Iterable[Task]:
    names = sorted({r.name for r in records_for(exp, "spf") if r.name})
    # sender IPs are judged where mail is sent from: the MAIL FROM domains, else every SPF name
    senders_at = set(mail_from_domains(exp) or [r.name for r in exp.by_purpose("spf") if r.name])
    for name in names:
        ips = tuple(ctx.options.sender_ips) if name in senders_at else ()
        yield Task(name, "spf-single", partial(check_spf, ctx, name, ips))


async def check_spf(ctx: Context, domain: str, sender_ips: Sequence[str] = ()) -> list[CheckResult]:
    """Exactly one SPF record; its syntax; the live include tree's budget; sender IPs pass."""
    one = "exactly one v=spf1 record"
    answer = await ctx.client.query(domain, "TXT")
    if not answer.ok:
        return [dns_problem(domain, "spf-single", answer, one)]
    try:
        text = spf_std.select(answer.txt())
    except SpfError as exc:
        found = short(spf_std.spf_records(answer.txt())) or "none"
        return [result(domain, "spf-single", "fail", one, found, str(exc))]
    out = [result(domain, "spf-single", "pass", one, text)]
    try:
        spf_std.parse_spf(text)
    except StandardError as exc:
        out.append(result(domain, "spf-syntax", "fail", "RFC 7208 syntax", text, str(exc)))
    else:
        problems = spf_std.check_spf(text)
        status = "warn" if problems else "pass"
        out.append(result(domain, "spf-syntax", status, "RFC 7208 syntax, ending in -all", text, "; ".join(problems)))
    out.append(await _budget_result(ctx, domain))
    for ip in sender_ips:
        verdict = await check_host(ctx.client, ip, f"postmaster@{domain}", domain)
        status = "pass" if verdict.result == "pass" else ("error" if verdict.result == "temperror" else "fail")
        message = "" if status == "pass" else f"check_host({ip}, {domain}): {verdict.explanation}"
        if status == "error":
            message = f"could not check: {message}"
        out.append(result(f"{domain} from {ip}", "spf-sender", status, "pass", verdict.result, message))
    return out


async def _budget_result(ctx: Context, domain: str) -> CheckResult:
    budget = await walk_budget(ctx.client, domain)
    plus = "+" if budget.truncated else ""
    expected = f"<= {spf_std.MAX_DNS_LOOKUPS} DNS-querying terms, <= {spf_std.MAX_VOID_LOOKUPS} void lookups, no loops"
    found = f"{budget.lookups}{plus} DNS-querying terms, {budget.void_lookups} void lookups"
    reasons: list[str] = []
    if budget.over_lookups:
        reasons.append(f"{budget.lookups}{plus} DNS-querying terms in the include tree, over {spf_std.MAX_DNS_LOOKUPS}")
    if budget.over_voids:
        reasons.append(f"{budget.void_lookups} void lookups, over {spf_std.MAX_VOID_LOOKUPS}")
    reasons += [f"include loop: {loop}" for loop in budget.loops]
    reasons += budget.problems
    if reasons:
        return result(domain, "spf-budget", "fail", expected, found, "; ".join(reasons))
    if budget.temp_errors:
        return result(
            domain, "spf-budget", "error", expected, found, "could not check: " + "; ".join(dict.fromkeys(budget.temp_errors))
        )
    return result(domain, "spf-budget", "pass", expected, found, "; ".join(budget.notes[:5]))
