"""The checks of `mailinfra verify`. Each returns CheckResults and never raises for a
DNS, network or TLS outcome: those become ``error`` (could not tell) or ``fail``.

Record syntax is always read with ``policies.mailinfra_policy.standards``.
"""

from __future__ import annotations

import asyncio
import http.client
import ipaddress
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from cryptography import x509

from policies.mailinfra_policy.standards import dkim as dkim_std
from policies.mailinfra_policy.standards import dmarc as dmarc_std
from policies.mailinfra_policy.standards import mtasts as mtasts_std
from policies.mailinfra_policy.standards import spf as spf_std
from policies.mailinfra_policy.standards import tlsrpt as tlsrpt_std
from policies.mailinfra_policy.standards.errors import StandardError

from . import spf as spf_eval
from .expect import ExpectedRecord
from .report import CheckResult
from .resolver import DnsAnswer, DnsClient

__all__ = [
    "CERT_MIN_DAYS",
    "Context",
    "check_dkim_key",
    "check_dkim_sign",
    "check_dmarc",
    "check_mta_sts",
    "check_record",
    "check_smtp",
    "check_spf",
    "check_tlsrpt",
]

CERT_MIN_DAYS = 14
# Placeholder addresses of proxied (Cloudflare) records: the live answer is the proxy's.
_PROXY_PLACEHOLDERS = frozenset({"100::", "192.0.2.1"})
_MAX_POLICY_BYTES = 64 * 1024


@dataclass
class Context:
    client: DnsClient
    timeout: float = 5.0
    ca_file: str | None = None
    mta_sts_port: int = 443  # test-only override of the HTTPS port
    now: datetime | None = None  # injectable time for certificate expiry

    def utcnow(self) -> datetime:
        return self.now or datetime.now(timezone.utc)


def _r(
    name: str,
    check: str,
    status: str,
    expected: str = "",
    found: str = "",
    message: str = "",
) -> CheckResult:
    return CheckResult(name, check, status, expected, found, message)


def _dns_problem(
    name: str, check: str, answer: DnsAnswer, expected: str
) -> CheckResult:
    """A non-ok answer as a result: error for DNS errors, fail for NXDOMAIN / no data."""
    if answer.status == "error":
        return _r(name, check, "error", expected, "", answer.reason)
    return _r(name, check, "fail", expected, answer.describe(), f"{answer.describe()}")


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
        pref, _, host = value.partition(" ")
        return f"{pref.strip()} {host.strip().rstrip('.').lower()}"
    return value.rstrip(".").lower()


def _live_values(answer: DnsAnswer) -> list[str]:
    if answer.rrset is None:
        return []
    if answer.rdtype == "MX":
        return [
            f"{rd.preference} {rd.exchange.to_text(omit_final_dot=True).lower()}"
            for rd in answer.rrset
        ]
    if answer.rdtype == "CNAME":
        return [rd.target.to_text(omit_final_dot=True).lower() for rd in answer.rrset]
    return answer.texts()


def _short(values: Sequence[str], limit: int = 300) -> str:
    text = " | ".join(values)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------------------- records


