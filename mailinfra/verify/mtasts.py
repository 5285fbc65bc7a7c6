"""MTA-STS checks of `mailinfra verify` (RFC 8461).

``mta-sts-id``: the one ``v=STSv1`` record at ``_mta-sts.<domain>`` has the declared id.
``mta-sts-policy``: the policy served at ``https://mta-sts.<domain>/.well-known/mta-sts.txt``
over a validated certificate, as ``standards.mtasts`` judges it (``check_served``,
``check_policy``). ``mta-sts-mx``: its mx patterns cover every live MX host.

The host is resolved through verify's DNS client; when DNS gives no usable answer for
it the policy check is ``error`` (could not check), never ``fail``.
"""

from __future__ import annotations

import asyncio
import http.client
import ssl
from collections.abc import Iterable
from functools import partial

from mailinfra.policies.mailinfra_policy.standards import mtasts as mtasts_std
from mailinfra.policies.mailinfra_policy.standards.errors import StandardError

from .context import Context, Task, records_for
from .expect import Expectations
from .report import CheckResult
from .result import could_not_check, dns_problem, result, short
from .tls import HttpsResponse, describe_error, https_get

__all__ = ["CHECKS", "check_mta_sts", "tasks"]

CHECKS = ("mta-sts-id", "mta-sts-policy", "mta-sts-mx")

_POLICY_PATH = "/.well-known/mta-sts.txt"
# check_policy / check_served codes that mean "no usable policy" (the others are advice)
_FAILING = frozenset({"mta-sts-policy-syntax", "mta-sts-http-status", "mta-sts-mode"})
_MX_CODES = frozenset({"mta-sts-mx-not-covered"})


def tasks(exp: Expectations, ctx: Context) -> Iterable[Task]:
    for rec in records_for(exp, "mta-sts"):
        declared = rec.values[0] if rec.values else None
        yield Task(rec.domain, "mta-sts-id", partial(check_mta_sts, ctx, rec.domain, declared))


def _declared_id(declared_txt: str | None) -> str | None:
    if not declared_txt:
        return None
    try:
        return mtasts_std.parse_txt(declared_txt).id
    except StandardError:
        return None


async def check_mta_sts(ctx: Context, domain: str, declared_txt: str | None) -> list[CheckResult]:
    """TXT id matches the declared one; the served policy is valid; its mx patterns cover
    the live MX hosts."""
    name = mtasts_std.txt_name(domain)
    declared_id = _declared_id(declared_txt)
    expected = f"v=STSv1; id={declared_id}" if declared_id else "one v=STSv1 record"
    answer, mx_answer = await asyncio.gather(ctx.client.query(name, "TXT"), ctx.client.query(domain, "MX"))
    out: list[CheckResult] = []
    live_id = None
    if not answer.ok:
        out.append(dns_problem(name, "mta-sts-id", answer, expected))
    else:
        try:
            text = mtasts_std.select(answer.txt())
            live_id = mtasts_std.parse_txt(text).id
        except StandardError as exc:
            found = short(answer.txt()) or "none"
            out.append(result(name, "mta-sts-id", "fail", expected, found, str(exc)))
        else:
            if declared_id is not None and live_id != declared_id:
                stale = "the live id differs from the declared one: senders keep a stale policy"
                out.append(result(name, "mta-sts-id", "fail", expected, text, stale))
            else:
                out.append(result(name, "mta-sts-id", "pass", expected, text))
    mx_hosts: list[str] | None = None
    if mx_answer.ok or mx_answer.empty:
        mx_hosts = sorted({rd.exchange.to_text(omit_final_dot=True).lower() for rd in (mx_answer.rrset or [])})
    policy_results, policy_text = await _check_policy(ctx, domain, live_id or declared_id, mx_hosts or [])
    out.extend(policy_results)
    if policy_text is not None:
        out.append(_mx_result(domain, policy_text, mx_hosts, mx_answer.reason))
    return out


