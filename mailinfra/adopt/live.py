"""What is live for a domain, read through verify's resolver (:class:`DnsClient`,
``--nameserver`` included): the apex TXT (SPF and the rest) with the SPF include tree,
DMARC, DKIM selectors, MTA-STS, TLS-RPT, BIMI, MX and the MAIL FROM subdomain.

A DNS failure is kept as an ``error`` set, never raised: adopt says "could not read",
and the change report never calls an unread record "added".
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from mailinfra.policies.mailinfra_policy.standards import bimi, dkim, dmarc, mtasts, spf, tlsrpt
from mailinfra.policies.mailinfra_policy.standards.errors import StandardError

from ..verify.resolver import DnsAnswer, DnsClient

__all__ = ["LiveDomain", "LiveSet", "normalize_value", "read_domain", "read_sets"]

_MAX_TREE = 30  # include domains read for the tree (RFC 7208 allows 10 lookups; a little slack)


@dataclass(frozen=True)
class LiveSet:
    name: str
    type: str
    status: str  # "ok" | "nodata" | "nxdomain" | "error"
    values: tuple[str, ...] = ()
    reason: str = ""

    @property
    def exists(self) -> bool:
        return self.status == "ok" and bool(self.values)


def normalize_value(rtype: str, value: str) -> str:
    """One spelling for comparison with declared values: no trailing dot, lowercase hosts."""
    if rtype in ("CNAME", "NS"):
        return value.rstrip(".").lower()
    if rtype == "MX":
        pref, _, host = value.partition(" ")
        return f"{pref} {host.rstrip('.').lower()}"
    return value


def _set(answer: DnsAnswer) -> LiveSet:
    values = tuple(normalize_value(answer.rdtype, v) for v in answer.texts()) if answer.ok else ()
    return LiveSet(answer.name, answer.rdtype, answer.status, values, answer.reason if answer.status == "error" else "")


async def _gather(client: DnsClient, questions: Sequence[tuple[str, str]]) -> dict[tuple[str, str], LiveSet]:
    answers = await asyncio.gather(*(client.query(n, t) for n, t in questions))
    return {(n.lower(), t): _set(a) for (n, t), a in zip(questions, answers)}


def read_sets(client: DnsClient, questions: Iterable[tuple[str, str]]) -> dict[tuple[str, str], LiveSet]:
    """The live record set of each (name, type)."""
    qs = list(dict.fromkeys((n.rstrip(".").lower(), t.upper()) for n, t in questions))
    return asyncio.run(_gather(client, qs))


@dataclass
class LiveDomain:
    domain: str
    mail_from: str  # the MAIL FROM name looked at (<label>.<domain>)
    sets: dict[tuple[str, str], LiveSet]
    spf: str | None = None  # the apex SPF record, if exactly one
    spf_problem: str | None = None
    other_txt: tuple[str, ...] = ()  # apex TXT that is not SPF
    spf_tree: dict[str, str | None] = field(default_factory=dict)  # include domain -> its SPF (None: none found)
    dmarc: str | None = None
    selectors: dict[str, LiveSet] = field(default_factory=dict)  # selector -> its TXT or CNAME set
    mta_sts: str | None = None
    tls_rpt: str | None = None
    bimi: str | None = None
    mx: tuple[str, ...] = ()  # "pref host"

    def get(self, name: str, rtype: str) -> LiveSet | None:
        return self.sets.get((name.lower(), rtype))

    def mx_hosts(self) -> list[str]:
        return [v.partition(" ")[2] for v in sorted(self.mx, key=lambda v: int(v.partition(" ")[0] or 0))]


def _select(select: object, values: Sequence[str]) -> str | None:
    try:
        return select(values)  # type: ignore[operator, no-any-return]
    except StandardError:
        return None


def read_domain(client: DnsClient, domain: str, *, selectors: Iterable[str] = (), mail_from: str = "bounce") -> LiveDomain:
    """Everything adopt looks at for ``domain`` (one snapshot: ask ``client`` with memo)."""
    domain = domain.rstrip(".").lower()
    sels = list(dict.fromkeys(s.lower() for s in selectors))
    mf = f"{mail_from}.{domain}"
    questions = [
        (domain, "TXT"),
        (domain, "MX"),
        (dmarc.dmarc_name(domain), "TXT"),
        (mtasts.txt_name(domain), "TXT"),
        (tlsrpt.txt_name(domain), "TXT"),
        (bimi.bimi_name(domain, "default"), "TXT"),
        (mf, "MX"),
        (mf, "TXT"),
    ]
    for sel in sels:
        name = dkim.dkim_name(sel, domain)
        questions += [(name, "CNAME"), (name, "TXT")]
    sets = read_sets(client, questions)
    live = LiveDomain(domain=domain, mail_from=mf, sets=sets)
    apex = sets[(domain, "TXT")].values
    spf_values = spf.spf_records(apex)
    if len(spf_values) == 1:
        live.spf = spf_values[0]
    elif len(spf_values) > 1:
        live.spf_problem = f"{len(spf_values)} SPF records at {domain} (receivers treat that as a permanent error)"
    live.other_txt = tuple(v for v in apex if not spf.is_spf(v))
    live.dmarc = _select(dmarc.select, sets[(dmarc.dmarc_name(domain), "TXT")].values)
    live.mta_sts = _select(mtasts.select, sets[(mtasts.txt_name(domain), "TXT")].values)
    live.tls_rpt = _select(tlsrpt.select, sets[(tlsrpt.txt_name(domain), "TXT")].values)
    live.bimi = _select(bimi.select, sets[(bimi.bimi_name(domain, "default"), "TXT")].values)
    live.mx = sets[(domain, "MX")].values
    for sel in sels:
        name = dkim.dkim_name(sel, domain)
        cname, txt = sets[(name, "CNAME")], sets[(name, "TXT")]
        if cname.exists:
            live.selectors[sel] = cname
        elif txt.exists:
            live.selectors[sel] = txt
    if live.spf is not None:
        live.spf_tree = _include_tree(client, live.spf)
    return live


def _include_tree(client: DnsClient, text: str) -> dict[str, str | None]:
    """Each include (and redirect) target's SPF record, breadth first, bounded."""
    tree: dict[str, str | None] = {}
    todo = _targets(text)
    while todo and len(tree) < _MAX_TREE:
        batch = [t for t in dict.fromkeys(todo) if t not in tree][: _MAX_TREE - len(tree)]
        todo = []
        if not batch:
            break
        sets = read_sets(client, [(t, "TXT") for t in batch])
        for t in batch:
            found = spf.spf_records(sets[(t, "TXT")].values)
            tree[t] = found[0] if len(found) == 1 else None
            if tree[t]:
                todo += _targets(tree[t] or "")
    return tree


def _targets(text: str) -> list[str]:
    try:
        record = spf.parse_spf(text)
    except StandardError:
        return []
    out = list(spf.includes(record))
    target = spf.redirect(record)
    if target:
        out.append(target)
    return [t for t in out if "%" not in t]  # a macro names no fixed domain
