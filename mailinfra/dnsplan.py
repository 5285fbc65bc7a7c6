"""The DNS records a plan declares: one reading of Route53 and Cloudflare resources,
shared by ``mailinfra zone`` and ``mailinfra verify``.

Works on the JSON form of a plan (``{"resources": [...], "outputs": {...}}``) so a
saved plan (``--plan FILE``) and a fresh one read the same way. Unknown values are the
string ``"[unknown]"`` there; a record with one is kept with ``values=None``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from policies.mailinfra_policy.standards import txt
from policies.mailinfra_policy.standards.dmarc import organizational_domain

ROUTE53_RECORD = "aws:route53/record:Record"
ROUTE53_ZONE = "aws:route53/zone:Zone"
CLOUDFLARE_RECORD = "cloudflare:index/dnsRecord:DnsRecord"
CLOUDFLARE_ZONE = "cloudflare:index/zone:Zone"
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
    provider: str  # "route53" | "cloudflare"

    @property
    def known(self) -> bool:
        return self.name is not None and self.values is not None


def _known(value: Any) -> bool:
    return value is not None and value != UNKNOWN and value != SECRET


def _zone_index(plan: Mapping[str, Any]) -> dict[str, str]:
    """zone id -> zone name, from the plan's zone resources and its ``zones`` output."""
    index: dict[str, str] = {}
    for r in plan.get("resources", []):
        inputs = r.get("inputs") or {}
        if r.get("type") == ROUTE53_ZONE and _known(inputs.get("name")):
            index[f"urn:{r['urn']}"] = inputs["name"].rstrip(".").lower()
        if r.get("type") == CLOUDFLARE_ZONE and _known(inputs.get("name")):
            index[f"urn:{r['urn']}"] = inputs["name"].rstrip(".").lower()
    zones = (plan.get("outputs") or {}).get("zones")
    if isinstance(zones, Mapping):
        for zname, info in zones.items():
            if isinstance(info, Mapping) and _known(info.get("zoneId")):
                index[str(info["zoneId"])] = str(zname).rstrip(".").lower()
    return index


def _absolute(name: str, zone: str | None) -> str:
    name = name.rstrip(".").lower()
    if name == "@" and zone:
        return zone
    if zone and not (name == zone or name.endswith("." + zone)):
        return f"{name}.{zone}"
    return name


def _zone_for(name: str | None, zone_id: Any, index: Mapping[str, str], deps: Iterable[str]) -> str | None:
    if _known(zone_id) and str(zone_id) in index:
        return index[str(zone_id)]
    for dep in deps:  # zoneId unknown in preview: the zone resource is a dependency
        if f"urn:{dep}" in index:
            return index[f"urn:{dep}"]
    if name:
        candidates = [z for z in index.values() if name == z or name.endswith("." + z)]
        if candidates:
            return max(candidates, key=len)
        return organizational_domain(name)
    return None


def _route53_values(rtype: str, records: Any) -> tuple[str, ...] | None:
    if not isinstance(records, list) or not all(_known(v) for v in records):
        return None
    if rtype == "TXT":
        return tuple(txt.join_txt(txt.parse_route53_txt(v)) for v in records)
    if rtype in ("CNAME", "MX", "NS"):
        return tuple(_normal_host_value(rtype, v) for v in records)
    return tuple(str(v) for v in records)


def _normal_host_value(rtype: str, value: str) -> str:
    value = str(value).strip()
    if rtype == "MX":
        pref, _, host = value.partition(" ")
        return f"{int(pref)} {host.strip().rstrip('.').lower()}"
    return value.rstrip(".").lower()


def declared_records(plan: Mapping[str, Any]) -> list[DeclaredRecord]:
    """Every Route53 Record and Cloudflare DnsRecord in a JSON-form plan."""
    index = _zone_index(plan)
    out: list[DeclaredRecord] = []
    for r in plan.get("resources", []):
        rtype_token = r.get("type")
        if rtype_token not in (ROUTE53_RECORD, CLOUDFLARE_RECORD):
            continue
        inputs = r.get("inputs") or {}
        rtype = str(inputs.get("type") or "").upper()
        raw_name = str(inputs["name"]) if _known(inputs.get("name")) else None
        deps = r.get("dependencies") or []
        zone = _zone_for(raw_name.rstrip(".").lower() if raw_name else None, inputs.get("zoneId"), index, deps)
        name = _absolute(raw_name, zone) if raw_name else None
        ttl = inputs.get("ttl")
        ttl = int(ttl) if isinstance(ttl, (int, float)) and not isinstance(ttl, bool) else None
        if rtype_token == ROUTE53_RECORD:
            values = _route53_values(rtype, inputs.get("records"))
            provider = "route53"
        else:
            provider = "cloudflare"
            content = inputs.get("content")
            if not _known(content):
                values = None
            elif rtype == "TXT":
                values = (txt.join_txt(txt.parse_cloudflare_txt(str(content))),)
            elif rtype == "MX":
                prio = inputs.get("priority")
                values = (f"{int(prio) if isinstance(prio, (int, float)) else 10} {str(content).rstrip('.').lower()}",)
            else:
                values = (_normal_host_value(rtype, str(content)),)
            if ttl == 1:  # Cloudflare's "automatic"
                ttl = 300
        out.append(DeclaredRecord(zone=zone or "", name=name, type=rtype, values=values, ttl=ttl, urn=r.get("urn", ""), provider=provider))
    return out
