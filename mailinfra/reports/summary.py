"""Per-domain and per-source summaries of DMARC aggregate and TLS-RPT reports, and the ramp verdict.

`summarise(collection, thresholds, *, known=(), ignored=(), stack_policies=None) -> Summary`.

DMARC terms (RFC 9989 / RFC 9990): a message *passes DMARC* when its row's
policy_evaluated dkim or spf is "pass" (an authenticated identifier aligned with the
RFC5322.From domain); "DKIM pass" and "SPF pass" here are the raw auth_results, before
alignment. The *policy domain* is policy_published/domain: subdomain mail (header_from
under it, judged by sp) counts towards it and is listed separately.

The ramp (RFC 9989 removed pct, so the steps are the policies themselves, and t=y, the
testing flag, is a step of its own where a domain uses it):
    p=none -> p=quarantine -> p=reject    (p=X; t=y -> p=X)
A domain is *ready* for its next step when every check holds:
    aligned-pass         at least min_pass_rate of its messages pass DMARC (sources marked
                         ignored, e.g. known forgers or forwarders, are left out of the rate);
    coverage             the reports' date ranges cover at least min_days (union, UTC);
    volume               at least min_messages messages were reported;
    unexplained-sources  no source fails DMARC for source_threshold messages or more unless it
                         is explained: listed as known (--known-source, the stack's
                         relay.senderIps) or ignored, or passing at min_pass_rate itself.
At p=reject (without t=y) the verdict is *final*; the checks still run, as a regression alarm.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .dmarc import AggregateReport
from .tlsrpt import TlsReport

__all__ = ["Check", "DomainSummary", "SourceStats", "Summary", "Thresholds", "TlsSummary", "Verdict", "next_step", "summarise"]

DAY = 86400
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Thresholds:
    min_pass_rate: float = 0.98
    min_days: float = 14.0
    min_messages: int = 100
    source_threshold: int = 10
    top: int = 10


@dataclass
class SourceStats:
    ip: str
    messages: int = 0
    aligned: int = 0
    dkim_aligned: int = 0
    spf_aligned: int = 0
    dkim_pass: int = 0
    spf_pass: int = 0
    dispositions: Counter[str] = field(default_factory=Counter)
    reporters: set[str] = field(default_factory=set)
    header_from: set[str] = field(default_factory=set)
    envelope_from: set[str] = field(default_factory=set)
    known: bool = False
    ignored: bool = False

    @property
    def failing(self) -> int:
        return self.messages - self.aligned

    def explained(self, min_rate: float) -> bool:
        return self.known or self.ignored or (self.messages > 0 and self.aligned / self.messages >= min_rate)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Verdict:
    current: str  # "p=none", "p=quarantine; t=y", ...
    current_from: str  # "stack" | "reports" | "none"
    next: str | None
    status: str  # "ready" | "not-ready" | "final"
    checks: tuple[Check, ...]
    notes: tuple[str, ...] = ()


@dataclass
class DomainSummary:
    domain: str
    reports: int = 0
    messages: int = 0
    aligned: int = 0
    dkim_aligned: int = 0
    spf_aligned: int = 0
    dkim_pass: int = 0
    spf_pass: int = 0
    ignored_messages: int = 0
    dispositions: Counter[str] = field(default_factory=Counter)
    reporters: Counter[str] = field(default_factory=Counter)  # org -> messages
    subdomains: Counter[str] = field(default_factory=Counter)  # header_from below the domain -> messages
    sources: dict[str, SourceStats] = field(default_factory=dict)
    intervals: list[tuple[int, int]] = field(default_factory=list)
    published: AggregateReport | None = None  # the latest report: its policy_published
    verdict: Verdict | None = None

    @property
    def first(self) -> int | None:
        return min((b for b, _ in self.intervals), default=None)

    @property
    def last(self) -> int | None:
        return max((e for _, e in self.intervals), default=None)

    @property
    def coverage_days(self) -> float:
        """Days covered by the union of the reports' date ranges."""
        covered, reach = 0, None
        for begin, end in sorted(self.intervals):
            if reach is None or begin > reach:
                covered += end - begin
                reach = end
            elif end > reach:
                covered += end - reach
                reach = end
        return covered / DAY

    def rate(self, count: int) -> float | None:
        return count / self.messages if self.messages else None

    def failing_sources(self, top: int) -> list[SourceStats]:
        failing = [s for s in self.sources.values() if s.failing > 0]
        return sorted(failing, key=lambda s: (-s.failing, s.ip))[:top]


