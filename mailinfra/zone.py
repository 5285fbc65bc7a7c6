"""``mailinfra zone``: a BIND zone file per DNS zone of the declared records.

Values known only after deploy (Easy DKIM tokens, CloudFront aliases) are written as
comments. The SOA and NS records are placeholders so the file loads on its own
(``dns.zone.from_text``); the provider's own replace them on import.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from mailinfra.policies.mailinfra_policy.providers import presentation

from .dnsplan import DeclaredRecord, declared_records

DEFAULT_TTL = 3600


def _owner(name: str, zone: str) -> str:
    if name == zone:
        return "@"
    return name[: -len(zone) - 1]


def render_zone(zone: str, records: list[DeclaredRecord]) -> str:
    lines = [
        f"; zone {zone} - declared by mailinfra; load with dns.zone.from_text or named-checkzone",
        f"$ORIGIN {zone}.",
        f"$TTL {DEFAULT_TTL}",
        "; SOA and NS are placeholders: the DNS provider serves its own.",
        f"@ {DEFAULT_TTL} IN SOA ns1.invalid. hostmaster.{zone}. 1 7200 900 1209600 300",
        f"@ {DEFAULT_TTL} IN NS ns1.invalid.",
    ]
    for rec in sorted(records, key=lambda r: (r.name or "~", r.type)):
        if not rec.known:
            lines.append(f"; {rec.name or '[unknown name]'} {rec.type} [unknown until deploy] ({rec.urn})")
            continue
        assert rec.name is not None and rec.values is not None
        ttl = rec.ttl or DEFAULT_TTL
        for value in rec.values:
            lines.append(f"{_owner(rec.name, zone)} {ttl} IN {rec.type} {presentation(rec.type, value)}")
    return "\n".join(lines) + "\n"


def zone_files(plan: Any) -> dict[str, str]:
    """zone name -> zone file text, for a Plan or its JSON form."""
    if not isinstance(plan, dict):
        from .render import plan_to_dict

        plan = plan_to_dict(plan)
    by_zone: dict[str, list[DeclaredRecord]] = defaultdict(list)
    for rec in declared_records(plan):
        by_zone[rec.zone].append(rec)
    return {zone: render_zone(zone, recs) for zone, recs in sorted(by_zone.items()) if zone}