async def check_record(ctx: Context, rec: ExpectedRecord) -> list[CheckResult]:
    """The declared record exists and matches (TXT joined; case and trailing dots normalised)."""
    assert rec.name is not None
    name, check = rec.name, "record"
    expected = (
        _short(rec.values)
        if rec.values
        else f"a {rec.type} record (value known only after deploy)"
    )
    answer = await ctx.client.query(name, rec.type)
    if not answer.ok:
        return [_dns_problem(name, check, answer, f"{rec.type} {expected}")]
    live = _live_values(answer)
    found = _short(live)
    if rec.values is None:
        msg = "value known only after deploy (pass --outputs): existence checked"
        if rec.purpose == "easy-dkim" and not all(
            v.endswith(".dkim.amazonses.com") for v in live
        ):
            return [
                _r(
                    name,
                    check,
                    "warn",
                    expected,
                    found,
                    "Easy DKIM CNAME should point to <token>.dkim.amazonses.com",
                )
            ]
        return [_r(name, check, "pass", expected, found, msg)]
    if rec.type in ("A", "AAAA") and set(rec.values) <= _PROXY_PLACEHOLDERS:
        return [
            _r(
                name,
                check,
                "pass",
                expected,
                found,
                "proxied record: the live address is the proxy's, existence checked",
            )
        ]
    want = [_norm(rec.type, v) for v in rec.values]
    have = [_norm(rec.type, v) for v in live]
    missing = [w for w in want if w not in have]
    if missing:
        folded = {h.casefold() for h in have}
        if rec.purpose != "dkim" and all(m.casefold() in folded for m in missing):
            return [
                _r(
                    name,
                    check,
                    "pass",
                    expected,
                    found,
                    "matches except for letter case",
                )
            ]
        return [
            _r(
                name,
                check,
                "fail",
                expected,
                found,
                f"live {rec.type} differs from the declared value (drift)",
            )
        ]
    extra = [h for h in have if h not in want]
    if extra and rec.type in ("MX", "CNAME", "A", "AAAA"):
        return [
            _r(
                name,
                check,
                "warn",
                expected,
                found,
                f"live {rec.type} has values not declared: {_short(extra)}",
            )
        ]
    return [_r(name, check, "pass", expected, found)]


# ---------------------------------------------------------------------------- SPF


async def check_spf(
    ctx: Context, domain: str, sender_ips: Sequence[str] = ()
) -> list[CheckResult]:
    """Exactly one SPF record; its syntax; the live include tree's budget; sender IPs pass."""
    out: list[CheckResult] = []
    answer = await ctx.client.query(domain, "TXT")
    if not answer.ok:
        problem = _dns_problem(
            domain, "spf-single", answer, "exactly one v=spf1 record"
        )
        return [problem]
    records = spf_std.spf_records(answer.txt())
    if len(records) != 1:
        status = "fail"
        msg = (
            "no SPF record"
            if not records
            else f"{len(records)} SPF records at one name: a permerror at every receiver"
        )
        out.append(
            _r(
                domain,
                "spf-single",
                status,
                "exactly one v=spf1 record",
                _short(records) or "none",
                msg,
            )
        )
        return out
    text = records[0]
    out.append(_r(domain, "spf-single", "pass", "exactly one v=spf1 record", text))
    try:
        spf_std.parse_spf(text)
    except StandardError as exc:
        out.append(_r(domain, "spf-syntax", "fail", "RFC 7208 syntax", text, str(exc)))
    else:
        problems = spf_std.check_spf(text)
        if problems:
            out.append(
                _r(
                    domain,
                    "spf-syntax",
                    "warn",
                    "RFC 7208 syntax, ending in -all",
                    text,
                    "; ".join(problems),
                )
            )
        else:
            out.append(
                _r(
                    domain,
                    "spf-syntax",
                    "pass",
                    "RFC 7208 syntax, ending in -all",
                    text,
                )
            )
    budget = await spf_eval.walk_budget(ctx.client, domain)
    expected = f"<= {spf_std.MAX_DNS_LOOKUPS} DNS-querying terms, <= {spf_std.MAX_VOID_LOOKUPS} void lookups, no loops"
    found = f"{budget.lookups}{'+' if budget.truncated else ''} DNS-querying terms, {budget.void_lookups} void lookups"
    reasons: list[str] = []
    if budget.over_lookups:
        reasons.append(
            f"{budget.lookups}{'+' if budget.truncated else ''} DNS-querying terms in the include tree, over {spf_std.MAX_DNS_LOOKUPS}"
        )
    if budget.over_voids:
        reasons.append(
            f"{budget.void_lookups} void lookups, over {spf_std.MAX_VOID_LOOKUPS}"
        )
    reasons += [f"include loop: {loop}" for loop in budget.loops]
    reasons += budget.problems
    if reasons:
        out.append(
            _r(domain, "spf-budget", "fail", expected, found, "; ".join(reasons))
        )
    elif budget.temp_errors:
        out.append(
            _r(
                domain,
                "spf-budget",
                "error",
                expected,
                found,
                "; ".join(dict.fromkeys(budget.temp_errors)),
            )
        )
    else:
        note = "; ".join(budget.notes[:5])
        out.append(_r(domain, "spf-budget", "pass", expected, found, note))
    for ip in sender_ips:
        result = await spf_eval.check_host(
            ctx.client, ip, f"postmaster@{domain}", domain
        )
        status = (
            "pass"
            if result.result == "pass"
            else ("error" if result.result == "temperror" else "fail")
        )
        out.append(
            _r(
                f"{domain} from {ip}",
                "spf-sender",
                status,
                "pass",
                result.result,
                ""
                if status == "pass"
                else f"check_host({ip}, {domain}): {result.explanation}",
            )
        )
    return out


