"""DNSSEC authentication of the answers DANE relies on (RFC 4035 validation, RFC 7672 2.1).

Two ways to trust an answer, chosen by the user:
- ``--trust-anchor FILE`` (repeatable): DS or DNSKEY records in presentation form for a
  zone. Answers at or below that zone are validated here with dnspython
  (``dns.dnssec.validate``): the zone's DNSKEY RRset must be signed by a key the anchor
  names, and the answer by that DNSKEY RRset. A signer below the anchor is reached
  through signed DS records, one delegation at a time.
- ``--dnssec-ad-trusted``: the resolver is a validating one reached over a trusted path
  (localhost, or a stub resolver on the same host), so its AD bit is believed.

An answer is ``secure`` (authenticated), ``bogus`` (a trust anchor covers it but it does
not validate: unsigned, bad or expired signatures, keys that do not match), or
``insecure`` (nothing to authenticate it with). Authenticated denial (NSEC/NSEC3) is not
checked: verify reports a missing TLSA the same way whether or not its absence is proven.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import dns.dnssec
import dns.exception
import dns.flags
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zonefile

from .errors import VerifyInputError
from .resolver import DnsAnswer, DnsClient

__all__ = ["Authenticated", "TrustAnchors", "Validator", "load_trust_anchors"]


@dataclass(frozen=True)
class TrustAnchors:
    """Zone -> the DS and DNSKEY records given for it."""

    ds: dict[dns.name.Name, list[dns.rdata.Rdata]] = field(default_factory=dict)
    dnskey: dict[dns.name.Name, list[dns.rdata.Rdata]] = field(default_factory=dict)

    @property
    def zones(self) -> set[dns.name.Name]:
        return set(self.ds) | set(self.dnskey)

    def covering(self, name: dns.name.Name) -> dns.name.Name | None:
        """The deepest anchored zone at or above ``name``."""
        found = [z for z in self.zones if name.is_subdomain(z)]
        return max(found, key=len) if found else None


def load_trust_anchors(paths: Sequence[str]) -> TrustAnchors:
    """Read ``--trust-anchor`` files: DS / DNSKEY records in zone-file presentation form
    (absolute owner names; TTL and class optional). VerifyInputError names the file."""
    anchors = TrustAnchors()
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise VerifyInputError(f"--trust-anchor: cannot read {path!r}: {reason}") from None
        try:
            rrsets = dns.zonefile.read_rrsets(text, rdclass=None, default_ttl=0)
        except (dns.exception.DNSException, ValueError) as exc:
            raise VerifyInputError(f"--trust-anchor: {path!r} is not DS/DNSKEY presentation form: {exc}") from None
        if not rrsets:
            raise VerifyInputError(f"--trust-anchor: {path!r} holds no DS or DNSKEY record")
        for rrset in rrsets:
            if rrset.rdtype == dns.rdatatype.DS:
                anchors.ds.setdefault(rrset.name, []).extend(rrset)
            elif rrset.rdtype == dns.rdatatype.DNSKEY:
                anchors.dnskey.setdefault(rrset.name, []).extend(rrset)
            else:
                kind = dns.rdatatype.to_text(rrset.rdtype)
                raise VerifyInputError(f"--trust-anchor: {path!r} holds a {kind} record at {rrset.name}; only DS or DNSKEY")
    return anchors


@dataclass(frozen=True)
class Authenticated:
    answer: DnsAnswer
    status: str  # "secure" | "insecure" | "bogus" (meaningful when answer.ok)
    how: str = ""  # how it was authenticated, or why not

    @property
    def secure(self) -> bool:
        return self.status == "secure"


class _Bogus(Exception):
    pass


def _rrsig(answer: DnsAnswer) -> dns.rrset.RRset:
    assert answer.rrset is not None
    response = answer.response
    if response is None:
        raise _Bogus(f"no signatures over {answer.rdtype} {answer.name} (no response kept)")
    try:
        return response.find_rrset(
            response.answer, answer.rrset.name, dns.rdataclass.IN, dns.rdatatype.RRSIG, answer.rrset.rdtype
        )
    except KeyError:
        raise _Bogus(f"{answer.rdtype} {answer.name} is not signed (no RRSIG)") from None


class Validator:
    """Authenticates answers for one verify run (zone keys are fetched and validated once)."""

    def __init__(self, client: DnsClient, anchors: TrustAnchors | None, ad_trusted: bool, now: float) -> None:
        self.client = client
        self.anchors = anchors or TrustAnchors()
        self.ad_trusted = ad_trusted
        self.now = now
        self._keys: dict[dns.name.Name, asyncio.Task[dns.rrset.RRset]] = {}

    @property
    def enabled(self) -> bool:
        """True when the user gave verify a way to authenticate answers."""
        return bool(self.anchors.zones) or self.ad_trusted

    async def authenticate(self, name: str, rdtype: str) -> Authenticated:
        answer = await self.client.query(name, rdtype, dnssec=True)
        if not answer.ok or answer.rrset is None:
            return Authenticated(answer, "insecure", answer.describe())
        owner = answer.rrset.name
        anchor = self.anchors.covering(owner)
        if anchor is not None:
            try:
                signer = await self._validate(answer)
            except _Bogus as exc:
                return Authenticated(answer, "bogus", str(exc))
            return Authenticated(answer, "secure", f"validated: signed by {signer}, trust anchor {anchor}")
        if self.ad_trusted:
            response = answer.response
            if response is not None and response.flags & dns.flags.AD:
                return Authenticated(answer, "secure", "AD bit set by the validating resolver")
            return Authenticated(answer, "bogus" if response is not None else "insecure", "the resolver did not set the AD bit")
        return Authenticated(
            answer, "insecure", f"no --trust-anchor covers {owner.to_text(omit_final_dot=True)} and --dnssec-ad-trusted is off"
        )

    async def _validate(self, answer: DnsAnswer, *, by_parent: bool = False) -> dns.name.Name:
        """Validate ``answer`` up to a trust anchor; returns the signer. Raises _Bogus.

        ``by_parent``: a DS RRset, which the parent zone signs (never the zone itself).
        """
        assert answer.rrset is not None
        sigs = _rrsig(answer)
        signers = {rd.signer for rd in sigs}  # type: ignore[attr-defined]
        signer = next(iter(signers))
        owner = answer.rrset.name
        if len(signers) != 1 or not owner.is_subdomain(signer) or (by_parent and signer == owner):
            raise _Bogus(f"{answer.rdtype} {answer.name}: signer {signer} may not sign it")
        keys = await self.zone_keys(signer)
        self._check(answer.rrset, sigs, signer, keys, f"{answer.rdtype} {answer.name}")
        return signer

    def _check(
        self, rrset: dns.rrset.RRset, sigs: dns.rrset.RRset, zone: dns.name.Name, keys: Iterable[dns.rdata.Rdata], what: str
    ) -> None:
        key_rrset = dns.rrset.RRset(zone, dns.rdataclass.IN, dns.rdatatype.DNSKEY)
        for key in keys:
            key_rrset.add(key)
        try:
            dns.dnssec.validate(rrset, sigs, {zone: key_rrset}, now=self.now)
        except dns.dnssec.ValidationFailure as exc:
            raise _Bogus(f"{what}: signature does not validate ({exc})") from None

    async def zone_keys(self, zone: dns.name.Name) -> dns.rrset.RRset:
        """The validated DNSKEY RRset of ``zone`` (fetched once per run). Raises _Bogus."""
        task = self._keys.get(zone)
        if task is None:
            task = asyncio.ensure_future(self._zone_keys(zone))
            self._keys[zone] = task
        return await asyncio.shield(task)

    async def _zone_keys(self, zone: dns.name.Name) -> dns.rrset.RRset:
        # Each step goes to a strict parent (``by_parent``), so the walk ends at an anchor.
        where = zone.to_text(omit_final_dot=True)
        if zone in self.anchors.zones:
            return await self._anchored_keys(zone)
        if self.anchors.covering(zone) is None:
            raise _Bogus(f"the signer {where} is outside every trust anchor")
        ds = await self.client.query(where, "DS", dnssec=True)
        if not ds.ok or ds.rrset is None:
            raise _Bogus(f"no DS for {where} ({ds.describe()}): the chain of trust stops at its parent")
        await self._validate(ds, by_parent=True)
        return await self._keys_matching(zone, list(ds.rrset), [])

    async def _anchored_keys(self, zone: dns.name.Name) -> dns.rrset.RRset:
        return await self._keys_matching(zone, self.anchors.ds.get(zone, []), self.anchors.dnskey.get(zone, []))

    async def _keys_matching(
        self, zone: dns.name.Name, ds_set: list[dns.rdata.Rdata], dnskey_set: list[dns.rdata.Rdata]
    ) -> dns.rrset.RRset:
        """``zone``'s DNSKEY RRset, validated by a key that a DS in ``ds_set`` or a key in
        ``dnskey_set`` names."""
        where = zone.to_text(omit_final_dot=True)
        answer = await self.client.query(where, "DNSKEY", dnssec=True)
        if answer.status == "error":
            raise _Bogus(f"DNSKEY {where}: {answer.reason}")
        if not answer.ok or answer.rrset is None:
            raise _Bogus(f"no DNSKEY at {where} ({answer.describe()})")
        trusted = [key for key in answer.rrset if key in dnskey_set or any(_ds_matches(zone, key, ds) for ds in ds_set)]
        if not trusted:
            raise _Bogus(f"no DNSKEY of {where} matches its DS / trust anchor")
        sigs = _rrsig(answer)
        self._check(answer.rrset, sigs, zone, trusted, f"DNSKEY {where}")
        return answer.rrset


def _ds_matches(zone: dns.name.Name, key: dns.rdata.Rdata, ds: dns.rdata.Rdata) -> bool:
    try:
        made = dns.dnssec.make_ds(zone, key, ds.digest_type, validating=True)  # type: ignore[attr-defined]
    except (dns.dnssec.UnsupportedAlgorithm, dns.dnssec.DeniedByPolicy, ValueError):
        return False
    return made == ds
