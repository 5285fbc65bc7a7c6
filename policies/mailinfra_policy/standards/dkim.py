"""DKIM key records (RFC 6376 3.6.1, RFC 8463 Ed25519, RFC 8301 key sizes).

API:
    MIN_RSA_BITS = 2048            # what we publish; RFC 8301 floor for verifiers is 1024
    KEY_TYPES = ("rsa", "ed25519")
    validate_selector(selector: str) -> str                     # lowercase selector or DkimError
    dkim_name(selector: str, domain: str) -> str                # "<selector>._domainkey.<domain>"
    dkim_txt_from_public_key(key, key_type: str) -> str         # "v=DKIM1; k=rsa; p=..."
        key: cryptography public key object, PEM (str/bytes) or DER (bytes)
    parse_dkim_record(text: str) -> DkimKeyRecord               # tags, key_type, key_bits, revoked
    check_dkim(text: str, *, min_rsa_bits: int = MIN_RSA_BITS) -> list[Problem]   # codes: CODES
    is_dkim(text) -> bool; select(txt_values) -> str          # the selector's one key record, or DkimError
    easy_dkim_cname(domain: str, token: str, region: str | None = None) -> tuple[str, str, str]
        -> (name, "CNAME", target): "<token>._domainkey.<domain>" -> "<token>.<easy_dkim_domain(region)>"
    easy_dkim_target_problem(name, target, regions) -> Problem | None   # code dkim-easy-dkim-target

Errors never contain key material: a bad ``p=`` is reported by its length only.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from ._common import is_hostname, normal_selector, normalize_host, parse_tag_list
from .aws import SES_EASY_DKIM_DOMAINS, AwsError, easy_dkim_domain, is_ses_region
from .errors import DkimError, Problem

__all__ = [
    "CODES",
    "KEY_TYPES",
    "MIN_RSA_BITS",
    "DkimKeyRecord",
    "check_dkim",
    "dkim_name",
    "dkim_txt_from_public_key",
    "easy_dkim_cname",
    "easy_dkim_target_problem",
    "is_dkim",
    "parse_dkim_record",
    "select",
    "validate_selector",
]

MIN_RSA_BITS = 2048
KEY_TYPES = ("rsa", "ed25519")
# Problem codes of check_dkim and easy_dkim_target_problem (stable: policies, verify and reports select on them).
CODES = ("dkim-syntax", "dkim-revoked", "dkim-rsa-too-short", "dkim-sha1-only", "dkim-testing", "dkim-easy-dkim-target")
_HASHES = frozenset({"sha1", "sha256"})
_FLAGS = frozenset({"y", "s"})
_SERVICES = frozenset({"*", "email"})
_TOKEN = re.compile(r"[a-z0-9]{1,63}\Z")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}\Z")


@dataclass(frozen=True)
class DkimKeyRecord:
    tags: dict[str, str] = field(hash=False, repr=False)
    key_type: str  # "rsa" (default) or "ed25519"
    key_bits: int | None  # RSA modulus size, 256 for Ed25519, None when revoked
    revoked: bool  # p= empty (RFC 6376 3.6.1)
    hashes: tuple[str, ...]  # h=, empty when absent (all allowed)
    flags: tuple[str, ...]  # t=, e.g. ("y",) testing, ("s",) strict
    unknown_tags: tuple[str, ...] = ()

    @property
    def testing(self) -> bool:
        return "y" in self.flags


def validate_selector(selector: str) -> str:
    """A DKIM selector: dot-separated LDH labels (RFC 6376 3.1). Returns it lowercased."""
    if not isinstance(selector, str) or not selector:
        raise DkimError(f"DKIM selector must be a non-empty str (got {selector!r})")
    lowered = normal_selector(selector)
    if lowered is None:
        raise DkimError(f"DKIM selector {selector!r} is not valid: use letters, digits and inner hyphens")
    return lowered


def dkim_name(selector: str, domain: str) -> str:
    """Owner name of a DKIM key record, ``<selector>._domainkey.<domain>``."""
    name = f"{validate_selector(selector)}._domainkey.{normalize_host(domain)}"
    if not is_hostname(name, allow_underscore=True):
        raise DkimError(f"DKIM record name {name!r} is not a valid DNS name")
    return name


def _load_public_key(key: object) -> rsa.RSAPublicKey | ed25519.Ed25519PublicKey:
    if hasattr(key, "private_bytes"):
        raise DkimError("DKIM record needs the public key, got a private key")
    if isinstance(key, str):
        key = key.encode("ascii", errors="replace")
    if isinstance(key, bytes):
        if b"PRIVATE KEY" in key:
            raise DkimError("DKIM record needs the public key, got a private key")
        data = key
        try:
            if data.lstrip().startswith(b"-----BEGIN"):
                key = serialization.load_pem_public_key(data)
            else:
                key = serialization.load_der_public_key(data)
        except (ValueError, TypeError, binascii.Error):
            raise DkimError(f"DKIM public key could not be loaded ({len(data)} bytes, not a PEM or DER public key)") from None
    if isinstance(key, (rsa.RSAPublicKey, ed25519.Ed25519PublicKey)):
        return key
    if hasattr(key, "public_bytes"):
        raise DkimError(f"DKIM supports RSA and Ed25519 keys only (got {type(key).__name__})")
    raise DkimError(f"DKIM public key must be a key object, PEM or DER (got {type(key).__name__})")


def dkim_txt_from_public_key(key: object, key_type: str) -> str:
    """The DKIM key record for ``key``: ``v=DKIM1; k=rsa; p=<base64 SPKI DER>``.

    RSA keys must have at least 2048 bits. Ed25519 (RFC 8463) publishes the raw
    32-byte key: ``v=DKIM1; k=ed25519; p=<base64>``.
    """
    if key_type not in KEY_TYPES:
        raise DkimError(f"DKIM key type must be one of {', '.join(KEY_TYPES)} (got {key_type!r})")
    public = _load_public_key(key)
    if key_type == "rsa":
        if not isinstance(public, rsa.RSAPublicKey):
            raise DkimError(f"DKIM key type 'rsa' does not match the key ({type(public).__name__})")
        if public.key_size < MIN_RSA_BITS:
            raise DkimError(f"DKIM RSA key is {public.key_size} bits; at least {MIN_RSA_BITS} required")
        raw = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    else:
        if not isinstance(public, ed25519.Ed25519PublicKey):
            raise DkimError(f"DKIM key type 'ed25519' does not match the key ({type(public).__name__})")
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return f"v=DKIM1; k={key_type}; p={base64.b64encode(raw).decode('ascii')}"


def _colon_list(value: str, tag: str, allowed: frozenset[str]) -> tuple[str, ...]:
    items = tuple(item.strip().lower() for item in value.split(":"))
    for item in items:
        if item not in allowed:
            raise _tag_error(tag, f"DKIM tag '{tag}' has unknown value {item!r} (allowed: {', '.join(sorted(allowed))})")
    return items


def _key_bits(key_type: str, data: bytes) -> int:
    if key_type == "ed25519":
        if len(data) != 32:
            raise _tag_error("p", f"DKIM tag 'p': Ed25519 key must be 32 bytes (got {len(data)})")
        return 256
    try:
        public = serialization.load_der_public_key(data)
    except (ValueError, TypeError):
        raise _tag_error("p", f"DKIM tag 'p': not an RSA public key ({len(data)} bytes of DER)") from None
    if not isinstance(public, rsa.RSAPublicKey):
        raise _tag_error("p", f"DKIM tag 'p': key type 'rsa' but the key is {type(public).__name__}")
    return public.key_size


def _tag_error(tag: str, message: str) -> DkimError:
    error = DkimError(message)
    error.tag = tag
    return error


def parse_dkim_record(text: str) -> DkimKeyRecord:
    """Parse a DKIM key record strictly (unknown tags are ignored per RFC 6376, and listed).

    A DkimError about one tag names it in ``tag``.
    """
    pairs = parse_tag_list(text, DkimError, "DKIM")
    tags = dict(pairs)
    if "v" in tags:
        if pairs[0][0] != "v":
            raise _tag_error("v", "DKIM tag 'v' must be the first tag")
        if tags["v"] != "DKIM1":
            raise _tag_error("v", f"DKIM tag 'v' must be 'DKIM1' (got {tags['v']!r})")
    if "p" not in tags:
        raise _tag_error("p", "DKIM record has no 'p' tag (public key)")
    key_type = tags.get("k", "rsa").lower()
    if key_type not in KEY_TYPES:
        raise _tag_error("k", f"DKIM tag 'k' has unknown key type {tags.get('k')!r} (allowed: rsa, ed25519)")
    hashes = _colon_list(tags["h"], "h", _HASHES) if "h" in tags else ()
    flags = _colon_list(tags["t"], "t", _FLAGS) if "t" in tags else ()
    if "s" in tags:
        _colon_list(tags["s"], "s", _SERVICES)
    compact = re.sub(r"\s+", "", tags["p"])
    revoked = compact == ""
    bits: int | None = None
    if not revoked:
        if not _BASE64.match(compact) or len(compact) % 4:
            raise _tag_error("p", f"DKIM tag 'p' is not valid base64 ({len(compact)} characters)")
        bits = _key_bits(key_type, base64.b64decode(compact))
    known = {"v", "h", "k", "n", "p", "s", "t"}
    unknown = tuple(name for name, _ in pairs if name not in known)
    return DkimKeyRecord(tags, key_type, bits, revoked, hashes, flags, unknown)


def check_dkim(text: str, *, min_rsa_bits: int = MIN_RSA_BITS) -> list[Problem]:
    """Problems with a published DKIM key record ([] when fine); codes in ``CODES``."""
    try:
        record = parse_dkim_record(text)
    except DkimError as exc:
        return [Problem("dkim-syntax", str(exc), exc.tag)]
    problems: list[Problem] = []
    if record.revoked:
        problems.append(Problem("dkim-revoked", "DKIM key is revoked (empty 'p=')", "p"))
    elif record.key_type == "rsa" and record.key_bits is not None and record.key_bits < min_rsa_bits:
        message = f"DKIM RSA key is {record.key_bits} bits; at least {min_rsa_bits} required"
        problems.append(Problem("dkim-rsa-too-short", message, "p"))
    if record.hashes == ("sha1",):
        message = "DKIM tag 'h' allows only sha1, which RFC 8301 forbids for signing"
        problems.append(Problem("dkim-sha1-only", message, "h"))
    if record.testing:
        message = "DKIM tag 't=y': the domain is testing DKIM, verifiers may ignore failures"
        problems.append(Problem("dkim-testing", message, "t"))
    return problems


def is_dkim(text: str) -> bool:
    """Does this TXT value claim to be a DKIM key record: ``v=DKIM1`` first, or (``v`` is
    optional, RFC 6376 3.6.1) a tag list with a ``p`` tag?"""
    if not isinstance(text, str):
        return False
    head = text.lstrip()
    if re.match(r"v\s*=", head):
        return re.match(r"v\s*=\s*DKIM1\s*(;|\Z)", head) is not None
    return re.search(r"(?:\A|;)\s*p\s*=", head) is not None


def select(txt_values: Iterable[str]) -> str:
    """The DKIM key record among a selector's TXT values; DkimError when there is none,
    or several (RFC 6376 3.6.2.2: the result is then undefined)."""
    records = [value for value in txt_values if is_dkim(value)]
    if not records:
        raise DkimError("no DKIM key record (no TXT value with 'v=DKIM1' or a 'p=' tag)")
    if len(records) > 1:
        raise DkimError(f"{len(records)} DKIM key records at one selector: verifiers may use any (RFC 6376 3.6.2.2)")
    return records[0]


def easy_dkim_cname(domain: str, token: str, region: str | None = None) -> tuple[str, str, str]:
    """One SES Easy DKIM record: (``<token>._domainkey.<domain>``, ``"CNAME"``, target).

    The target is ``<token>.<easy_dkim_domain(region)>`` (standards/aws.py, from the AWS
    General Reference's table): ``dkim.amazonses.com`` or ``dkim.<region>.amazonses.com``.
    """
    if not isinstance(token, str) or not _TOKEN.match(token.lower()):
        raise DkimError(f"Easy DKIM token {token!r} is not valid: letters and digits, 1..63 characters")
    token = token.lower()
    try:
        suffix = easy_dkim_domain(region)
    except AwsError as exc:
        raise DkimError(str(exc)) from None
    return dkim_name(token, domain), "CNAME", f"{token}.{suffix}"


_SES_DKIM_DOMAINS = frozenset(SES_EASY_DKIM_DOMAINS.values())


def easy_dkim_target_problem(name: str, target: str, regions: Iterable[str]) -> Problem | None:
    """The problem of an Easy DKIM CNAME ``name`` -> ``target`` of a domain whose SES
    identities are in ``regions``: SES publishes the key at ``easy_dkim_cname(domain, token,
    region)`` for one of them, so any other target under an SES DKIM domain never verifies
    (code ``dkim-easy-dkim-target``).

    None when the target is right, when it is under no SES Easy DKIM domain (another
    provider's DKIM CNAME), when ``name`` is not ``<token>._domainkey.<domain>``, or when
    no region is an SES region (nothing decides).
    """
    owner, sep, domain = normalize_host(name).partition("._domainkey.")
    head, _, suffix = normalize_host(target).partition(".")
    ses = sorted({r for r in regions if is_ses_region(r)})
    if not sep or "." in owner or suffix not in _SES_DKIM_DOMAINS or not ses:
        return None
    try:
        expected = sorted({easy_dkim_cname(domain, owner, region)[2] for region in ses})
    except DkimError as exc:  # not an SES token (SES never signs under this name)
        return Problem("dkim-easy-dkim-target", f"Easy DKIM CNAME {name} -> {target}: {exc}", "CNAME")
    if f"{head}.{suffix}" in expected:
        return None
    return Problem(
        "dkim-easy-dkim-target",
        f"Easy DKIM CNAME {name} points at {target}; SES in {', '.join(ses)} publishes the key at "
        f"{' or '.join(expected)} (AWS General Reference, Easy DKIM domains)",
        "CNAME",
    )
