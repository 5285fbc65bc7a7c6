"""What the first ``pulumi up`` changes, record by record, and whom it would cut off.

Each declared DNS record (read from the plan by ``mailinfra/dnsplan.py``) is compared
with the live record set at its name and type: ``added`` (nothing live), ``unchanged``
(the same values), ``replaced`` (the live values give way to the declared ones), or
``unknown`` (the name or values are known only after deploy, or DNS did not answer).

A replacement that drops a live SPF term, a DMARC report destination or another
purpose's TXT value is a :class:`Loss`, naming the sender (:mod:`.senders`) and the term.
``mailinfra plan --live`` turns each loss into a ``live-sender-preserved`` violation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from mailinfra.policies.mailinfra_policy.standards import dmarc, spf
from mailinfra.policies.mailinfra_policy.standards.errors import StandardError

from ..dnsplan import DeclaredRecord
from . import senders
from .live import LiveSet, normalize_value

__all__ = ["Change", "Loss", "compare", "dmarc_losses", "questions", "spf_losses"]


@dataclass(frozen=True)
class Loss:
    name: str  # owner name of the record
    kind: str  # "spf" | "dmarc" | "txt"
    term: str  # the live term / tag / value that would go
    sender: str  # who it belongs to

    @property
    def message(self) -> str:
        if self.kind == "spf":
            return (
                f"{self.name}: the declared SPF drops '{self.term}': {self.sender} would fail SPF "
                "(and DMARC, for its mail that relies on SPF)"
            )
        if self.kind == "dmarc":
            return f"{self.name}: the declared DMARC drops '{self.term}': {self.sender} would stop receiving DMARC reports"
        return f"{self.name}: the declared TXT drops '{self.term}' ({self.sender}'s record)"

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "kind": self.kind, "term": self.term, "sender": self.sender, "message": self.message}


@dataclass(frozen=True)
class Change:
    name: str
    type: str
    status: str  # "added" | "replaced" | "unchanged" | "unknown"
    urn: str
    provider: str
    live: tuple[str, ...] = ()
    declared: tuple[str, ...] | None = None
    losses: tuple[Loss, ...] = ()
    note: str = ""

    @property
    def exists(self) -> bool:
        """A live record this declared resource would take over (import it first)."""
        return self.status in ("replaced", "unchanged")

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "type": self.type,
            "status": self.status,
            "urn": self.urn,
            "live": list(self.live),
            "declared": None if self.declared is None else list(self.declared),
            "losses": [loss.to_dict() for loss in self.losses],
            "note": self.note,
        }


def _terms(text: str | None) -> dict[str, spf.SpfMechanism | spf.SpfModifier]:
    """SPF terms that authorise someone, keyed by their canonical text ('all' and exp= excluded)."""
    if text is None:
        return {}
    try:
        record = spf.parse_spf(text)
    except StandardError:
        return {}
    out: dict[str, spf.SpfMechanism | spf.SpfModifier] = {}
    for term in record.terms:
        if isinstance(term, spf.SpfMechanism) and term.name == "all":
            continue
        if isinstance(term, spf.SpfModifier) and term.name != "redirect":
            continue
        if isinstance(term, spf.SpfMechanism) and term.qualifier == "-":
            continue  # a fail term authorises nobody
        key = str(term).lower().lstrip("+")
        out[key] = term
    return out


def spf_losses(name: str, live: str | None, declared: str | None) -> list[Loss]:
    """Every live SPF term that authorises a sender and that the declared record lacks."""
    have = _terms(declared)
    return [Loss(name, "spf", key, senders.sender_of_term(term)) for key, term in _terms(live).items() if key not in have]


def _dmarc_uris(text: str | None) -> list[tuple[str, str]]:
    if text is None:
        return []
    try:
        record = dmarc.parse_dmarc(text, strict=False)
    except StandardError:
        return []
    return [("rua", u) for u in record.rua] + [("ruf", u) for u in record.ruf]


def dmarc_losses(name: str, live: str | None, declared: str | None) -> list[Loss]:
    have = {(t, u.lower()) for t, u in _dmarc_uris(declared)}
    return [
        Loss(name, "dmarc", f"{tag}={uri}", senders.report_service(uri))
        for tag, uri in _dmarc_uris(live)
        if (tag, uri.lower()) not in have
    ]


def _one(select: object, values: Iterable[str]) -> str | None:
    try:
        return select(list(values))  # type: ignore[operator, no-any-return]
    except StandardError:
        return None


def questions(declared: Iterable[DeclaredRecord]) -> list[tuple[str, str]]:
    return [(r.name, r.type) for r in declared if r.name is not None]


def _losses(name: str, rtype: str, live: Sequence[str], declared: Sequence[str], whole_set: bool) -> list[Loss]:
    if rtype != "TXT":
        return []
    out: list[Loss] = []
    live_spf, declared_spf = _one(spf.select, live), _one(spf.select, declared)
    if live_spf is not None and (whole_set or declared_spf is not None):
        out += spf_losses(name, live_spf, declared_spf)
    if name.startswith("_dmarc."):
        live_dmarc, declared_dmarc = _one(dmarc.select, live), _one(dmarc.select, declared)
        if live_dmarc is not None and (whole_set or declared_dmarc is not None):
            out += dmarc_losses(name, live_dmarc, declared_dmarc)
    if whole_set:  # Route53: one record set per name and type - the rest of it goes too
        kept = set(declared)
        for value in live:
            if value not in kept and not spf.is_spf(value) and not dmarc.is_dmarc(value):
                out.append(Loss(name, "txt", value, senders.txt_owner(value)))
    return out


def _txt_kind(value: str) -> str:
    """Which standard's record a TXT value is (its version tag), for one-record-per-value providers."""
    if spf.is_spf(value):
        return "spf"
    if dmarc.is_dmarc(value):
        return "dmarc"
    head = value.split(";", 1)[0].replace(" ", "").lower()
    return head if head in ("v=stsv1", "v=tlsrptv1", "v=bimi1", "v=dkim1") else "other"