@dataclass
class TlsSummary:
    domain: str
    reports: int = 0
    successful: int = 0
    failed: int = 0
    reporters: Counter[str] = field(default_factory=Counter)
    policy_types: Counter[str] = field(default_factory=Counter)
    by_result: Counter[str] = field(default_factory=Counter)
    by_mx: Counter[str] = field(default_factory=Counter)
    by_mx_result: Counter[tuple[str, str]] = field(default_factory=Counter)
    first: int | None = None
    last: int | None = None


@dataclass
class Summary:
    thresholds: Thresholds
    domains: list[DomainSummary]
    tls: list[TlsSummary]
    files: int
    dmarc_reports: int
    tls_reports: int
    duplicates: int
    problems: list[str]
    since: int | None = None

    @property
    def not_ready(self) -> list[str]:
        return [d.domain for d in self.domains if d.verdict is not None and d.verdict.status == "not-ready"]


def _step(p: str, testing: bool) -> str:
    return f"p={p}; t=y" if testing else f"p={p}"


def next_step(p: str, testing: bool) -> str | None:
    """The DMARC step after (p, t): None at p=reject without t=y."""
    if testing:
        return _step(p, False)
    return {"none": "p=quarantine", "quarantine": "p=reject"}.get(p)


def _networks(values: Iterable[str]) -> list[Network]:
    return [ipaddress.ip_network(v, strict=False) for v in values]


def _in(ip: str, networks: list[Network]) -> bool:
    address = ipaddress.ip_address(ip)
    return any(address.version == n.version and address in n for n in networks)


def _pct(value: float) -> str:
    return f"{value * 100:.1f} %"


