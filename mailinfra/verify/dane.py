"""DANE for inbound mail (RFC 7672): the TLSA records of each declared MX host.

For every MX host the plan declares (``domains[].mxHosts`` published as MX records, and
any TLSA record a program declares), the ``dane`` check asks for TLSA at
``_25._tcp.<host>`` and, when present:

1. the TLSA answer, the domain's MX RRset and the host's address records must be
   DNSSEC-authenticated (``verify.dnssec``: ``--trust-anchor FILE`` or
   ``--dnssec-ad-trusted``), since senders ignore DANE records they cannot authenticate
   (RFC 7672 2.1, 2.2);
2. at least one record must be usable for SMTP and match the certificate chain the host
   presents after STARTTLS (``standards.tlsa.match_chain``; the probe does not check
   the certificate against a CA store: DANE replaces that).

Results (check ``dane``, named ``_25._tcp.<host>``): pass (authenticated and matching);
warn (no TLSA with DNSSEC checking on: DANE not deployed; or a TLSA that verify was not
given the means to authenticate); fail (TLSA unauthenticated or bogus, no usable
record, no match, no STARTTLS); error (DNS or connection fault). Without
``--trust-anchor`` / ``--dnssec-ad-trusted`` a host without TLSA gets no result.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from functools import partial

from mailinfra.policies.mailinfra_policy.standards import tlsa as tlsa_std
from mailinfra.policies.mailinfra_policy.standards.errors import StandardError

from . import smtp
from .context import Context, Task, records_for
from .dnssec import Validator, load_trust_anchors
from .expect import Expectations, mx_exchange
from .report import CheckResult
from .result import could_not_check, result

__all__ = ["CHECKS", "check_dane", "dane_hosts", "make_validator", "tasks"]

CHECKS = ("dane",)
_EXPECTED = "DNSSEC-authenticated TLSA (DANE-TA/DANE-EE) matching the certificate the MX presents"


def dane_hosts(exp: Expectations) -> dict[str, list[str]]:
    """MX host -> the domains whose declared MX names it, for the record kinds the registry
    gives the ``dane`` check: MX records (not SES's MAIL FROM feedback MX) and TLSA records."""
    hosts: dict[str, list[str]] = {}
    for rec in records_for(exp, "dane"):
        if rec.type == "TLSA":
            hosts.setdefault(rec.domain, [])  # a program's own TLSA record: its base domain is the host
            continue
        for value in rec.values or ():
            host = mx_exchange(value)
            if host and rec.name:
                hosts.setdefault(host, [])
                if rec.name not in hosts[host]:
                    hosts[host].append(rec.name)
    return hosts


def make_validator(ctx: Context) -> Validator:
    """The run's DNSSEC validator, from ``--trust-anchor`` / ``--dnssec-ad-trusted``."""
    paths = tuple(ctx.options.trust_anchors)
    anchors = load_trust_anchors(paths) if paths else None
    return Validator(ctx.client, anchors, bool(ctx.options.dnssec_ad_trusted), ctx.utcnow().timestamp())


def tasks(exp: Expectations, ctx: Context) -> Iterable[Task]:
    hosts = dane_hosts(exp)
    if not hosts:
        return
    shared = make_validator(ctx)  # one per run: each zone's keys are fetched and validated once
    for host, domains in hosts.items():
        try:
            name = tlsa_std.tlsa_name(host)
        except StandardError:
            continue  # not a host name: the record check reports the MX value
        yield Task(name, "dane", partial(check_dane, ctx, host, tuple(domains), shared))


async def _insecure_context(validator: Validator, host: str, domains: tuple[str, ...]) -> tuple[str, str]:
    """(status, why) when senders would not use this host's TLSA although it is authenticated,
    ("", "") when they would: the MX RRset and the host's addresses must be secure too
    (RFC 7672 2.2.1, 2.2.2)."""
    for domain in domains:
        mx = await validator.authenticate(domain, "MX")
        if mx.answer.status == "error":
            return "error", f"could not check the MX RRset of {domain}: {mx.answer.reason}"
        if mx.answer.ok and not mx.secure:
            return "fail", f"the MX RRset of {domain} is not DNSSEC-authenticated ({mx.how}): senders never look up the TLSA"
    a = await validator.authenticate(host, "A")
    address = a if a.answer.ok else await validator.authenticate(host, "AAAA")
    if address.answer.ok and not address.secure:
        kind = address.answer.rdtype
        return "fail", f"the {kind} records of {host} are not DNSSEC-authenticated ({address.how}): senders skip DANE"
    return "", ""


async def check_dane(
    ctx: Context, host: str, domains: tuple[str, ...] = (), dnssec: Validator | None = None
) -> list[CheckResult]:
    """The ``dane`` result of one MX host (see the module doc); ``domains`` name it in their MX."""
    name = tlsa_std.tlsa_name(host)
    validator = dnssec or make_validator(ctx)
    auth = await validator.authenticate(name, "TLSA")
    answer = auth.answer
    if answer.status == "error":
        return [could_not_check(name, "dane", _EXPECTED, answer.reason)]
    if not answer.ok:
        if not validator.enabled:
            return []  # DANE neither deployed nor asked about
        return [result(name, "dane", "warn", _EXPECTED, answer.describe(), f"no TLSA: DANE is not deployed for {host}")]
    records, problems = tlsa_std.parse_rrset(rd.to_text() for rd in answer.rrset or ())
    found = ", ".join(r.describe() for r in records) or f"{len(answer.rrset or ())} unparseable TLSA record(s)"
    if not validator.enabled:
        return [
            result(
                name, "dane", "warn", _EXPECTED, found,
                "TLSA published, but verify cannot authenticate it: pass --trust-anchor FILE or --dnssec-ad-trusted",
            )
        ]  # fmt: skip
    if not auth.secure:
        return [result(name, "dane", "fail", _EXPECTED, found, f"TLSA not DNSSEC-authenticated: {auth.how}; senders ignore it")]
    status, why = await _insecure_context(validator, host, domains)
    if status:
        return [result(name, "dane", status, _EXPECTED, found, why)]
    lookup = await ctx.client.lookup_host(host)
    if not lookup.addresses:
        status = "error" if lookup.status == "error" else "fail"
        return [result(name, "dane", status, _EXPECTED, found, f"cannot resolve {host}: {lookup.reason}")]
    probe: smtp.SmtpProbe | None = None
    for ip in lookup.addresses:
        probe = await asyncio.to_thread(smtp.probe, ip, ctx.smtp_port, host, ctx.timeout, ctx.ca_file, verify=False)
        if probe.ehlo is not None:
            break
    assert probe is not None
    if probe.ehlo is None:
        return [could_not_check(name, "dane", _EXPECTED, f"{host}:{ctx.smtp_port}: {probe.error or probe.verify_error}")]
    if not probe.starttls:
        return [result(name, "dane", "fail", _EXPECTED, found, f"{host} offers no STARTTLS: DANE senders defer mail to it")]
    chain = probe.chain_der or ([probe.cert_der] if probe.cert_der else [])
    if not chain:
        return [
            result(name, "dane", "fail", _EXPECTED, found, f"no TLS handshake with {host}: {probe.verify_error or probe.error}")
        ]
    matched, found_problems = tlsa_std.match_chain(records, chain, host, ctx.utcnow())
    problems += found_problems
    if matched is None:
        return [result(name, "dane", "fail", _EXPECTED, found, "; ".join(problems))]
    notes = "; ".join(p for p in problems)
    message = f"{matched.describe()} matches ({auth.how})" + (f"; also: {notes}" if notes else "")
    return [result(name, "dane", "pass", _EXPECTED, found, message)]
