"""MTA-STS (RFC 8461): the ``_mta-sts`` TXT record and the policy file.

API:
    MAX_AGE_MAX = 31557600; MODES = ("enforce", "testing", "none")
    txt_name(domain) -> "_mta-sts.<domain>"
    policy_host(domain) -> "mta-sts.<domain>"; policy_url(domain) -> "https://mta-sts.<domain>/.well-known/mta-sts.txt"
    build_policy(mode: str, mx_patterns: Iterable[str], max_age: int) -> str   # CRLF lines
    parse_policy(text: str) -> MtaStsPolicy     # accepts CRLF or LF
    policy_id(policy_text: str) -> str          # 32 lowercase hex chars of SHA-256(policy)
    build_txt(policy_id: str) -> str            # "v=STSv1; id=<id>"
    parse_txt(text: str) -> MtaStsTxt
    mx_matches(pattern: str, host: str) -> bool # "*.example.com" matches exactly one extra label
    check_mx_pattern(pattern: str) -> str       # one mx pattern, lowercased, or MtaStsError
    check_txt(text) -> list[Problem]; check_policy(text, *, mode=None, mx_hosts=()) -> list[Problem]   # codes: CODES
    select(txt_values) -> str                   # the one v=STSv1 record of _mta-sts.<domain>, or MtaStsError
    check_served(status: int, content_type: str) -> list[Problem]   # HTTP 200, text/plain (RFC 8461 3.3)

The TXT ``id`` is derived from the policy text, so it changes whenever the policy does.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from ._common import is_ext_name, is_ext_value, is_hostname, normalize_host, parse_tag_list
from .errors import MtaStsError, Problem

__all__ = [
    "CODES",
    "MAX_AGE_MAX",
    "MODES",
    "MtaStsPolicy",
    "MtaStsTxt",
    "build_policy",
    "build_txt",
    "check_mx_pattern",
    "check_policy",
    "check_served",
    "check_txt",
    "mx_matches",
    "parse_policy",
    "parse_txt",
    "policy_host",
    "policy_id",
    "policy_url",
    "select",
    "txt_name",
]

MODES = ("enforce", "testing", "none")
MAX_AGE_MAX = 31557600
MAX_POLICY_BYTES = 64 * 1024
# Problem codes of check_txt and check_policy (stable: policies, verify and reports select on them).
CODES = (
    "mta-sts-txt-syntax",
    "mta-sts-policy-syntax",
    "mta-sts-mode",
    "mta-sts-mode-none",
    "mta-sts-mx-not-covered",
    "mta-sts-max-age-short",
    "mta-sts-http-status",
    "mta-sts-content-type",
)
_ID = re.compile(r"[A-Za-z0-9]{1,32}\Z")
_MAX_AGE = re.compile(r"\d{1,10}\Z")


@dataclass(frozen=True)
class MtaStsTxt:
    id: str
    extensions: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class MtaStsPolicy:
    mode: str
    max_age: int
    mx: tuple[str, ...]
    version: str = "STSv1"

    def matches(self, host: str) -> bool:
        """True if ``host`` matches one of the policy's mx patterns."""
        return any(mx_matches(pattern, host) for pattern in self.mx)


def txt_name(domain: str) -> str:
    return f"_mta-sts.{normalize_host(domain)}"


def policy_host(domain: str) -> str:
    return f"mta-sts.{normalize_host(domain)}"


def policy_url(domain: str) -> str:
    return f"https://{policy_host(domain)}/.well-known/mta-sts.txt"


def _check_mx_pattern(pattern: str) -> str:
    if not isinstance(pattern, str):
        raise MtaStsError(f"MTA-STS mx pattern must be a str (got {type(pattern).__name__})")
    lowered = normalize_host(pattern)
    host = lowered[2:] if lowered.startswith("*.") else lowered
    if "*" in host or not is_hostname(host):
        raise MtaStsError(f"MTA-STS mx pattern {pattern!r} is not valid: a host name, '*.' allowed only as the leftmost label")
    return lowered


def check_mx_pattern(pattern: str) -> str:
    """One ``mx:`` pattern of a policy, lowercased; MtaStsError when it is not valid."""
    return _check_mx_pattern(pattern)