def compare(declared: Iterable[DeclaredRecord], sets: Mapping[tuple[str, str], LiveSet]) -> list[Change]:
    """One :class:`Change` per declared record, in the plan's order."""
    out: list[Change] = []
    for r in declared:
        name = r.name or "(known after deploy)"
        if r.name is None:
            out.append(Change(name, r.type, "unknown", r.urn, r.provider, note="known only after deploy"))
            continue
        live = sets.get((r.name, r.type))
        if r.values is None:  # an alias, or values from deploy: what matters is whether a set exists
            if live is not None and live.exists:
                note = "values known only after deploy"
                out.append(Change(r.name, r.type, "replaced", r.urn, r.provider, live.values, None, note=note))
            else:
                out.append(
                    Change(
                        r.name, r.type, "added" if live is not None and live.status != "error" else "unknown", r.urn, r.provider
                    )
                )
            continue
        values = tuple(normalize_value(r.type, v) for v in r.values)
        if live is None or live.status == "error":
            reason = live.reason if live is not None else "not read"
            out.append(Change(name, r.type, "unknown", r.urn, r.provider, declared=values, note=f"could not read: {reason}"))
            continue
        whole_set = r.provider == "route53"  # Cloudflare: one record per value, the others stay
        mine: tuple[str, ...] = live.values
        if not whole_set and r.type == "TXT":
            # the live record this resource would take over: the one of the same kind
            kind = _txt_kind(values[0])
            same = [v for v in live.values if _txt_kind(v) == kind]
            mine = tuple(v for v in same if v in values) or tuple(same[:1] if kind != "other" else ())
        if not mine:
            status = "added"
        elif sorted(mine) == sorted(values):
            status = "unchanged"
        else:
            status = "replaced"
        losses = _losses(r.name, r.type, mine, values, whole_set) if status == "replaced" else []
        out.append(Change(r.name, r.type, status, r.urn, r.provider, mine, values, tuple(losses)))
    return out


@dataclass
class Summary:
    counts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, changes: Iterable[Change]) -> Summary:
        counts = {"added": 0, "replaced": 0, "unchanged": 0, "unknown": 0}
        for c in changes:
            counts[c.status] = counts.get(c.status, 0) + 1
        return cls(counts)