def _day(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    return _dt.datetime.fromtimestamp(seconds, _dt.timezone.utc).strftime("%Y-%m-%d")


def _verdict(d: DomainSummary, t: Thresholds, stack_policy: tuple[str, bool] | None) -> Verdict:
    notes: list[str] = []
    reported = (d.published.p, bool(d.published.testing)) if d.published is not None else None
    if stack_policy is not None:
        current, source = stack_policy, "stack"
        if reported is not None and reported != stack_policy:
            notes.append(
                f"the latest report ({_day(d.published.end if d.published else None)}) saw {_step(*reported)}, "
                f"the stack declares {_step(*stack_policy)}: a change not yet reported on, or not yet deployed"
            )
    elif reported is not None:
        current, source = reported, "reports"
    else:
        current, source = ("none", False), "none"
    if d.published is not None:
        pub = d.published
        for tag, value in (("sp", pub.sp), ("np", pub.np)):
            if value is not None and value != pub.p and (value == "none" or (value == "quarantine" and pub.p == "reject")):
                notes.append(
                    f"{tag}={value} is weaker than p={pub.p}: {'subdomains' if tag == 'sp' else 'non-existent subdomains'} stay at {value}"
                )
        if pub.pct is not None and pub.pct < 100:
            notes.append(f"reports show pct={pub.pct}: RFC 9989 removed pct, receivers following it apply the policy to all mail")
    if d.subdomains:
        notes.append(
            f"{sum(d.subdomains.values()):,} messages from subdomains ({', '.join(sorted(d.subdomains)[:3])}) are judged by sp"
        )

    eligible = d.messages - d.ignored_messages
    aligned = sum(s.aligned for s in d.sources.values() if not s.ignored)
    rate = aligned / eligible if eligible else 0.0
    checks = [
        Check(
            "aligned-pass",
            eligible > 0 and rate >= t.min_pass_rate,
            f"{_pct(rate)} of {eligible:,} messages pass DMARC (aligned DKIM or SPF, policy_evaluated); at least {_pct(t.min_pass_rate)} needed"
            + (f" ({d.ignored_messages:,} from ignored sources left out)" if d.ignored_messages else ""),
        ),
        Check(
            "coverage",
            d.coverage_days >= t.min_days,
            f"reports cover {d.coverage_days:.1f} days ({_day(d.first)} to {_day(d.last)}); at least {t.min_days:g} needed",
        ),
        Check("volume", d.messages >= t.min_messages, f"{d.messages:,} messages reported; at least {t.min_messages:,} needed"),
    ]
    unexplained = [
        s for s in d.failing_sources(len(d.sources)) if not s.explained(t.min_pass_rate) and s.failing >= t.source_threshold
    ]
    if unexplained:
        shown = ", ".join(f"{s.ip} ({s.failing:,} failing, via {', '.join(sorted(s.reporters)[:2])})" for s in unexplained[:3])
        more = f" and {len(unexplained) - 3} more" if len(unexplained) > 3 else ""
        detail = f"{len(unexplained)} unexplained source(s) fail DMARC for at least {t.source_threshold:,} messages: {shown}{more}; fix their DKIM/SPF, or list them with --known-source / --ignore-source"
    else:
        detail = f"no unexplained source fails DMARC for {t.source_threshold:,} messages or more"
    checks.append(Check("unexplained-sources", not unexplained, detail))

    following = next_step(*current)
    if following is None:
        status = "final"
        if not all(c.ok for c in checks[:1] + checks[3:]):
            notes.append("at p=reject: failing mail from these sources is being rejected; check it is not yours")
    else:
        status = "ready" if all(c.ok for c in checks) else "not-ready"
    return Verdict(_step(*current), source, following, status, tuple(checks), tuple(notes))


def summarise(
    dmarc_reports: Iterable[AggregateReport],
    tls_reports: Iterable[TlsReport],
    thresholds: Thresholds,
    *,
    known: Iterable[str] = (),
    ignored: Iterable[str] = (),
    stack_policies: Mapping[str, tuple[str, bool]] | None = None,
    since: int | None = None,
    files: int = 0,
    duplicates: int = 0,
    problems: Iterable[str] = (),
) -> Summary:
    known_nets, ignored_nets = _networks(known), _networks(ignored)
    domains: dict[str, DomainSummary] = {}
    n_dmarc = 0
    for report in dmarc_reports:
        if since is not None and report.end < since:
            continue
        n_dmarc += 1
        d = domains.setdefault(report.domain, DomainSummary(report.domain))
        d.reports += 1
        # Google and Yahoo end a day at 23:59:59, Microsoft at the next midnight: the same day
        d.intervals.append((report.begin, report.end + 1 if report.end % 60 == 59 else report.end))
        if d.published is None or report.end > d.published.end:
            d.published = report
        for row in report.rows:
            s = d.sources.get(row.source_ip)
            if s is None:
                s = d.sources[row.source_ip] = SourceStats(
                    row.source_ip, known=_in(row.source_ip, known_nets), ignored=_in(row.source_ip, ignored_nets)
                )
            n = row.count
            s.messages += n
            s.aligned += n if row.dmarc_pass else 0
            s.dkim_aligned += n if row.dkim_aligned else 0
            s.spf_aligned += n if row.spf_aligned else 0
            s.dkim_pass += n if row.dkim_pass else 0
            s.spf_pass += n if row.spf_pass else 0
            s.dispositions[row.disposition] += n
            s.reporters.add(report.org_name)
            if row.header_from:
                s.header_from.add(row.header_from)
            if row.envelope_from:
                s.envelope_from.add(row.envelope_from)
            d.reporters[report.org_name] += n
            d.dispositions[row.disposition] += n
            if row.header_from and row.header_from != report.domain:
                d.subdomains[row.header_from] += n
            if s.ignored:
                d.ignored_messages += n
    for d in domains.values():
        d.messages = sum(s.messages for s in d.sources.values())
        d.aligned = sum(s.aligned for s in d.sources.values())
        d.dkim_aligned = sum(s.dkim_aligned for s in d.sources.values())
        d.spf_aligned = sum(s.spf_aligned for s in d.sources.values())
        d.dkim_pass = sum(s.dkim_pass for s in d.sources.values())
        d.spf_pass = sum(s.spf_pass for s in d.sources.values())
    for name in stack_policies or {}:
        domains.setdefault(name, DomainSummary(name))
    for d in domains.values():
        d.verdict = _verdict(d, thresholds, (stack_policies or {}).get(d.domain))

    tls: dict[str, TlsSummary] = {}
    n_tls = 0
    for tr in tls_reports:
        if since is not None and tr.end < since:
            continue
        n_tls += 1
        for policy in tr.policies:
            ts = tls.setdefault(policy.domain, TlsSummary(policy.domain))
            ts.reports += 1
            ts.successful += policy.successful
            ts.failed += policy.failed
            ts.reporters[tr.org_name] += policy.successful + policy.failed
            ts.policy_types[policy.policy_type] += 1
            ts.first = tr.begin if ts.first is None else min(ts.first, tr.begin)
            ts.last = tr.end if ts.last is None else max(ts.last, tr.end)
            for f in policy.failures:
                mx = f.receiving_mx or "(not given)"
                ts.by_result[f.result_type] += f.count
                ts.by_mx[mx] += f.count
                ts.by_mx_result[(mx, f.result_type)] += f.count
    return Summary(
        thresholds=thresholds,
        domains=sorted(domains.values(), key=lambda d: d.domain),
        tls=sorted(tls.values(), key=lambda t: t.domain),
        files=files,
        dmarc_reports=n_dmarc,
        tls_reports=n_tls,
        duplicates=duplicates,
        problems=list(problems),
        since=since,
    )