# ---------------------------------------------------------------------------- DKIM


def _dkim_values(answer: DnsAnswer) -> list[str]:
    return [
        v
        for v in answer.txt()
        if "p=" in v.replace(" ", "") or v.lower().startswith("v=dkim1")
    ]


async def check_dkim_key(ctx: Context, rec: ExpectedRecord) -> list[CheckResult]:
    """The selector's key parses; RSA keys have at least 2048 bits."""
    assert rec.name is not None
    name, check = rec.name, "dkim-key"
    expected = f"a DKIM key, RSA >= {dkim_std.MIN_RSA_BITS} bits or Ed25519"
    answer = await ctx.client.query(name, "TXT")
    if not answer.ok:
        return [_dns_problem(name, check, answer, expected)]
    values = _dkim_values(answer)
    if len(values) != 1:
        return [
            _r(
                name,
                check,
                "fail",
                expected,
                f"{len(values)} DKIM key records",
                "expected exactly one key record",
            )
        ]
    try:
        key = dkim_std.parse_dkim_record(values[0])
    except StandardError as exc:
        return [
            _r(name, check, "fail", expected, f"{len(values[0])} characters", str(exc))
        ]
    declared_revoked = (
        bool(rec.values)
        and rec.purpose == "dkim"
        and all(_revoked(v) for v in rec.values or ())
    )
    if key.revoked:
        status = "pass" if declared_revoked else "fail"
        return [
            _r(
                name,
                check,
                status,
                expected,
                "revoked key (empty p=)",
                "key revoked" + (" as declared" if declared_revoked else ""),
            )
        ]
    found = f"{key.key_type} {key.key_bits} bits"
    if key.key_type == "rsa" and (key.key_bits or 0) < dkim_std.MIN_RSA_BITS:
        return [
            _r(
                name,
                check,
                "fail",
                expected,
                found,
                f"RSA key shorter than {dkim_std.MIN_RSA_BITS} bits",
            )
        ]
    if "y" in key.flags:
        return [
            _r(
                name,
                check,
                "warn",
                expected,
                found,
                "t=y: DKIM in testing mode, verifiers may ignore failures",
            )
        ]
    return [_r(name, check, "pass", expected, found)]


def _revoked(value: str) -> bool:
    try:
        return dkim_std.parse_dkim_record(value).revoked
    except StandardError:
        return False


async def check_dkim_sign(
    ctx: Context, domain: str, selector: str, private_key_pem: bytes
) -> list[CheckResult]:
    """Sign a test message with the user's key (dkimpy) and verify it against the live record."""
    import dkim  # type: ignore[import-untyped]

    name = f"{selector}._domainkey.{domain}"
    loop = asyncio.get_running_loop()

    def dnsfunc(qname: Any, timeout: int = 5) -> bytes | None:
        text = (
            qname.decode("ascii", "replace") if isinstance(qname, bytes) else str(qname)
        )
        answer = ctx.client.query_sync(text.rstrip("."), "TXT", loop)
        if not answer.ok:
            return None
        strings = answer.txt_bytes()
        return b"".join(strings[0]) if strings else None

    def run() -> tuple[bool, str]:
        message = (
            f"From: mailinfra verify <verify@{domain}>\r\nTo: <verify@{domain}>\r\n"
            f"Subject: mailinfra verify DKIM test\r\nDate: {ctx.utcnow():%a, %d %b %Y %H:%M:%S +0000}\r\n"
            f"Message-ID: <verify.{selector}@{domain}>\r\n\r\nThis message checks the live DKIM key.\r\n"
        ).encode()
        try:
            sig = dkim.sign(
                message,
                selector.encode(),
                domain.encode(),
                private_key_pem,
                include_headers=[b"from", b"to", b"subject", b"date", b"message-id"],
            )
        except Exception as exc:  # noqa: BLE001 - a bad user key: never echo key material
            return False, f"cannot sign with the given key: {type(exc).__name__}"
        try:
            ok = dkim.verify(sig + message, dnsfunc=dnsfunc, minkey=1024)
        except Exception as exc:  # noqa: BLE001 - dkimpy raises many types; report, never crash
            return False, f"verification error: {type(exc).__name__}: {exc}"
        return bool(ok), "" if ok else "signature did not verify against the live key"

    ok, msg = await asyncio.to_thread(run)
    return [
        _r(
            name,
            "dkim-sign",
            "pass" if ok else "fail",
            "signature verifies against the live key",
            "verified" if ok else "not verified",
            msg,
        )
    ]


