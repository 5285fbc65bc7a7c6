"""Route53 through pulumi-aws: ``aws:route53/record:Record``, one resource per record set.

Inputs written (pulumi-aws ``route53.Record``): ``zone_id``, ``name``, ``type``, ``ttl``,
``records`` and ``allow_overwrite=False``. A TXT value longer than 255 bytes is one
``records`` entry whose strings are joined by ``""`` (pulumi-aws quotes the entry, so
Route53 receives ``"first""rest"``: two character-strings). Read back: ``records``
entries in that form or fully quoted (``"a" "b"``); alias records (``aliases``) have no
plain values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..standards import txt
from .base import Adapter, MapValues, RecordSpec, _call

__all__ = ["ROUTE53", "Route53Adapter"]


class Route53Adapter(Adapter):
    name = "route53"
    record_type = "aws:route53/record:Record"
    zone_type = "aws:route53/zone:Zone"
    one_value_per_resource = False

    def resource_values(self, rtype: str, values: Sequence[str]) -> list[str]:
        if rtype == "TXT":
            return [txt.route53_txt(v) if isinstance(v, str) else v for v in values]  # non-str: not known yet
        return list(values)

    def resource_inputs(
        self, record: RecordSpec, zone_id: Any, *, comment: str | None = None, map_values: MapValues = _call
    ) -> dict[str, Any]:
        rtype = record.type
        return {
            "zone_id": zone_id,
            "name": record.name,
            "type": rtype,
            "ttl": record.ttl,
            "records": map_values(record.values, lambda vs: self.resource_values(rtype, vs)),
            "allow_overwrite": False,
        }

    def resource_class(self) -> Any:
        import pulumi_aws as aws  # only in a program that writes Route53 records

        return aws.route53.Record

    def entries(self, inputs: Mapping[str, Any], unknown: Callable[[Any], bool]) -> list[Any]:
        records = inputs.get("records")
        if records is None:
            return []  # an alias record, or none given
        if unknown(records) or not isinstance(records, (list, tuple)):
            return [records]
        return list(records)

    def parse_txt(self, entry: str) -> list[str]:
        return txt.parse_route53_txt(entry)

    def check_txt(self, entry: str, name: str | None = None) -> list[str]:
        return list(txt.check_route53_txt(entry))


ROUTE53 = Route53Adapter()
