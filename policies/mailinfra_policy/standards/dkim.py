"""DKIM key records (RFC 6376 3.6.1, RFC 8463 Ed25519, RFC 8301 key sizes).

API:
    MIN_RSA_BITS = 2048            # what we publish; RFC 8301 floor for verifiers is 1024
    KEY_TYPES = ("rsa", "ed25519")
    validate_selector(selector: str) -> str                     # lowercase selector or DkimError
    dkim_name(selector: str, domain: str) -> str                # "<selector>._domainkey.<domain>"
    dkim_txt_from_public_key(key, key_type: str) -> str         # "v=DKIM1; k=rsa; p=..."
        key: cryptography public key object, PEM (str/bytes) or DER (bytes)
    parse_dkim_record(text: str) -> DkimKeyRecord               # tags, key_type, key_bits, revoked
    check_dkim(text: str, *, min_rsa_bits: int = MIN_RSA_BITS) -> list[str]
    is_aws_region(region) -> bool
    easy_dkim_cname(domain: str, token: str, region: str | None = None) -> tuple[str, str, str]
        -> (name, "CNAME", target): "<token>._domainkey.<domain>" -> "<token>.dkim.amazonses.com"

Errors never contain key material: a bad ``p=`` is reported by its length only.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from ._common import is_hostname, normalize_host, parse_tag_list
from .errors import DkimError

__all__ = [
    "KEY_TYPES",
    "MIN_RSA_BITS",
    "REGIONAL_DKIM_REGIONS",
    "DkimKeyRecord",
    "check_dkim",
    "dkim_name",
    "dkim_txt_from_public_key",
    "easy_dkim_cname",
    "is_aws_region",
    "parse_dkim_record",
    "validate_selector",
]

MIN_RSA_BITS = 2048
KEY_TYPES = ("rsa", "ed25519")
_HASHES = frozenset({"sha1", "sha256"})
_FLAGS = frozenset({"y", "s"})
_SERVICES = frozenset({"*", "email"})
_SELECTOR_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")
_TOKEN = re.compile(r"[a-z0-9]{1,63}\Z")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}\Z")
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d\Z")

# SES regions whose Easy DKIM CNAMEs point at dkim.<region>.amazonses.com (opt-in
# regions); every other region uses dkim.amazonses.com. Extend when AWS adds one.
REGIONAL_DKIM_REGIONS = frozenset(
    {"af-south-1", "ap-northeast-3", "ap-southeast-3", "eu-south-1", "il-central-1", "me-central-1"}
)


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
    lowered = selector.lower()
    if len(lowered) > 63 * 3 or not all(_SELECTOR_LABEL.match(label) for label in lowered.split(".")):
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
            raise DkimError(
                f"DKIM public key could not be loaded ({len(data)} bytes, not a PEM or DER public key)"
            ) from None
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
            raise DkimError(f"DKIM tag '{tag}' has unknown value {item!r} (allowed: {', '.join(sorted(allowed))})")
    return items


def _key_bits(key_type: str, data: bytes) -> int:
    if key_type == "ed25519":
        if len(data) != 32:
            raise DkimError(f"DKIM tag 'p': Ed25519 key must be 32 bytes (got {len(data)})")
        return 256
    try:
        public = serialization.load_der_public_key(data)
    except (ValueError, TypeError):
        raise DkimError(f"DKIM tag 'p': not an RSA public key ({len(data)} bytes of DER)") from None
    if not isinstance(public, rsa.RSAPublicKey):
        raise DkimError(f"DKIM tag 'p': key type 'rsa' but the key is {type(public).__name__}")
    return public.key_size


def parse_dkim_record(text: str) -> DkimKeyRecord:
    """Parse a DKIM key record strictly (unknown tags are ignored per RFC 6376, and listed)."""
    pairs = parse_tag_list(text, DkimError, "DKIM")
    tags = dict(pairs)
    if "v" in tags:
        if pairs[0][0] != "v":
            raise DkimError("DKIM tag 'v' must be the first tag")
        if tags["v"] != "DKIM1":
            raise DkimError(f"DKIM tag 'v' must be 'DKIM1' (got {tags['v']!r})")
    if "p" not in tags:
        raise DkimError("DKIM record has no 'p' tag (public key)")
    key_type = tags.get("k", "rsa").lower()
    if key_type not in KEY_TYPES:
        raise DkimError(f"DKIM tag 'k' has unknown key type {tags.get('k')!r} (allowed: rsa, ed25519)")
    hashes = _colon_list(tags["h"], "h", _HASHES) if "h" in tags else ()
    flags = _colon_list(tags["t"], "t", _FLAGS) if "t" in tags else ()
    if "s" in tags:
        _colon_list(tags["s"], "s", _SERVICES)
    compact = re.sub(r"\s+", "", tags["p"])
    revoked = compact == ""
    bits: int | None = None
    if not revoked:
        if not _BASE64.match(compact) or len(compact) % 4:
            raise DkimError(f"DKIM tag 'p' is not valid base64 ({len(compact)} characters)")
        bits = _key_bits(key_type, base64.b64decode(compact))
    known = {"v", "h", "k", "n", "p", "s", "t"}
    unknown = tuple(name for name, _ in pairs if name not in known)
    return DkimKeyRecord(tags, key_type, bits, revoked, hashes, flags, unknown)


def check_dkim(text: str, *, min_rsa_bits: int = MIN_RSA_BITS) -> list[str]:
    """Problems with a published DKIM key record ([] when fine)."""
    try:
        record = parse_dkim_record(text)
    except DkimError as exc:
        return [str(exc)]
    problems: list[str] = []
    if record.revoked:
        problems.append("DKIM key is revoked (empty 'p=')")
    elif record.key_type == "rsa" and record.key_bits is not None and record.key_bits < min_rsa_bits:
        problems.append(f"DKIM RSA key is {record.key_bits} bits; at least {min_rsa_bits} required")
    if record.hashes == ("sha1",):
        problems.append("DKIM tag 'h' allows only sha1, which RFC 8301 forbids for signing")
    if record.testing:
        problems.append("DKIM tag 't=y': the domain is testing DKIM, verifiers may ignore failures")
    return problems


def is_aws_region(region: object) -> bool:
    """True for an AWS region name such as ``eu-west-1`` or ``us-gov-west-1``."""
    return isinstance(region, str) and bool(_REGION.match(region))


def easy_dkim_cname(domain: str, token: str, region: str | None = None) -> tuple[str, str, str]:
    """One SES Easy DKIM record: (``<token>._domainkey.<domain>``, ``"CNAME"``, target).

    The target is ``<token>.dkim.amazonses.com``, or ``<token>.dkim.<region>.amazonses.com``
    for the regions in ``REGIONAL_DKIM_REGIONS``.
    """
    if not isinstance(token, str) or not _TOKEN.match(token.lower()):
        raise DkimError(f"Easy DKIM token {token!r} is not valid: letters and digits, 1..63 characters")
    token = token.lower()
    if region is not None and not is_aws_region(region):
        raise DkimError(f"AWS region {region!r} is not valid")
    name = dkim_name(token, domain)
    suffix = f"dkim.{region}.amazonses.com" if region in REGIONAL_DKIM_REGIONS else "dkim.amazonses.com"
    return name, "CNAME", f"{token}.{suffix}"
