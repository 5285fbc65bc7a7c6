"""The checks of ``mailinfra check-message``, one function per concern, in message order.

DNS goes through verify's :class:`DnsClient` (``--nameserver`` honoured): dkimpy gets a
``dnsfunc`` that asks through it, pyspf's lookups are routed by ``verify.spf.check_host``.
Record syntax, alignment, key sizes and header rules come from the standards modules.
"""

from __future__ import annotations

import asyncio
import email.policy
import email.utils
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mailinfra.verify.resolver import DnsClient
from mailinfra.policies.mailinfra_policy.standards import canspam
from mailinfra.policies.mailinfra_policy.standards import dkim as dkim_std
from mailinfra.policies.mailinfra_policy.standards import dmarc as dmarc_std
from mailinfra.policies.mailinfra_policy.standards import unsubscribe as unsub_std
from mailinfra.policies.mailinfra_policy.standards._common import in_zone, normalize_host
from mailinfra.policies.mailinfra_policy.standards._uris import address_domain
from mailinfra.policies.mailinfra_policy.standards.errors import StandardError

from .parse import MAX_HEADERS, ParsedMessage
from .report import MessageResult, make

__all__ = ["MAX_SIGNATURES", "Signature", "StackFacts", "check_message"]

MAX_SIGNATURES = 8  # DKIM-Signature fields verified; more are reported, not verified
_MESSAGE_ID = re.compile(r"<[^<>@\s]+@[^<>@\s]+>\Z")

_quiet = logging.getLogger("mailinfra.check_message.dkimpy")
_quiet.addHandler(logging.NullHandler())
_quiet.propagate = False


@dataclass(frozen=True)
class StackFacts:
    """What ``--stack`` declares: the sending domains, each one's configuration set, the address."""

    name: str
    domains: Mapping[str, str | None]  # domain -> configuration set name (None when unknown)
    postal_address: str | None  # None: a secure value, not known to the tool


@dataclass
class Signature:
    index: int
    domain: str = "?"
    selector: str = "?"
    valid: bool = False
    signed: tuple[str, ...] = ()
    key_text: str | None = None
    reason: str = ""
    dns_errors: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"DKIM-Signature[{self.index}] d={self.domain} s={self.selector}"


