"""Cloudflare through pulumi-cloudflare: ``cloudflare:index/dnsRecord:DnsRecord``.

Cloudflare holds one value per record resource. Inputs written (pulumi-cloudflare
``DnsRecord``): ``zone_id``, ``name``, ``type``, ``ttl``, ``content``, ``priority`` (MX),
``proxied=False`` and ``comment``. TXT ``content`` is quoted RFC 1035 character-strings of
at most 255 bytes each (``"first255" "rest"``), the form Cloudflare's API documents for
TXT content ("Strings exceeding this allowed maximum length are automatically split");
an MX is ``content`` (the host) plus ``priority``. The per-record limit is Cloudflare's
4,096 bytes of wire format (see ``standards.txt.CLOUDFLARE_MAX_RECORD_WIRE_BYTES``).

Read back: quoted content or a raw value (Cloudflare serves a raw value as one string,
split at 255 bytes); ``ttl`` 1 is Cloudflare's "automatic", 300 seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..standards import txt
from .base import Adapter, MapValues, ProviderError, RecordSpec, _call, normal_value

__all__ = ["CLOUDFLARE", "CloudflareAdapter"]

AUTOMATIC_TTL = 1  # Cloudflare's "automatic" TTL...
AUTOMATIC_SECONDS = 300  # ...which is 300 seconds


class CloudflareAdapter(Adapter):
    name = "cloudflare"
    record_type = "cloudflare:index/dnsRecord:DnsRecord"
    zone_type = "cloudflare:index/zone:Zone"
    one_value_per_resource = True

    def resource_values(self, rtype: str, values: Sequence[str]) -> list[str]:
        # A value that is not a str is not known yet (a mock or preview): left to the engine.
        if rtype == "TXT":
            return [txt.cloudflare_txt(v) if isinstance(v, str) else v for v in values]
        if rtype == "MX":
            return [v.partition(" ")[2] if isinstance(v, str) else v for v in values]
        return list(values)

    def _one(self, record: RecordSpec, values: Sequence[str]) -> str:
        if len(values) != 1:
            raise ProviderError(f"records: {record.name} {record.type} has {len(values)} values; Cloudflare takes one per record")
        return values[0]

    def resource_inputs(
        self, record: RecordSpec, zone_id: Any, *, comment: str | None = None, map_values: MapValues = _call
    ) -> dict[str, Any]:
        rtype = record.type
        inputs: dict[str, Any] = {
            "zone_id": zone_id,
            "name": record.name,
            "type": rtype,
            "ttl": record.ttl,
            "content": map_values(record.values, lambda vs: self.resource_values(rtype, [self._one(record, vs)])[0]),
            "priority": None,
            "proxied": False,
            "comment": comment,
        }
        if rtype == "MX":
            inputs["priority"] = map_values(record.values, lambda vs: _priority(self._one(record, vs)))
        return inputs

    def resource_class(self) -> Any:
        import pulumi_cloudflare as cloudflare  # only in a program that writes Cloudflare records

        return cloudflare.DnsRecord

    def entries(self, inputs: Mapping[str, Any], unknown: Callable[[Any], bool]) -> list[Any]:
        content = inputs.get("content")
        return [] if content is None else [content]

    def parse_txt(self, entry: str) -> list[str]:
        return txt.parse_cloudflare_txt(entry)

    def read_value(self, rtype: str | None, entry: str, inputs: Mapping[str, Any], unknown: Callable[[Any], bool]) -> str | None:
        if rtype == "MX":
            priority = inputs.get("priority")
            if isinstance(priority, bool) or not isinstance(priority, (int, float)):
                return None  # unknown until deploy, or missing (Cloudflare requires it for MX)
            return normal_value("MX", f"{int(priority)} {entry}")
        return super().read_value(rtype, entry, inputs, unknown)

    def read_ttl(self, inputs: Mapping[str, Any]) -> int | None:
        ttl = super().read_ttl(inputs)
        return AUTOMATIC_SECONDS if ttl == AUTOMATIC_TTL else ttl

    def check_txt(self, entry: str, name: str | None = None) -> list[str]:
        return list(txt.check_cloudflare_txt(entry, name))


def _priority(value: Any) -> int | None:
    return int(value.partition(" ")[0]) if isinstance(value, str) else None


CLOUDFLARE = CloudflareAdapter()
