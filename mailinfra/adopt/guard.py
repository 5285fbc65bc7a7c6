"""``mailinfra plan --live``: the declared SPF / DMARC records against what is live.

A declared record that would drop a live sender's authorisation (an SPF term, a DMARC
report destination, another purpose's TXT in the same Route53 record set) is a
``live-sender-preserved`` violation naming the sender and the term: mandatory in prod,
advisory elsewhere. Read through verify's resolver, so ``--nameserver`` works the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..dnsplan import declared_records
from ..policyrun import Violation
from ..render import plan_to_dict
from ..verify.resolver import DnsClient
from .changes import Change, compare, questions
from .live import read_sets

__all__ = ["POLICY", "live_changes", "live_violations"]

POLICY = "live-sender-preserved"
DESCRIPTION = "A declared SPF or DMARC record keeps every live sender's authorisation (checked against live DNS)."
REMEDIATION = (
    "Keep the term: add the include or network under spf (includes, ip4, ip6), the destination under dmarc.rua/ruf, "
    "the TXT under otherTxt - `mailinfra adopt --domain NAME` writes them - or remove the sender on purpose first."
)


def live_changes(plan: Any, client: DnsClient, domain: str | None = None) -> list[Change]:
    """The record-by-record comparison of a plan's DNS records (all, or ``domain``'s) with live."""
    declared = declared_records(plan_to_dict(plan))
    if domain is not None:
        d = domain.rstrip(".").lower()
        declared = [r for r in declared if r.name is None or r.name == d or r.name.endswith("." + d)]
    sets = read_sets(client, questions(declared))
    return compare(declared, sets)


def live_violations(plan: Any, client: DnsClient, environment: str) -> list[Violation]:
    by_urn = {r.urn: r for r in plan.resources}
    out: list[Violation] = []
    for change in live_changes(plan, client):
        res = by_urn.get(change.urn)
        for loss in change.losses:
            out.append(
                Violation(
                    policy=POLICY,
                    enforcement="mandatory" if environment == "prod" else "advisory",
                    severity="critical",
                    urn=change.urn,
                    message=loss.message,
                    resource_type=res.type if res else "",
                    resource_name=res.name if res else "",
                    description=DESCRIPTION,
                    remediation=REMEDIATION,
                )
            )
    return out


def client_for(nameservers: Sequence[str], timeout: float) -> DnsClient:
    from ..verify.resolver import parse_nameserver

    return DnsClient([parse_nameserver(n) for n in nameservers], timeout=timeout, memo=True)