async def _fetch(ctx: Context, domain: str, label: str, expected: str) -> tuple[HttpsResponse | None, CheckResult | None]:
    host = mtasts_std.policy_host(domain)
    lookup = await ctx.client.lookup_host(host)
    if not lookup.addresses:
        reason = f"cannot resolve {host}: {lookup.reason}"
        if lookup.status == "error":
            return None, could_not_check(label, "mta-sts-policy", expected, reason)
        return None, result(label, "mta-sts-policy", "fail", expected, "", reason)
    last = ""
    for ip in lookup.addresses:
        try:
            response = await asyncio.to_thread(
                https_get,
                ip,
                ctx.mta_sts_port,
                host,
                _POLICY_PATH,
                ctx.timeout,
                ctx.ca_file,
                mtasts_std.MAX_POLICY_BYTES,
                "text/plain",
            )
            return response, None
        except ssl.SSLError as exc:  # a bad certificate is a finding, not a network fault
            return None, result(label, "mta-sts-policy", "fail", expected, f"at {ip}", describe_error(exc))
        except (OSError, http.client.HTTPException) as exc:
            last = f"{ip}: {describe_error(exc)}"
    return None, could_not_check(label, "mta-sts-policy", expected, f"cannot fetch the policy: {last}")


async def _check_policy(
    ctx: Context, domain: str, txt_id: str | None, mx_hosts: list[str]
) -> tuple[list[CheckResult], str | None]:
    url = mtasts_std.policy_url(domain)
    host = mtasts_std.policy_host(domain)
    label = url if ctx.mta_sts_port == 443 else url.replace(host, f"{host}:{ctx.mta_sts_port}", 1)
    expected = "HTTP 200 text/plain, valid STSv1 policy (mode, max_age, mx), trusted certificate"
    response, problem = await _fetch(ctx, domain, label, expected)
    if response is None:
        assert problem is not None
        return [problem], None
    served = mtasts_std.check_served(response.status, response.content_type)
    if any(p.code in _FAILING for p in served):
        return [result(label, "mta-sts-policy", "fail", expected, f"HTTP {response.status}", "; ".join(served))], None
    if len(response.body) > mtasts_std.MAX_POLICY_BYTES:
        too_large = f"over {mtasts_std.MAX_POLICY_BYTES} bytes"
        return [result(label, "mta-sts-policy", "fail", expected, too_large, "policy too large")], None
    try:
        text = response.body.decode("utf-8")
        policy = mtasts_std.parse_policy(text)
    except (UnicodeDecodeError, StandardError) as exc:
        found = short([response.body[:200].decode("utf-8", "replace")])
        return [result(label, "mta-sts-policy", "fail", expected, found, str(exc))], None
    found = f"mode={policy.mode} max_age={policy.max_age} mx={','.join(policy.mx)}"
    judged = (*served, *mtasts_std.check_policy(text, mx_hosts=mx_hosts))
    advice: list[str] = [p for p in judged if p.code not in _MX_CODES]
    if txt_id and mtasts_std.policy_id(text) != txt_id:
        advice.append("the served policy is not the one the TXT id was derived from (hash differs)")
    failing = any(getattr(p, "code", "") in _FAILING for p in advice)
    status = "fail" if failing else ("warn" if advice else "pass")
    return [result(label, "mta-sts-policy", status, expected, found, "; ".join(advice))], text


def _mx_result(domain: str, policy_text: str, mx_hosts: list[str] | None, dns_reason: str) -> CheckResult:
    policy = mtasts_std.parse_policy(policy_text)
    expected = f"policy mx patterns {', '.join(policy.mx)} cover every live MX host"
    if mx_hosts is None:
        return could_not_check(domain, "mta-sts-mx", expected, dns_reason)
    if not mx_hosts:
        return result(domain, "mta-sts-mx", "warn", expected, "no MX record", "no live MX: the policy covers nothing")
    uncovered = [p for p in mtasts_std.check_policy(policy_text, mx_hosts=mx_hosts) if p.code in _MX_CODES]
    if uncovered:
        return result(domain, "mta-sts-mx", "fail", expected, ", ".join(mx_hosts), "; ".join(uncovered))
    return result(domain, "mta-sts-mx", "pass", expected, ", ".join(mx_hosts))
