"""The DNS records a plan declares: one reading of Route53 and Cloudflare resources,
shared by ``mailinfra zone`` and ``mailinfra verify``.

Works on the JSON form of a plan (``{"resources": [...], "outputs": {...}}``) so a
saved plan (``--plan FILE``) and a fresh one read the same way. Unknown values are the
string ``"[unknown]"`` there (a plan file's typed markers are read as those strings);
a record with one is kept with ``values=None``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mailinfra.policies.mailinfra_policy import providers
from mailinfra.policies.mailinfra_policy.standards._common import ZoneSet, normalize_host, zone_for
from mailinfra.policies.mailinfra_policy.standards.dmarc import organizational_domain

UNKNOWN = "[unknown]"
SECRET = "[secret]"


@dataclass(frozen=True)
class DeclaredRecord:
    zone: str  # zone apex, lowercase, no trailing dot
    name: str | None  # absolute owner name, lowercase, no trailing dot; None if unknown
    type: str
    values: tuple[str, ...] | None  # TXT: logical (joined) text; MX: "pref host"; None if unknown
    ttl: int | None
    urn: str
    provider: str  # an adapter name: "route53" | "cloudflare"

    @property
    def known(self) -> bool:
        return self.name is not None and self.values is not None


def _known(value: Any) -> bool:
    return not providers.is_placeholder(value)


def _zone_index(plan: Mapping[str, Any]) -> dict[str, str]:
    """zone id -> zone name, from the plan's zone resources and its ``zones`` output."""
    index: dict[str, str] = {}
    for r in plan.get("resources", []):
        inputs = r.get("inputs") or {}
        if r.get("type") in providers.ZONE_TYPES and _known(inputs.get("name")):
            index[f"urn:{r['urn']}"] = normalize_host(inputs["name"])
    zones = (plan.get("outputs") or {}).get("zones")
    if isinstance(zones, Mapping):
        for zname, info in zones.items():
            if isinstance(info, Mapping) and _known(info.get("zoneId")):
                index[str(info["zoneId"])] = normalize_host(str(zname))
    return index


def _zone_of(name: str | None, zone_id: Any, index: Mapping[str, str], deps: Iterable[str], zones: ZoneSet) -> str | None:
    if _known(zone_id) and str(zone_id) in index:
        return index[str(zone_id)]
    for dep in deps:  # zoneId unknown in preview: the zone resource is a dependency
        if f"urn:{dep}" in index:
            return index[f"urn:{dep}"]
    if name:
        return zone_for(name, zones) or organizational_domain(name)
    return None


def declared_records(plan: Mapping[str, Any]) -> list[DeclaredRecord]:
    """Every DNS record resource of a JSON-form plan, read by its provider's adapter."""
    if "formatVersion" in plan:  # a plan file's typed markers (mailinfra/planformat.py)
        from .planformat import placeholder_view

        plan = placeholder_view(plan)
    index = _zone_index(plan)
    zones = ZoneSet(index.values())
    out: list[DeclaredRecord] = []
    for r in plan.get("resources", []):
        if r.get("type") not in providers.RECORD_TYPES:
            continue
        record = providers.read(r["type"], r.get("inputs") or {})
        zone = _zone_of(record.name, record.zone_id, index, r.get("dependencies") or [], zones)
        out.append(
            DeclaredRecord(
                zone=zone or "",
                name=record.absolute(zone),
                type=record.type or "",
                values=record.known_values,
                ttl=record.ttl,
                urn=r.get("urn", ""),
                provider=record.provider,
            )
        )
    return out
