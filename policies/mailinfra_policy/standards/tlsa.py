"""TLSA records (RFC 6698, RFC 7671) as SMTP uses them: DANE for MX hosts (RFC 7672).

API:
    SMTP_PORT = 25; USAGES / SELECTORS / MATCHING_TYPES: number -> mnemonic
    SMTP_USAGES = (2, 3)                    # DANE-TA, DANE-EE; PKIX-TA(0)/PKIX-EE(1) are unusable for SMTP
    tlsa_name(host, port=25, protocol="tcp") -> "_25._tcp.<host>"
    parse_tlsa(text: str) -> TlsaRecord      # presentation form "3 1 1 <hex>"
    parse_rrset(texts) -> (list[TlsaRecord], list[Problem])   # a live RRset; bad records -> "tlsa-invalid"
    TlsaRecord(usage, selector, mtype, data).to_text()
    association_data(cert_der, selector, mtype) -> bytes   # what a TLSA record of that kind holds
    build_tlsa(cert_der, usage=3, selector=1, mtype=1) -> str
    check_tlsa(record) -> list[Problem]      # [] when usable for SMTP; codes: CODES
    match_chain(records, chain_der, host, now) -> (TlsaRecord | None, list[Problem])

``match_chain`` judges a server's certificate chain (leaf first, as presented after
STARTTLS) against a TLSA RRset the way an RFC 7672 client does: DANE-EE(3) matches the
leaf and ignores its names and dates (RFC 7672 3.1.1); DANE-TA(2) matches an issuer (or
the full trust-anchor certificate carried in a ``2 0 0`` record) and then the chain must
verify from that anchor to a leaf valid now for ``host`` (RFC 7672 3.1.2, 3.2).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import dns.exception
import dns.rdata
import dns.rdataclass
import dns.rdatatype
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import verification

from ._common import is_hostname, normalize_host
from .errors import Problem, TlsaError

__all__ = [
    "CODES",
    "MATCHING_TYPES",
    "SELECTORS",
    "SMTP_PORT",
    "SMTP_USAGES",
    "USAGES",
    "TlsaRecord",
    "association_data",
    "build_tlsa",
    "check_tlsa",
    "match_chain",
    "parse_rrset",
    "parse_tlsa",
    "tlsa_name",
]

SMTP_PORT = 25
USAGES = {0: "PKIX-TA", 1: "PKIX-EE", 2: "DANE-TA", 3: "DANE-EE"}
SELECTORS = {0: "Cert", 1: "SPKI"}
MATCHING_TYPES = {0: "Full", 1: "SHA2-256", 2: "SHA2-512"}
SMTP_USAGES = (2, 3)
_DIGEST_BYTES = {1: 32, 2: 64}
# Problem codes (stable: verify and reports select on them).
CODES = (
    "tlsa-invalid",  # a record that does not parse (unknown usage, selector or matching type)
    "tlsa-pkix-usage",  # usage 0/1: RFC 7672 3.1.3, clients treat the record as unusable
    "tlsa-data-length",  # digest of the wrong length for its matching type
    "tlsa-data-invalid",  # full data (matching type 0) is not a certificate / SPKI
    "tlsa-no-usable-record",  # the RRset has no record an SMTP client can use
    "tlsa-no-match",  # no usable record matches the presented chain
    "tlsa-ta-chain",  # a DANE-TA record matched, but the chain does not verify from it
)


@dataclass(frozen=True)
class TlsaRecord:
    usage: int
    selector: int
    mtype: int
    data: bytes  # the certificate association data

    def __post_init__(self) -> None:
        for field, value, known in (
            ("usage", self.usage, USAGES),
            ("selector", self.selector, SELECTORS),
            ("matching type", self.mtype, MATCHING_TYPES),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value not in known:
                allowed = ", ".join(f"{k} ({v})" for k, v in known.items())
                raise TlsaError(f"TLSA {field} must be one of {allowed} (got {value!r})")
        if not isinstance(self.data, bytes) or not self.data:
            raise TlsaError("TLSA certificate association data is empty")

    @property
    def usable_for_smtp(self) -> bool:
        return self.usage in SMTP_USAGES

    def to_text(self) -> str:
        return f"{self.usage} {self.selector} {self.mtype} {self.data.hex()}"

    def describe(self) -> str:
        """``3 1 1`` with mnemonics: ``3 1 1 (DANE-EE SPKI SHA2-256)``."""
        return (
            f"{self.usage} {self.selector} {self.mtype} "
            f"({USAGES[self.usage]} {SELECTORS[self.selector]} {MATCHING_TYPES[self.mtype]})"
        )


def tlsa_name(host: str, port: int = SMTP_PORT, protocol: str = "tcp") -> str:
    """The TLSA owner name of a service: ``_25._tcp.<host>`` for an MX host (RFC 7672 2.2.3)."""
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise TlsaError(f"TLSA port must be 1..65535 (got {port!r})")
    if protocol not in ("tcp", "udp", "sctp"):
        raise TlsaError(f"TLSA protocol must be tcp, udp or sctp (got {protocol!r})")
    if not is_hostname(host):
        raise TlsaError(f"TLSA base domain {host!r} is not a valid host name")
    return f"_{port}._{protocol}.{normalize_host(host)}"


def parse_tlsa(text: str) -> TlsaRecord:
    """One TLSA record in presentation form (``usage selector mtype hex``; the hex may hold spaces)."""
    if not isinstance(text, str):
        raise TlsaError(f"TLSA record must be a str (got {type(text).__name__})")
    try:
        rd = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TLSA, text)
    except (dns.exception.DNSException, ValueError) as exc:
        raise TlsaError(f"TLSA record {text.strip()[:80]!r} does not parse: {exc}") from None
    return TlsaRecord(int(rd.usage), int(rd.selector), int(rd.mtype), bytes(rd.cert))  # type: ignore[attr-defined]


def parse_rrset(texts: Iterable[str]) -> tuple[list[TlsaRecord], list[Problem]]:
    """The records of a live TLSA RRset; each one that does not parse is a ``tlsa-invalid``
    problem (an RFC 7672 client treats it as unusable and goes on with the others)."""
    records: list[TlsaRecord] = []
    problems: list[Problem] = []
    for text in texts:
        try:
            records.append(parse_tlsa(text))
        except TlsaError as exc:
            problems.append(Problem("tlsa-invalid", str(exc)))
    return records, problems


def _selected(cert_der: bytes, selector: int) -> bytes:
    if selector == 0:
        return cert_der
    cert = x509.load_der_x509_certificate(cert_der)
    return cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def association_data(cert_der: bytes, selector: int, mtype: int) -> bytes:
    """The association data a ``? selector mtype`` record holds for this DER certificate."""
    if selector not in SELECTORS or mtype not in MATCHING_TYPES:
        raise TlsaError(f"TLSA selector/matching type {selector} {mtype} is not known")
    try:
        content = _selected(cert_der, selector)
    except ValueError as exc:
        raise TlsaError(f"not a DER certificate: {exc}") from None
    if mtype == 1:
        return hashlib.sha256(content).digest()
    if mtype == 2:
        return hashlib.sha512(content).digest()
    return content


def build_tlsa(cert_der: bytes, usage: int = 3, selector: int = 1, mtype: int = 1) -> str:
    """A TLSA record for ``cert_der``; the default ``3 1 1`` is what RFC 7671 10.1.2 recommends."""
    record = TlsaRecord(usage, selector, mtype, association_data(cert_der, selector, mtype))
    problems = check_tlsa(record)
    if problems:
        raise TlsaError(problems[0])
    return record.to_text()


def check_tlsa(record: TlsaRecord) -> list[Problem]:
    """Problems that make one record unusable for SMTP ([] when an RFC 7672 client can use it)."""
    problems: list[Problem] = []
    if not record.usable_for_smtp:
        problems.append(
            Problem(
                "tlsa-pkix-usage",
                f"TLSA usage {record.usage} ({USAGES[record.usage]}) is unusable for SMTP: RFC 7672 3.1.3 allows "
                "only DANE-TA(2) and DANE-EE(3)",
                "usage",
            )
        )
    want = _DIGEST_BYTES.get(record.mtype)
    if want is not None and len(record.data) != want:
        problems.append(
            Problem(
                "tlsa-data-length",
                f"TLSA {MATCHING_TYPES[record.mtype]} data must be {want} bytes (got {len(record.data)})",
                "data",
            )
        )
    if record.mtype == 0:
        try:
            if record.selector == 0:
                x509.load_der_x509_certificate(record.data)
            else:
                serialization.load_der_public_key(record.data)
        except (ValueError, TypeError):
            what = "certificate" if record.selector == 0 else "SubjectPublicKeyInfo"
            problems.append(Problem("tlsa-data-invalid", f"TLSA full data is not a DER {what}", "data"))
    return problems


def _matches(record: TlsaRecord, cert_der: bytes) -> bool:
    try:
        return association_data(cert_der, record.selector, record.mtype) == record.data
    except TlsaError:
        return False


def _verify_from(
    anchor: x509.Certificate, leaf: x509.Certificate, intermediates: list[x509.Certificate], host: str, now: datetime
) -> str:
    """ "" when ``leaf`` chains to ``anchor`` and is valid now for ``host``, else the reason.

    DANE-TA is not the Web PKI: only the leaf's subjectAltName is required of the end
    entity (the reference identifier check of RFC 7672 3.2.2); CA certificates keep the
    usual basic constraints / key usage checks.
    """
    ee_policy = verification.ExtensionPolicy.permit_all().require_present(
        x509.SubjectAlternativeName, verification.Criticality.AGNOSTIC, None
    )
    builder = (
        verification.PolicyBuilder()
        .store(verification.Store([anchor]))
        .time(now)
        .extension_policies(ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(), ee_policy=ee_policy)
    )
    try:
        builder.build_server_verifier(verification.DNSName(host)).verify(leaf, intermediates)
    except verification.VerificationError as exc:
        return str(exc).split(" (encountered", 1)[0]
    except ValueError as exc:
        return str(exc)
    return ""


def match_chain(
    records: Sequence[TlsaRecord], chain_der: Sequence[bytes], host: str, now: datetime
) -> tuple[TlsaRecord | None, list[Problem]]:
    """The first usable record that authenticates ``chain_der`` (leaf first) for ``host``, and
    the problems found on the way (unusable records, a DANE-TA chain that does not verify).

    ``(None, problems)`` when nothing matches; the last problem then says why
    (``tlsa-no-usable-record`` or ``tlsa-no-match``).
    """
    problems: list[Problem] = []
    usable: list[TlsaRecord] = []
    for record in records:
        found = check_tlsa(record)
        problems.extend(found)
        if not found:
            usable.append(record)
    if not usable:
        problems.append(Problem("tlsa-no-usable-record", "no TLSA record is usable for SMTP (RFC 7672 3.1.3)"))
        return None, problems
    if not chain_der:
        problems.append(Problem("tlsa-no-match", "the server presented no certificate"))
        return None, problems
    leaf_der = chain_der[0]
    for record in usable:
        if record.usage == 3 and _matches(record, leaf_der):
            return record, problems  # DANE-EE: names and dates do not apply (RFC 7672 3.1.1)
    try:
        leaf = x509.load_der_x509_certificate(leaf_der)
        issuers = [x509.load_der_x509_certificate(der) for der in chain_der[1:]]
    except ValueError as exc:
        problems.append(Problem("tlsa-no-match", f"the server's certificate does not parse: {exc}"))
        return None, problems
    for record in usable:
        if record.usage != 2:
            continue
        anchors = [cert for cert, der in zip(issuers, chain_der[1:]) if _matches(record, der)]
        if record.selector == 0 and record.mtype == 0:
            anchors.append(x509.load_der_x509_certificate(record.data))  # the anchor itself, maybe not sent
        for anchor in anchors:
            reason = _verify_from(anchor, leaf, issuers, host, now)
            if not reason:
                return record, problems
            problems.append(
                Problem(
                    "tlsa-ta-chain",
                    f"TLSA {record.describe()} matches {anchor.subject.rfc4514_string()}, but the chain does not "
                    f"verify from it for {host}: {reason}",
                )
            )
    problems.append(
        Problem(
            "tlsa-no-match",
            f"no usable TLSA record matches the certificate chain presented by {host}",
        )
    )
    return None, problems