def mx_matches(pattern: str, host: str) -> bool:
    """RFC 8461 4.1: a wildcard matches exactly one leftmost label; comparison ignores case."""
    pattern = normalize_host(pattern)
    host = normalize_host(host)
    if pattern.startswith("*."):
        label, dot, rest = host.partition(".")
        return bool(label) and bool(dot) and rest == pattern[2:]
    return host == pattern


def _check_max_age(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_AGE_MAX:
        raise MtaStsError(f"MTA-STS max_age must be an integer 0..{MAX_AGE_MAX} (got {value!r})")
    return value


def _check_mode(mode: object) -> str:
    if mode not in MODES:
        raise MtaStsError(f"MTA-STS mode must be enforce, testing or none (got {mode!r})")
    return mode  # type: ignore[return-value]


def build_policy(mode: str, mx_patterns: Iterable[str], max_age: int) -> str:
    """The policy file served at ``policy_url``: CRLF lines, ``version: STSv1`` first."""
    if isinstance(mx_patterns, str):
        raise MtaStsError("MTA-STS mx patterns must be a list of strings, not one string")
    _check_mode(mode)
    _check_max_age(max_age)
    patterns: list[str] = []
    for pattern in mx_patterns:
        checked = _check_mx_pattern(pattern)
        if checked not in patterns:
            patterns.append(checked)
    if not patterns and mode != "none":
        raise MtaStsError(f"MTA-STS policy in mode {mode!r} needs at least one mx pattern")
    lines = ["version: STSv1", f"mode: {mode}", *(f"mx: {p}" for p in patterns), f"max_age: {max_age}"]
    return "\r\n".join(lines) + "\r\n"


def parse_policy(text: str) -> MtaStsPolicy:
    """Parse a policy file strictly (unknown keys are ignored per RFC 8461 3.2)."""
    if not isinstance(text, str):
        raise MtaStsError(f"MTA-STS policy must be a str (got {type(text).__name__})")
    if len(text.encode("utf-8")) > MAX_POLICY_BYTES:
        raise MtaStsError(f"MTA-STS policy is over {MAX_POLICY_BYTES} bytes")
    fields: dict[str, str] = {}
    mx: list[str] = []
    lines = text.replace("\r\n", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for number, line in enumerate(lines, start=1):
        key, colon, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if not colon or not is_ext_name(key):  # policy-ext-name: the extension grammar
            raise MtaStsError(f"MTA-STS policy line {number} is not 'key: value' (got {line!r})")
        if key == "mx":
            mx.append(_check_mx_pattern(value))
        elif key in ("version", "mode", "max_age"):
            if key in fields:
                raise MtaStsError(f"MTA-STS policy field {key!r} appears more than once")
            fields[key] = value
    if fields.get("version") != "STSv1":
        raise MtaStsError(f"MTA-STS policy field 'version' must be 'STSv1' (got {fields.get('version')!r})")
    if "mode" not in fields:
        raise MtaStsError("MTA-STS policy has no 'mode' field")
    mode = _check_mode(fields["mode"])
    if "max_age" not in fields:
        raise MtaStsError("MTA-STS policy has no 'max_age' field")
    if not _MAX_AGE.match(fields["max_age"]):
        raise MtaStsError(f"MTA-STS max_age must be an integer 0..{MAX_AGE_MAX} (got {fields['max_age']!r})")
    max_age = _check_max_age(int(fields["max_age"]))
    if not mx and mode != "none":
        raise MtaStsError(f"MTA-STS policy in mode {mode!r} has no 'mx' field")
    return MtaStsPolicy(mode=mode, max_age=max_age, mx=tuple(mx))


def policy_id(policy_text: str) -> str:
    """Deterministic id of a policy: the first 32 hex digits of SHA-256 of its text."""
    return hashlib.sha256(policy_text.encode("utf-8")).hexdigest()[:32]


def build_txt(policy_id: str) -> str:
    """``v=STSv1; id=<id>`` (id: 1..32 letters and digits)."""
    if not isinstance(policy_id, str) or not _ID.match(policy_id):
        raise MtaStsError(f"MTA-STS id must be 1..32 letters or digits (got {policy_id!r})")
    return f"v=STSv1; id={policy_id}"


def _tag_error(tag: str, message: str) -> MtaStsError:
    error = MtaStsError(message)
    error.tag = tag
    return error


def parse_txt(text: str) -> MtaStsTxt:
    """Parse the ``_mta-sts`` TXT record (``v=STSv1`` first, ``id`` required, extensions kept)."""
    pairs = parse_tag_list(text, MtaStsError, "MTA-STS")
    if not pairs or pairs[0] != ("v", "STSv1"):
        first = text.split(";", 1)[0].strip()
        raise _tag_error("v", f"MTA-STS record must start with 'v=STSv1' (got {first!r})")
    record_id: str | None = None
    extensions: list[tuple[str, str]] = []
    for tag, value in pairs[1:]:
        if tag == "id":
            if not _ID.match(value):
                raise _tag_error("id", f"MTA-STS tag 'id' must be 1..32 letters or digits (got {value!r})")
            record_id = value
        elif tag == "v":
            raise _tag_error("v", "MTA-STS tag 'v' appears more than once")
        else:
            if not is_ext_name(tag) or not is_ext_value(value):
                raise _tag_error(tag, f"MTA-STS extension {tag!r} is not valid (got {tag}={value!r})")
            extensions.append((tag, value))
    if record_id is None:
        raise _tag_error("id", "MTA-STS record has no 'id' tag")
    return MtaStsTxt(record_id, tuple(extensions))


def select(txt_values: Iterable[str]) -> str:
    """The MTA-STS record among the TXT values of ``_mta-sts.<domain>``; MtaStsError when
    there is none or several (RFC 8461 3.1: values not starting with ``v=STSv1`` are
    discarded, and unless exactly one is left there is no policy)."""
    records = [value for value in txt_values if re.match(r"v=STSv1\s*(;|\Z)", value.lstrip())]
    if not records:
        raise MtaStsError("no MTA-STS record (no TXT value starts with 'v=STSv1')")
    if len(records) > 1:
        raise MtaStsError(f"{len(records)} MTA-STS records: senders assume there is no policy (RFC 8461 3.1)")
    return records[0]


def check_served(status: int, content_type: str) -> list[Problem]:
    """Problems with how the policy was served (RFC 8461 3.3): HTTP 200 without following
    redirects, media type ``text/plain``. Codes: ``mta-sts-http-status`` (no policy),
    ``mta-sts-content-type``."""
    if status != 200:
        return [Problem("mta-sts-http-status", f"the policy must be served with HTTP 200, no redirects (got {status})")]
    media = content_type.split(";", 1)[0].strip().lower()
    if media != "text/plain":
        return [Problem("mta-sts-content-type", f"Content-Type is {content_type or 'missing'!r}, RFC 8461 requires text/plain")]
    return []


def check_txt(text: str) -> list[Problem]:
    """Problems with a ``_mta-sts`` TXT record ([] when fine); codes in ``CODES``."""
    try:
        parse_txt(text)
    except MtaStsError as exc:
        return [Problem("mta-sts-txt-syntax", str(exc), exc.tag)]
    return []


def check_policy(text: str, *, mode: str | None = None, mx_hosts: Iterable[str] = ()) -> list[Problem]:
    """Problems with a served policy ([] when fine): syntax, expected mode, MX hosts covered.

    Codes in ``CODES``.
    """
    try:
        policy = parse_policy(text)
    except MtaStsError as exc:
        return [Problem("mta-sts-policy-syntax", str(exc), exc.tag)]
    problems: list[Problem] = []
    if mode is not None and policy.mode != mode:
        problems.append(Problem("mta-sts-mode", f"MTA-STS mode is {policy.mode!r}, expected {mode!r}", "mode"))
    for host in mx_hosts:
        if not policy.matches(host):
            message = f"MTA-STS policy has no mx pattern matching MX host {normalize_host(host)!r}"
            problems.append(Problem("mta-sts-mx-not-covered", message, "mx"))
    if policy.mode == "none":
        problems.append(Problem("mta-sts-mode-none", "MTA-STS mode none: the policy is withdrawn", "mode"))
    if policy.mode == "enforce" and policy.max_age < 86400:
        message = f"MTA-STS max_age {policy.max_age} is under one day for an enforce policy"
        problems.append(Problem("mta-sts-max-age-short", message, "max_age"))
    return problems