def _b(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("ascii", "replace")
    return "?" if value is None else str(value)


def _verify_one(msg: ParsedMessage, index: int, client: DnsClient, loop: asyncio.AbstractEventLoop) -> Signature:
    import dkim  # type: ignore[import-untyped]

    sig = Signature(index)

    def dnsfunc(qname: Any, timeout: int = 5) -> bytes | None:
        name = _b(qname).rstrip(".")
        answer = client.query_sync(name, "TXT", loop)
        if answer.status == "error":
            sig.dns_errors.append(answer.reason)
        if not answer.ok:
            return None
        try:
            value = dkim_std.select(answer.txt())
        except StandardError:
            return None
        sig.key_text = value
        return value.encode("utf-8")

    verifier = dkim.DKIM(msg.raw, logger=_quiet, minkey=1024, timeout=int(max(1, client.timeout)))
    try:
        sig.valid = bool(verifier.verify(index, dnsfunc=dnsfunc))
        if not sig.valid:
            sig.reason = "no usable key in DNS" if sig.key_text is None else "the signature does not verify"
    except dkim.DKIMException as exc:
        sig.reason = " ".join(str(exc).split())[:200] or type(exc).__name__
    except Exception as exc:  # noqa: BLE001 - dkimpy on a hostile message: report, never crash
        sig.reason = f"verification error: {type(exc).__name__}"
    sig.domain = _b(getattr(verifier, "domain", None)).lower()
    sig.selector = _b(getattr(verifier, "selector", None)).lower()
    sig.signed = tuple(_b(h).lower() for h in (getattr(verifier, "include_headers", None) or ()))
    return sig


async def _signatures(msg: ParsedMessage, client: DnsClient) -> tuple[list[MessageResult], list[Signature]]:
    count = len(msg.all("DKIM-Signature"))
    if msg.too_big:
        return [
            make("DKIM-Signature", "dkim-signature", "fail", "a verifiable message", "", "not verified: " + msg.problems[0])
        ], []
    if count == 0:
        return [
            make(
                "DKIM-Signature",
                "dkim-signature",
                "fail",
                "at least one valid DKIM signature",
                "none",
                "the message is not DKIM-signed",
            )
        ], []
    loop = asyncio.get_running_loop()
    sigs = [await asyncio.to_thread(_verify_one, msg, i, client, loop) for i in range(min(count, MAX_SIGNATURES))]
    out: list[MessageResult] = []
    expected = "verifies against the key in DNS"
    for sig in sigs:
        if sig.valid:
            out.append(make(sig.label, "dkim-signature", "pass", expected, "verified"))
        elif sig.dns_errors and sig.key_text is None:
            out.append(
                make(
                    sig.label,
                    "dkim-signature",
                    "error",
                    expected,
                    "",
                    "could not check: " + "; ".join(dict.fromkeys(sig.dns_errors)),
                )
            )
        else:
            out.append(make(sig.label, "dkim-signature", "fail", expected, "not verified", sig.reason))
        if sig.key_text is not None:
            out.append(_key_size(sig))
    if count > MAX_SIGNATURES:
        out.append(
            make(
                "DKIM-Signature",
                "dkim-signature",
                "warn",
                f"at most {MAX_SIGNATURES} signatures",
                str(count),
                f"only the first {MAX_SIGNATURES} were verified",
            )
        )
    return out, sigs


def _key_size(sig: Signature) -> MessageResult:
    assert sig.key_text is not None
    expected = f"RSA >= {dkim_std.MIN_RSA_BITS} bits or Ed25519"
    name = f"{sig.selector}._domainkey.{sig.domain}"
    try:
        key = dkim_std.parse_dkim_record(sig.key_text)
    except StandardError as exc:
        return make(name, "dkim-key-size", "fail", expected, "unparsable key record", str(exc))
    found = f"{key.key_type} {key.key_bits} bits" if key.key_bits else key.key_type
    short = [p for p in dkim_std.check_dkim(sig.key_text) if getattr(p, "code", "") == "dkim-rsa-too-short"]
    return make(name, "dkim-key-size", "fail" if short else "pass", expected, found, "; ".join(short))


def _from_domain(msg: ParsedMessage) -> tuple[MessageResult, str | None]:
    values = msg.all("From")
    expected = "exactly one From field with one mailbox"
    if len(values) != 1:
        return make("From", "from-header", "fail", expected, f"{len(values)} From fields"), None
    try:
        header = email.policy.default.header_factory("From", values[0])
        addresses = list(getattr(header, "addresses", ()))
        defects = list(getattr(header, "defects", ()))
    except Exception as exc:  # noqa: BLE001 - the header parser on hostile input
        return make("From", "from-header", "fail", expected, values[0][:200], f"does not parse: {type(exc).__name__}"), None
    if len(addresses) != 1:
        return make(
            "From", "from-header", "fail", expected, values[0][:200], f"{len(addresses)} mailboxes (DMARC needs one From domain)"
        ), None
    domain = address_domain(addresses[0].addr_spec)
    if defects or domain is None:
        why = "; ".join(type(d).__name__ for d in defects[:3]) or "the address has no valid domain"
        return make("From", "from-header", "fail", expected, values[0][:200], f"does not parse: {why}"), None
    return make("From", "from-header", "pass", expected, addresses[0].addr_spec), domain


def _reply_to(msg: ParsedMessage) -> MessageResult:
    values = msg.all("Reply-To")
    expected = "absent, or one Reply-To field of valid addresses"
    if not values:
        return make("Reply-To", "reply-to-header", "pass", expected, "absent (replies go to From)")
    if len(values) > 1:
        return make("Reply-To", "reply-to-header", "fail", expected, f"{len(values)} Reply-To fields")
    try:
        header = email.policy.default.header_factory("Reply-To", values[0])
        addresses = list(getattr(header, "addresses", ()))
        defects = list(getattr(header, "defects", ()))
    except Exception as exc:  # noqa: BLE001
        return make("Reply-To", "reply-to-header", "fail", expected, values[0][:200], f"does not parse: {type(exc).__name__}")
    if not addresses or defects or any(address_domain(a.addr_spec) is None for a in addresses):
        return make("Reply-To", "reply-to-header", "fail", expected, values[0][:200], "does not parse")
    return make("Reply-To", "reply-to-header", "pass", expected, ", ".join(a.addr_spec for a in addresses))


def _message_id(msg: ParsedMessage) -> MessageResult:
    values = msg.all("Message-ID")
    expected = "exactly one Message-ID <left@right>"
    if len(values) != 1:
        return make("Message-ID", "message-id", "fail", expected, f"{len(values)} Message-ID fields")
    value = values[0].strip()
    if not _MESSAGE_ID.match(value):
        return make("Message-ID", "message-id", "fail", expected, value[:200], "not a msg-id (RFC 5322 3.6.4)")
    return make("Message-ID", "message-id", "pass", expected, value[:200])


def _date(msg: ParsedMessage) -> MessageResult:
    values = msg.all("Date")
    expected = "exactly one Date field (RFC 5322 date-time)"
    if len(values) != 1:
        return make("Date", "date", "fail", expected, f"{len(values)} Date fields")
    try:
        when = email.utils.parsedate_to_datetime(values[0])
    except (TypeError, ValueError, IndexError, OverflowError):
        when = None
    if when is None:
        return make("Date", "date", "fail", expected, values[0][:200], "not an RFC 5322 date-time")
    return make("Date", "date", "pass", expected, values[0][:200])


async def _dmarc_record(client: DnsClient, from_domain: str) -> tuple[MessageResult, dmarc_std.DmarcRecord | None]:
    """The policy record: ``_dmarc.<From domain>``, else at the organisational domain."""
    expected = "a DMARC record for the From domain (p=none at least)"
    names = [dmarc_std.dmarc_name(from_domain)]
    org = dmarc_std.organizational_domain(from_domain)
    if org != normalize_host(from_domain):
        names.append(dmarc_std.dmarc_name(org))
    for name in names:
        answer = await client.query(name, "TXT")
        if answer.status == "error":
            return make(name, "dmarc-record", "error", expected, "", f"could not check: {answer.reason}"), None
        if not answer.ok or not any(dmarc_std.is_dmarc(v) for v in answer.txt()):
            continue
        try:
            text = dmarc_std.select(answer.txt())
            record = dmarc_std.parse_dmarc(text, strict=False)
        except StandardError as exc:
            return make(name, "dmarc-record", "fail", expected, "", str(exc)), None
        return make(name, "dmarc-record", "pass", expected, text[:300]), record
    return make(
        names[0],
        "dmarc-record",
        "fail",
        expected,
        "none",
        "no DMARC record: receivers apply no policy, bulk senders are rejected",
    ), None


def _return_path(msg: ParsedMessage) -> tuple[str | None, str | None]:
    value = msg.first("Return-Path")
    if value is None:
        return None, None
    address = value.strip().strip("<>").strip()
    return address, address_domain(address) if address else None


async def check_message(
    msg: ParsedMessage,
    client: DnsClient,
    *,
    stack: StackFacts | None = None,
    client_ip: str | None = None,
    helo: str = "",
) -> list[MessageResult]:
    out: list[MessageResult] = []
    syntax_ok = not msg.problems
    out.append(
        make(
            "message",
            "message-syntax",
            "pass" if syntax_ok else ("fail" if msg.too_big else "warn"),
            f"a well-formed message (at most {MAX_HEADERS} header fields)",
            f"{len(msg.raw)} bytes, {len(msg.headers)} header fields",
            "; ".join(msg.problems[:5]),
        )
    )
    from_result, from_domain = _from_domain(msg)
    out.append(from_result)
    out.append(_reply_to(msg))
    out.append(_message_id(msg))
    out.append(_date(msg))

    sig_results, sigs = await _signatures(msg, client)
    out.extend(sig_results)
    record: dmarc_std.DmarcRecord | None = None
    if from_domain is not None:
        dmarc_result, record = await _dmarc_record(client, from_domain)
        out.append(dmarc_result)
    out.extend(await _alignment(msg, client, from_domain, record, sigs, client_ip, helo))
    out.extend(_unsubscribe(msg, sigs))
    out.append(_postal(msg, stack))
    out.extend(_stack_checks(msg, stack, from_domain))
    return out


async def _alignment(
    msg: ParsedMessage,
    client: DnsClient,
    from_domain: str | None,
    record: dmarc_std.DmarcRecord | None,
    sigs: Sequence[Signature],
    client_ip: str | None,
    helo: str,
) -> list[MessageResult]:
    out: list[MessageResult] = []
    if from_domain is None:
        return [make("From", "dkim-aligned", "fail", "a From domain to align with", "", "the From field does not parse")]
    adkim = record.adkim if record else "r"
    aspf = record.aspf if record else "r"
    valid = [s for s in sigs if s.valid]
    aligned = [s for s in valid if dmarc_std.identifier_aligned(adkim, from_domain, s.domain)]
    expected = f"a valid signature with d= aligned to {from_domain} (adkim={adkim})"
    found = ", ".join(f"d={s.domain}" for s in valid) or "no valid signature"
    if aligned:
        out.append(make(from_domain, "dkim-aligned", "pass", expected, f"d={aligned[0].domain}"))
    else:
        out.append(
            make(from_domain, "dkim-aligned", "fail", expected, found, "no valid DKIM signature aligns with the From domain")
        )

    address, rp_domain = _return_path(msg)
    want = f"Return-Path domain aligned to {from_domain} (aspf={aspf})"
    rp_aligned = False
    if address is None:
        out.append(
            make(
                "Return-Path",
                "dmarc-return-path",
                "warn",
                want,
                "absent",
                "no Return-Path (set at delivery from the MAIL FROM): SPF alignment not checked",
            )
        )
    elif rp_domain is None:
        out.append(make("Return-Path", "dmarc-return-path", "fail", want, address[:200], "not an address with a valid domain"))
    else:
        rp_aligned = dmarc_std.identifier_aligned(aspf, from_domain, rp_domain)
        status = "pass" if rp_aligned else "fail"
        out.append(
            make(
                "Return-Path",
                "dmarc-return-path",
                status,
                want,
                rp_domain,
                "" if rp_aligned else "SPF cannot give DMARC a pass for this message",
            )
        )

    spf_pass = False
    if client_ip is None:
        out.append(
            make(
                rp_domain or "MAIL FROM",
                "spf",
                "warn",
                "SPF pass for the connecting IP",
                "not evaluated",
                "SPF needs the connecting IP: pass --client-ip to evaluate it",
            )
        )
    elif address is None or rp_domain is None:
        out.append(
            make(
                "MAIL FROM",
                "spf",
                "warn",
                "SPF pass for the connecting IP",
                "not evaluated",
                "no usable Return-Path (MAIL FROM) to evaluate SPF on",
            )
        )
    else:
        from mailinfra.verify.spf import check_host

        spf = await check_host(client, client_ip, address, helo)
        status = {"pass": "pass", "temperror": "error"}.get(spf.result, "fail")
        spf_pass = spf.result == "pass"
        out.append(
            make(rp_domain, "spf", status, f"SPF pass for {client_ip}", spf.result, spf.explanation[:200] if not spf_pass else "")
        )

    passes = bool(aligned) or (spf_pass and rp_aligned)
    how = "aligned DKIM" if aligned else ("aligned SPF" if passes else "")
    policy = f"p={record.policy}" if record else "no DMARC record"
    if passes:
        out.append(make(from_domain, "dmarc-result", "pass", "DMARC pass", f"pass by {how} ({policy})"))
    else:
        why = "no aligned DKIM signature" + ("" if client_ip else "; SPF not evaluated (no --client-ip)")
        out.append(make(from_domain, "dmarc-result", "fail", "DMARC pass", f"fail ({policy})", why))
    return out


def _unsubscribe(msg: ParsedMessage, sigs: Sequence[Signature]) -> list[MessageResult]:
    out: list[MessageResult] = []
    values = msg.all("List-Unsubscribe")
    if len(values) > 1:
        out.append(make("List-Unsubscribe", "list-unsubscribe", "fail", "one List-Unsubscribe field", f"{len(values)} fields"))
    else:
        value = values[0] if values else None
        problems = unsub_std.check_list_unsubscribe(value)
        expected = "an https: URI (optionally mailto:)"
        if problems:
            out.append(
                make("List-Unsubscribe", "list-unsubscribe", "fail", expected, (value or "absent")[:200], "; ".join(problems))
            )
        else:
            uris = unsub_std.parse_list_unsubscribe(value or "")
            note = "" if unsub_std.mailto_uris(uris) else "no mailto: URI (optional)"
            out.append(
                make("List-Unsubscribe", "list-unsubscribe", "pass", expected, " ".join(unsub_std.https_uris(uris))[:200], note)
            )
    posts = msg.all("List-Unsubscribe-Post")
    post = posts[0] if len(posts) == 1 else None
    problems = unsub_std.check_list_unsubscribe_post(post)
    if len(posts) > 1:
        problems = [f"{len(posts)} List-Unsubscribe-Post fields"]  # type: ignore[list-item]
    status = "fail" if problems else "pass"
    out.append(
        make(
            "List-Unsubscribe-Post",
            "list-unsubscribe-post",
            status,
            unsub_std.ONE_CLICK,
            (post or "absent")[:200],
            "; ".join(problems),
        )
    )

    expected = "a valid DKIM signature whose h= covers List-Unsubscribe and List-Unsubscribe-Post"
    valid = [s for s in sigs if s.valid]
    covering = [s for s in valid if not unsub_std.unsigned_headers(s.signed)]
    if covering:
        out.append(make("List-Unsubscribe", "list-unsubscribe-signed", "pass", expected, f"h= of d={covering[0].domain}"))
    elif not valid:
        out.append(make("List-Unsubscribe", "list-unsubscribe-signed", "fail", expected, "no valid DKIM signature"))
    else:
        missing = unsub_std.unsigned_headers(valid[0].signed)
        out.append(
            make(
                "List-Unsubscribe",
                "list-unsubscribe-signed",
                "fail",
                expected,
                f"h= of d={valid[0].domain} lacks {', '.join(missing)}",
            )
        )
    return out


def _postal(msg: ParsedMessage, stack: StackFacts | None) -> MessageResult:
    text = "\n".join(msg.texts)
    if stack is not None and stack.postal_address is not None:
        expected = f"compliance.postalAddress: {stack.postal_address[:120]}"
        found = canspam.contains_address(text, stack.postal_address)
        return make(
            "body", "postal-address", "pass" if found else "fail", expected, "found" if found else "not in the text or HTML parts"
        )
    if not msg.texts:
        return make("body", "postal-address", "fail", "the sender's postal address in the body", "no text or HTML part")
    lines = canspam.address_like_lines(text)
    if stack is not None:  # the address is a secure value: only the heuristic is possible
        note = "compliance.postalAddress is a secure value: only an address-like line was looked for"
    else:
        note = "no --stack: only an address-like line was looked for (pass --stack to match compliance.postalAddress)"
    if lines:
        return make(
            "body", "postal-address", "pass" if stack is None else "warn", "a postal address in the body", lines[-1][:200], note
        )
    return make("body", "postal-address", "fail", "a postal address in the body", "no address-like line", note)


def _stack_checks(msg: ParsedMessage, stack: StackFacts | None, from_domain: str | None) -> list[MessageResult]:
    if stack is None:
        return [
            make("From", "declared-domain", "warn", "a domain the stack declares", from_domain or "?", "no --stack: not checked"),
        ]
    declared = sorted(stack.domains)
    expected = f"one of stack {stack.name}'s domains: {', '.join(declared)}"
    owner = None
    if from_domain is not None:
        owners = [d for d in declared if in_zone(from_domain, normalize_host(d))]
        owner = max(owners, key=len) if owners else None
    out = [
        make(
            "From",
            "declared-domain",
            "pass" if owner else "fail",
            expected,
            from_domain or "?",
            "" if owner else "the From domain is not declared by the stack",
        )
    ]
    header = msg.all("X-SES-CONFIGURATION-SET")
    if owner is None:
        return out
    want = stack.domains.get(owner)
    expected = f"configuration set {want or '(known only after deploy)'}"
    if len(header) > 1:
        out.append(make("X-SES-CONFIGURATION-SET", "configuration-set", "fail", expected, f"{len(header)} fields"))
    elif not header:
        status = "pass" if want else "warn"
        out.append(
            make(
                "X-SES-CONFIGURATION-SET",
                "configuration-set",
                status,
                expected,
                "absent",
                f"the identity's default configuration set {want or '?'} applies",
            )
        )
    elif want is None:
        out.append(
            make(
                "X-SES-CONFIGURATION-SET",
                "configuration-set",
                "warn",
                expected,
                header[0][:100],
                "the stack's configuration set name is known only after deploy",
            )
        )
    else:
        ok = header[0].strip() == want
        out.append(
            make(
                "X-SES-CONFIGURATION-SET",
                "configuration-set",
                "pass" if ok else "fail",
                expected,
                header[0][:100],
                "" if ok else "not the stack's configuration set",
            )
        )
    return out
