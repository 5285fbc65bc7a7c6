"""``record``: every declared record exists and matches what is live.

TXT values are compared joined (their character-strings concatenated); names in MX,
CNAME and the like lose case and the final dot; addresses are compared as addresses.
An Easy DKIM CNAME whose target is known only after deploy is checked against the
target ``standards.dkim.easy_dkim_cname`` gives for the identity's SES region.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import partial

from mailinfra.policies.mailinfra_policy.standards import dkim as dkim_std
from mailinfra.policies.mailinfra_policy.standards.errors import StandardError

from .context import Context, Task
from .expect import Expectations, ExpectedRecord, easy_dkim_region, mx_exchange
from .report import CheckResult
from .resolver import DnsAnswer
from .result import dns_problem, result, short

__all__ = ["CHECKS", "check_record", "tasks"]

CHECKS = ("record",)

# Placeholder addresses of proxied (Cloudflare) records: the live answer is the proxy's.
_PROXY_PLACEHOLDERS = frozenset({"100::", "192.0.2.1"})


def tasks(exp: Expectations, ctx: Context) -> Iterable[Task]:
    for rec in exp.records:
        yield Task(rec.label, "record", partial(check_record, ctx, rec, easy_dkim_region(exp, rec.domain)))


def _norm(rtype: str, value: str) -> str:
    value = value.strip()
    if rtype == "TXT":
        return value
    if rtype in ("A", "AAAA"):
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            return value.lower()
    if rtype == "MX":
        return f"{value.split()[0] if value.split() else ''} {mx_exchange(value)}"
    return value.rstrip(".").lower()


def _live_values(answer: DnsAnswer) -> list[str]:
    if answer.rrset is None:
        return []
    if answer.rdtype == "MX":
        return [f"{rd.preference} {rd.exchange.to_text(omit_final_dot=True).lower()}" for rd in answer.rrset]
    if answer.rdtype == "CNAME":
        return [rd.target.to_text(omit_final_dot=True).lower() for rd in answer.rrset]
    return answer.texts()


def _easy_dkim_target(rec: ExpectedRecord, region: str | None) -> str | None:
    """The CNAME target SES gives this Easy DKIM name (its first label is the token)."""
    assert rec.name is not None
    try:
        return dkim_std.easy_dkim_cname(rec.domain, rec.name.split(".", 1)[0], region)[2]
    except StandardError:
        return None


async def check_record(ctx: Context, rec: ExpectedRecord, region: str | None = None) -> list[CheckResult]:
    """The declared record exists and matches (TXT joined; case and trailing dots normalised)."""
    assert rec.name is not None
    name, check = rec.name, "record"
    expected = short(rec.values) if rec.values else f"a {rec.type} record (value known only after deploy)"
    answer = await ctx.client.query(name, rec.type)
    if not answer.ok:
        return [dns_problem(name, check, answer, f"{rec.type} {expected}")]
    live = _live_values(answer)
    found = short(live)
    if rec.values is None:
        msg = "value known only after deploy (pass --outputs): existence checked"
        target = _easy_dkim_target(rec, region) if rec.purpose == "easy-dkim" else None
        if target is not None and live != [target]:
            return [
                result(
                    name,
                    check,
                    "warn",
                    target,
                    found,
                    f"Easy DKIM CNAME should point to {target} (SES region {region or 'default'})",
                )
            ]
        return [result(name, check, "pass", expected, found, msg)]
    if rec.type in ("A", "AAAA") and set(rec.values) <= _PROXY_PLACEHOLDERS:
        return [
            result(name, check, "pass", expected, found, "proxied record: the live address is the proxy's, existence checked")
        ]
    want = [_norm(rec.type, v) for v in rec.values]
    have = [_norm(rec.type, v) for v in live]
    missing = [w for w in want if w not in have]
    if missing:
        folded = {h.casefold() for h in have}
        if rec.purpose != "dkim" and all(m.casefold() in folded for m in missing):
            return [result(name, check, "pass", expected, found, "matches except for letter case")]
        return [result(name, check, "fail", expected, found, f"live {rec.type} differs from the declared value (drift)")]
    extra = [h for h in have if h not in want]
    if extra and rec.type in ("MX", "CNAME", "A", "AAAA"):
        return [result(name, check, "warn", expected, found, f"live {rec.type} has values not declared: {short(extra)}")]
    return [result(name, check, "pass", expected, found)]