# ---------------------------------------------------------------------------- DMARC


async def check_dmarc(ctx: Context, domain: str) -> list[CheckResult]:
    """RFC 9989 syntax; external rua/ruf destinations publish their authorisation record."""
    name = dmarc_std.dmarc_name(domain)
    expected = "one v=DMARC1 record (RFC 9989)"
    answer = await ctx.client.query(name, "TXT")
    if not answer.ok:
        return [_dns_problem(name, "dmarc-syntax", answer, expected)]
    records = [v for v in answer.txt() if v.strip().lower().startswith("v=dmarc1")]
    if len(records) != 1:
        return [
            _r(
                name,
                "dmarc-syntax",
                "fail",
                expected,
                _short(records) or "none",
                "no DMARC record" if not records else f"{len(records)} DMARC records",
            )
        ]
    text = records[0]
    try:
        record = dmarc_std.parse_dmarc(text)
    except StandardError as exc:
        return [_r(name, "dmarc-syntax", "fail", expected, text, str(exc))]
    out: list[CheckResult] = []
    problems = dmarc_std.check_dmarc(text)
    out.append(
        _r(
            name,
            "dmarc-syntax",
            "warn" if problems else "pass",
            expected,
            text,
            "; ".join(problems),
        )
    )
    dests = dmarc_std.external_destinations(domain, record)
    auths = await asyncio.gather(*(_report_auth(ctx, domain, dest) for dest in dests))
    out.extend(auths)
    return out


async def _report_auth(ctx: Context, domain: str, dest: str) -> CheckResult:
    check = "dmarc-report-auth"
    try:
        name, value = dmarc_std.report_auth_record(domain, dest)
    except StandardError as exc:
        return _r(f"{domain} -> {dest}", check, "fail", "", "", str(exc))
    expected = f"{value} at {name}"
    answer = await ctx.client.query(name, "TXT")
    if answer.status == "error":
        return _r(name, check, "error", expected, "", answer.reason)
    if not answer.ok:
        return _r(
            name,
            check,
            "fail",
            expected,
            answer.describe(),
            f"external report destination {dest} has not authorised reports for {domain}",
        )
    ok = [v for v in answer.txt() if v.strip().lower().startswith("v=dmarc1")]
    if not ok:
        return _r(
            name,
            check,
            "fail",
            expected,
            _short(answer.txt()),
            "no v=DMARC1 authorisation record",
        )
    return _r(name, check, "pass", expected, ok[0])


# ---------------------------------------------------------------------------- TLS-RPT


async def check_tlsrpt(ctx: Context, domain: str) -> list[CheckResult]:
    name = tlsrpt_std.txt_name(domain)
    expected = "one v=TLSRPTv1 record with rua"
    answer = await ctx.client.query(name, "TXT")
    if not answer.ok:
        return [_dns_problem(name, "tls-rpt", answer, expected)]
    records = [v for v in answer.txt() if v.strip().lower().startswith("v=tlsrptv1")]
    if len(records) != 1:
        return [
            _r(
                name,
                "tls-rpt",
                "fail",
                expected,
                _short(records) or "none",
                "no TLS-RPT record"
                if not records
                else f"{len(records)} TLS-RPT records",
            )
        ]
    try:
        record = tlsrpt_std.parse_tlsrpt(records[0])
    except StandardError as exc:
        return [_r(name, "tls-rpt", "fail", expected, records[0], str(exc))]
    return [
        _r(
            name,
            "tls-rpt",
            "pass",
            expected,
            records[0],
            f"rua: {', '.join(record.rua)}",
        )
    ]


