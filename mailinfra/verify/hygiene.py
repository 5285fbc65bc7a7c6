"""Sender hygiene of `mailinfra verify`: the relay's own sending IPs (``mailinfra:relay.senderIps``).

``fcrdns``: the IP's PTR names (``standards.dnsbl.reverse_name``, nibbles for IPv6)
and at least one of them resolves forward to the same IP (forward-confirmed reverse
DNS; Gmail, Yahoo and Microsoft require it of bulk senders). ``helo-name``: the
declared ``relay.heloName`` is such a confirmed name. ``dnsbl``: the IP is listed in
none of ``relay.dnsbls`` (``standards.dnsbl``: query name, listing vs. error codes;
Spamhaus's 127.255.255.x answers - e.g. "queried through a public resolver" - are
"unknown", a warning, never "listed").
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Iterable
from functools import partial

from mailinfra.policies.mailinfra_policy.standards import dnsbl as dnsbl_std

from .context import Context, Task
from .expect import Expectations
from .report import CheckResult
from .result import could_not_check, result, short

__all__ = ["CHECKS", "check_dnsbl", "check_fcrdns", "tasks"]

CHECKS = ("fcrdns", "helo-name", "dnsbl")

GOOGLE = "https://support.google.com/a/answer/81126"


def tasks(exp: Expectations, ctx: Context) -> Iterable[Task]:
    zones = ctx.options.dnsbls if ctx.options.dnsbls is not None else dnsbl_std.DEFAULT_ZONES
    for ip in ctx.options.hygiene_ips:
        yield Task(ip, "fcrdns", partial(check_fcrdns, ctx, ip, ctx.options.helo_name))
        for zone in zones:
            yield Task(ip, "dnsbl", partial(check_dnsbl, ctx, ip, zone))


def _same_ip(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_address(a) == ipaddress.ip_address(b)
    except ValueError:
        return False


async def check_fcrdns(ctx: Context, ip: str, helo: str | None) -> list[CheckResult]:
    """PTR of ``ip`` -> names -> A/AAAA back to ``ip``; then the HELO name among the confirmed names."""
    expected = f"a PTR name that resolves back to {ip} (FCrDNS, {GOOGLE})"
    rname = dnsbl_std.reverse_name(ip)
    answer = await ctx.client.query(rname, "PTR")
    helo_expected = f"relay.heloName is a forward-confirmed PTR name of {ip}"
    if answer.status == "error":
        out = [could_not_check(ip, "fcrdns", expected, answer.reason)]
        if helo:
            out.append(could_not_check(ip, "helo-name", helo_expected, answer.reason))
        return out
    names = sorted({t.rstrip(".").lower() for t in answer.texts()})
    if not names:
        out = [result(ip, "fcrdns", "fail", expected, answer.describe(), f"no PTR record at {rname}")]
        if helo:
            out.append(result(ip, "helo-name", "fail", helo_expected, helo, "the IP has no PTR name"))
        return out
    lookups = await asyncio.gather(*(ctx.client.lookup_host(n) for n in names))
    confirmed = [n for n, look in zip(names, lookups) if any(_same_ip(a, ip) for a in look.addresses)]
    errors = [look.reason for look in lookups if look.status == "error"]
    if confirmed:
        out = [result(ip, "fcrdns", "pass", expected, short(confirmed))]
    elif errors:
        out = [could_not_check(ip, "fcrdns", expected, "; ".join(dict.fromkeys(errors)))]
    else:
        found = "; ".join(f"{n} -> {', '.join(look.addresses) or look.status}" for n, look in zip(names, lookups))
        out = [result(ip, "fcrdns", "fail", expected, found[:300], "no PTR name resolves back to the IP")]
    if helo is None:
        out.append(
            result(
                ip,
                "helo-name",
                "warn",
                helo_expected,
                "",
                "mailinfra.relay.heloName is not declared: the HELO name is not checked",
            )
        )
    elif helo.rstrip(".").lower() in confirmed:
        out.append(result(ip, "helo-name", "pass", helo_expected, helo))
    else:
        out.append(
            result(
                ip, "helo-name", "fail", helo_expected, helo, f"the HELO name is not a confirmed PTR name (PTR: {short(names)})"
            )
        )
    return out


async def check_dnsbl(ctx: Context, ip: str, zone: str) -> list[CheckResult]:
    name = dnsbl_std.query_name(ip, zone)
    where = f"{ip} in {zone}"
    expected = f"not listed in {zone} (RFC 5782)"
    answer = await ctx.client.query(name, "A")
    if answer.status == "error":
        return [could_not_check(where, "dnsbl", expected, answer.reason)]
    if not answer.ok:  # NXDOMAIN (or no A): not listed
        return [result(where, "dnsbl", "pass", expected, answer.describe())]
    verdict, codes = dnsbl_std.classify(answer.texts())
    if verdict == "unknown":
        message = f"the list answered {', '.join(codes)}: an error code, not a listing (e.g. Spamhaus refuses queries through public resolvers)"
        return [result(where, "dnsbl", "warn", expected, ", ".join(codes), message)]
    reason = await ctx.client.query(name, "TXT")
    why = short(reason.txt()) if reason.ok else ""
    return [result(where, "dnsbl", "fail", expected, f"listed: {', '.join(codes)}", why or f"{ip} is listed in {zone}")]