# ---------------------------------------------------------------------------- MTA-STS


def _tls_context(ca_file: str | None, verify: bool = True) -> ssl.SSLContext:
    ctx = (
        ssl.create_default_context(cafile=ca_file)
        if verify
        else ssl._create_unverified_context()
    )
    ctx.minimum_version = (
        ssl.TLSVersion.TLSv1_2 if verify else ssl.TLSVersion.MINIMUM_SUPPORTED
    )
    return ctx


def _verify_message(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificate verification failed: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake failed: {exc.reason or exc}"
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return f"{type(exc).__name__}: {exc}"


def _fetch_policy(
    ip: str, port: int, host: str, timeout: float, ca_file: str | None
) -> tuple[int, str, bytes]:
    """GET /.well-known/mta-sts.txt from ip:port with SNI and certificate checks for ``host``."""
    raw = socket.create_connection((ip, port), timeout=timeout)
    try:
        tls = _tls_context(ca_file).wrap_socket(raw, server_hostname=host)
    except BaseException:
        raw.close()
        raise
    with tls:
        request = (
            f"GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: {host}\r\n"
            "User-Agent: mailinfra-verify\r\nAccept: text/plain\r\nConnection: close\r\n\r\n"
        )
        tls.sendall(request.encode("ascii"))
        response = http.client.HTTPResponse(tls)  # type: ignore[arg-type]
        response.begin()
        body = response.read(_MAX_POLICY_BYTES + 1)
        return response.status, response.getheader("Content-Type", ""), body


async def check_mta_sts(
    ctx: Context, domain: str, declared_txt: str | None
) -> list[CheckResult]:
    """TXT id matches the declared one; the policy served over HTTPS is valid; its mx
    patterns cover the live MX hosts."""
    out: list[CheckResult] = []
    name = mtasts_std.txt_name(domain)
    declared_id = None
    if declared_txt:
        try:
            declared_id = mtasts_std.parse_txt(declared_txt).id
        except StandardError:
            declared_id = None
    expected = f"v=STSv1; id={declared_id}" if declared_id else "one v=STSv1 record"
    answer = await ctx.client.query(name, "TXT")
    live_id = None
    if not answer.ok:
        out.append(_dns_problem(name, "mta-sts-id", answer, expected))
    else:
        records = [v for v in answer.txt() if v.strip().lower().startswith("v=stsv1")]
        if len(records) != 1:
            out.append(
                _r(
                    name,
                    "mta-sts-id",
                    "fail",
                    expected,
                    _short(records) or "none",
                    "no MTA-STS record"
                    if not records
                    else f"{len(records)} MTA-STS records",
                )
            )
        else:
            try:
                live_id = mtasts_std.parse_txt(records[0]).id
            except StandardError as exc:
                out.append(
                    _r(name, "mta-sts-id", "fail", expected, records[0], str(exc))
                )
            else:
                if declared_id is not None and live_id != declared_id:
                    out.append(
                        _r(
                            name,
                            "mta-sts-id",
                            "fail",
                            expected,
                            records[0],
                            "the live id differs from the declared one: senders keep a stale policy",
                        )
                    )
                else:
                    out.append(_r(name, "mta-sts-id", "pass", expected, records[0]))
    policy_results, policy = await _check_policy(ctx, domain, live_id or declared_id)
    out.extend(policy_results)
    if policy is not None:
        out.extend(await _check_policy_mx(ctx, domain, policy))
    return out


async def _check_policy(
    ctx: Context, domain: str, txt_id: str | None
) -> tuple[list[CheckResult], Any]:
    host = mtasts_std.policy_host(domain)
    url = mtasts_std.policy_url(domain)
    label = (
        url
        if ctx.mta_sts_port == 443
        else url.replace(host, f"{host}:{ctx.mta_sts_port}", 1)
    )
    check = "mta-sts-policy"
    expected = "HTTP 200 text/plain, valid STSv1 policy (mode, max_age, mx), trusted certificate"
    addresses, problem = await ctx.client.addresses(host)
    if not addresses:
        status = (
            "error"
            if "timeout" in problem
            or "SERVFAIL" in problem
            or "refused" in problem.lower()
            else "fail"
        )
        return [
            _r(label, check, status, expected, "", f"cannot resolve {host}: {problem}")
        ], None
    last = ""
    fetched = None
    for ip in addresses:
        try:
            fetched = await asyncio.to_thread(
                _fetch_policy, ip, ctx.mta_sts_port, host, ctx.timeout, ctx.ca_file
            )
            break
        except (ssl.SSLError, ssl.CertificateError) as exc:
            return [
                _r(label, check, "fail", expected, f"at {ip}", _verify_message(exc))
            ], None
        except (OSError, http.client.HTTPException) as exc:
            last = f"{ip}: {_verify_message(exc)}"
    if fetched is None:
        return [
            _r(label, check, "error", expected, "", f"cannot fetch the policy: {last}")
        ], None
    status_code, ctype, body = fetched
    if status_code != 200:
        return [
            _r(
                label,
                check,
                "fail",
                expected,
                f"HTTP {status_code}",
                "the policy must be served with 200 (no redirects)",
            )
        ], None
    if len(body) > _MAX_POLICY_BYTES:
        return [
            _r(
                label,
                check,
                "fail",
                expected,
                f"over {_MAX_POLICY_BYTES} bytes",
                "policy too large",
            )
        ], None
    try:
        text = body.decode("utf-8")
        policy = mtasts_std.parse_policy(text)
    except (UnicodeDecodeError, StandardError) as exc:
        return [
            _r(
                label,
                check,
                "fail",
                expected,
                _short([body[:200].decode("utf-8", "replace")]),
                str(exc),
            )
        ], None
    found = f"mode={policy.mode} max_age={policy.max_age} mx={','.join(policy.mx)}"
    warnings = []
    if not ctype.lower().startswith("text/plain"):
        warnings.append(
            f"Content-Type is {ctype or 'missing'!r}, RFC 8461 requires text/plain"
        )
    if policy.mode == "none":
        warnings.append("mode none: the policy is withdrawn")
    if policy.mode == "enforce" and policy.max_age < 86400:
        warnings.append(
            f"max_age {policy.max_age} is under one day for an enforce policy"
        )
    if txt_id and mtasts_std.policy_id(text) != txt_id:
        warnings.append(
            "the served policy is not the one the TXT id was derived from (hash differs)"
        )
    return [
        _r(
            label,
            check,
            "warn" if warnings else "pass",
            expected,
            found,
            "; ".join(warnings),
        )
    ], policy


async def _check_policy_mx(ctx: Context, domain: str, policy: Any) -> list[CheckResult]:
    check = "mta-sts-mx"
    expected = f"policy mx patterns {', '.join(policy.mx)} cover every live MX host"
    answer = await ctx.client.query(domain, "MX")
    if answer.status == "error":
        return [_r(domain, check, "error", expected, "", answer.reason)]
    hosts = sorted(
        {
            rd.exchange.to_text(omit_final_dot=True).lower()
            for rd in (answer.rrset or [])
        }
    )
    if not hosts:
        return [
            _r(
                domain,
                check,
                "warn",
                expected,
                answer.describe(),
                "no live MX: the policy covers nothing",
            )
        ]
    uncovered = [h for h in hosts if not policy.matches(h)]
    if uncovered:
        return [
            _r(
                domain,
                check,
                "fail",
                expected,
                ", ".join(hosts),
                f"MX host(s) not covered: {', '.join(uncovered)}",
            )
        ]
    return [_r(domain, check, "pass", expected, ", ".join(hosts))]


# ---------------------------------------------------------------------------- SMTP


class _SmtpError(Exception):
    pass


def _read_reply(f: Any) -> tuple[int, list[str]]:
    lines: list[str] = []
    while True:
        raw = f.readline(4096)
        if not raw:
            raise _SmtpError("connection closed by the server")
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if len(line) < 3 or not line[:3].isdigit():
            raise _SmtpError(f"bad SMTP reply {line[:60]!r}")
        lines.append(line[4:])
        if len(line) == 3 or line[3] == " ":
            return int(line[:3]), lines


def _cmd(sock: Any, f: Any, command: str) -> tuple[int, list[str]]:
    sock.sendall(command.encode("ascii") + b"\r\n")
    return _read_reply(f)


@dataclass
class _SmtpProbe:
    starttls: bool = False
    ehlo: list[str] | None = None
    plaintext_mail_code: int | None = None
    plaintext_mail_reply: str = ""
    tls_version: str | None = None
    cert_der: bytes | None = None
    verify_error: str = ""
    error: str = ""


def _smtp_session(
    ip: str,
    port: int,
    host: str,
    timeout: float,
    ca_file: str | None,
    verify: bool,
    probe: _SmtpProbe,
    try_mail: bool,
) -> None:
    sock = socket.create_connection((ip, port), timeout=timeout)
    try:
        f = sock.makefile("rb")
        code, lines = _read_reply(f)
        if code != 220:
            raise _SmtpError(f"greeting {code} {' '.join(lines)[:80]}")
        code, lines = _cmd(sock, f, "EHLO mailinfra-verify.invalid")
        if code != 250:
            raise _SmtpError(f"EHLO refused: {code}")
        probe.ehlo = lines
        probe.starttls = any(
            line.strip().upper().split(" ")[0] == "STARTTLS" for line in lines[1:]
        )
        if try_mail:
            code, lines = _cmd(sock, f, "MAIL FROM:<verify@mailinfra.invalid>")
            probe.plaintext_mail_code, probe.plaintext_mail_reply = (
                code,
                " ".join(lines)[:120],
            )
            if code == 250:
                _cmd(sock, f, "RSET")
        if not probe.starttls:
            _cmd(sock, f, "QUIT")
            return
        code, lines = _cmd(sock, f, "STARTTLS")
        if code != 220:
            raise _SmtpError(f"STARTTLS refused: {code} {' '.join(lines)[:80]}")
        server_hostname = None if _is_ip(host) else host
        context = _tls_context(ca_file, verify=verify)
        if not verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        tls = context.wrap_socket(sock, server_hostname=server_hostname)
        sock = tls
        probe.tls_version = tls.version()
        probe.cert_der = tls.getpeercert(binary_form=True)
        try:
            tf = tls.makefile("rb")
            _cmd(tls, tf, "EHLO mailinfra-verify.invalid")
            _cmd(tls, tf, "QUIT")
        except (OSError, _SmtpError):
            pass
    finally:
        sock.close()


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def _probe(
    ip: str, port: int, host: str, timeout: float, ca_file: str | None, try_mail: bool
) -> _SmtpProbe:
    probe = _SmtpProbe()
    try:
        _smtp_session(ip, port, host, timeout, ca_file, True, probe, try_mail)
    except (ssl.SSLCertVerificationError, ssl.CertificateError) as exc:
        probe.verify_error = _verify_message(exc)
        # again without verification, to report what the certificate is
        retry = _SmtpProbe()
        try:
            _smtp_session(ip, port, host, timeout, ca_file, False, retry, False)
            probe.tls_version, probe.cert_der = retry.tls_version, retry.cert_der
        except (OSError, _SmtpError) as exc2:
            probe.error = _verify_message(exc2)
    except ssl.SSLError as exc:
        probe.verify_error = _verify_message(exc)
    except (OSError, _SmtpError) as exc:
        probe.error = _verify_message(exc) if isinstance(exc, OSError) else str(exc)
    return probe


def _cert_summary(der: bytes, now: datetime) -> tuple[x509.Certificate, str, int]:
    cert = x509.load_der_x509_certificate(der)
    not_after = cert.not_valid_after_utc
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = san.get_values_for_type(x509.DNSName) + [
            str(i) for i in san.get_values_for_type(x509.IPAddress)
        ]
    except x509.ExtensionNotFound:
        names = []
    days = int((not_after - now).total_seconds() // 86400)
    return (
        cert,
        f"expires {not_after:%Y-%m-%d} ({days} days), names {', '.join(names) or 'none'}",
        days,
    )


async def check_smtp(
    ctx: Context, host: str, port: int, require_starttls: bool
) -> list[CheckResult]:
    """STARTTLS offered (and required: MAIL refused before it), TLS >= 1.2, a certificate
    valid for ``host`` and not within 14 days of expiry."""
    label = f"{host}:{port}"
    addresses, problem = await ctx.client.addresses(host)
    if not addresses:
        status = "fail" if problem.startswith(("NXDOMAIN", "no A/AAAA")) else "error"
        return [
            _r(
                label,
                "smtp-starttls",
                status,
                "STARTTLS offered",
                "",
                f"cannot resolve {host}: {problem}",
            )
        ]
    probe = None
    for ip in addresses:
        probe = await asyncio.to_thread(
            _probe, ip, port, host, ctx.timeout, ctx.ca_file, require_starttls
        )
        if not probe.error or probe.ehlo is not None:
            break
    assert probe is not None
    if probe.ehlo is None:
        return [
            _r(
                label,
                "smtp-starttls",
                "error",
                "STARTTLS offered",
                "",
                probe.error or probe.verify_error,
            )
        ]
    out: list[CheckResult] = []
    if not probe.starttls:
        out.append(
            _r(
                label,
                "smtp-starttls",
                "fail",
                "STARTTLS offered",
                "no STARTTLS in EHLO",
                "mail to this host travels in clear text",
            )
        )
        if require_starttls:
            out.append(_plaintext_result(label, probe))
        return out
    out.append(
        _r(label, "smtp-starttls", "pass", "STARTTLS offered", "STARTTLS offered")
    )
    if require_starttls:
        out.append(_plaintext_result(label, probe))
    if probe.tls_version is None:
        out.append(
            _r(
                label,
                "smtp-tls-version",
                "fail",
                "TLSv1.2 or newer",
                "",
                probe.verify_error or probe.error,
            )
        )
        return out
    good = probe.tls_version in ("TLSv1.2", "TLSv1.3")
    out.append(
        _r(
            label,
            "smtp-tls-version",
            "pass" if good else "fail",
            "TLSv1.2 or newer",
            probe.tls_version,
        )
    )
    expected = (
        f"a certificate valid for {host}, not within {CERT_MIN_DAYS} days of expiry"
    )
    if probe.cert_der is None:
        out.append(
            _r(
                label,
                "smtp-certificate",
                "fail",
                expected,
                "no certificate",
                probe.verify_error,
            )
        )
        return out
    try:
        _cert, summary, days = _cert_summary(probe.cert_der, ctx.utcnow())
    except ValueError as exc:
        out.append(
            _r(
                label,
                "smtp-certificate",
                "fail",
                expected,
                "unparseable certificate",
                str(exc),
            )
        )
        return out
    if probe.verify_error:
        out.append(
            _r(label, "smtp-certificate", "fail", expected, summary, probe.verify_error)
        )
    elif days < CERT_MIN_DAYS:
        out.append(
            _r(
                label,
                "smtp-certificate",
                "fail",
                expected,
                summary,
                f"expires in {days} days (< {CERT_MIN_DAYS})",
            )
        )
    else:
        out.append(_r(label, "smtp-certificate", "pass", expected, summary))
    return out


def _plaintext_result(label: str, probe: _SmtpProbe) -> CheckResult:
    expected = "MAIL refused before STARTTLS (5xx)"
    code = probe.plaintext_mail_code
    found = (
        f"{code} {probe.plaintext_mail_reply}".strip()
        if code is not None
        else "not tried"
    )
    if code is not None and 500 <= code < 600:
        return _r(label, "smtp-starttls-required", "pass", expected, found)
    return _r(
        label,
        "smtp-starttls-required",
        "fail",
        expected,
        found,
        "the host accepts mail without TLS",
    )
