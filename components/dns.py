"""AuthRecords: a provider-neutral set of authentication records, written to Route53
(``aws.route53.Record``) or Cloudflare (``cloudflare.DnsRecord``) by the provider's
adapter (:mod:`mailinfra.policies.mailinfra_policy.providers`), which owns the resource form.

The record values come from the pure builders in :mod:`mailinfra.components.records`. A record
whose name or values are only known after deploy (Easy DKIM tokens) is passed as a
:class:`DeferredRecord`: its resource is still declared up front (never inside
``apply``), with Output-valued name and values.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi

from mailinfra.policies.mailinfra_policy import providers
from mailinfra.policies.mailinfra_policy.standards._common import in_zone
from mailinfra.policies.mailinfra_policy.standards.errors import InputError

from .records import DnsRecord

PROVIDERS = providers.NAMES


class AuthRecordsError(InputError):
    """Invalid AuthRecords arguments (exit 2, one line)."""


@dataclass(frozen=True)
class DeferredRecord:
    """A record whose name and/or values are Outputs; ``key`` names the resource."""

    key: str
    name: pulumi.Input[str]
    type: str
    values: pulumi.Input[Sequence[str]]
    purpose: str
    ttl: int = 3600


@dataclass(frozen=True)
class AuthRecordsArgs:
    provider: str
    zone_name: str
    zone_id: pulumi.Input[str]
    records: tuple[DnsRecord | DeferredRecord, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        try:
            adapter = providers.adapter(self.provider)
        except providers.UnknownProviderError as exc:
            raise AuthRecordsError(f"provider: {exc}") from None
        seen: dict[tuple[str, str], str] = {}
        keys: set[str] = set()
        for r in self.records:
            if isinstance(r, DnsRecord):
                if not in_zone(r.name, self.zone_name):
                    raise AuthRecordsError(f"records: {r.name} is outside the zone {self.zone_name}")
                if adapter.one_value_per_resource and len(r.values) != 1:
                    # The builders emit one value per name for TXT/CNAME; give one MX per record.
                    raise AuthRecordsError(
                        f"records: {r.name} {r.type} has {len(r.values)} values; {self.provider} takes one per record"
                    )
                ident = (r.name, r.type)
                if ident in seen:
                    raise AuthRecordsError(
                        f"records: two {r.type} records at {r.name} ({seen[ident]} and {r.purpose}); "
                        "exactly one record set per name and type"
                    )
                seen[ident] = r.purpose
            key = record_key(r, self.zone_name)
            if key in keys:
                raise AuthRecordsError(f"records: duplicate record key {key!r}")
            keys.add(key)


def record_key(r: DnsRecord | DeferredRecord, zone_name: str) -> str:
    """A stable resource-name suffix for one record: its purpose and its name in the zone.

    e.g. ``spf-mail`` for the SPF of mail.example.com in example.com, ``dmarc-mail``
    for _dmarc.mail.example.com; the zone apex is ``@``.
    """
    if isinstance(r, DeferredRecord):
        return r.key
    relative = "apex" if r.name == zone_name else r.name[: -len(zone_name) - 1]
    relative = re.sub(r"[^a-z0-9]+", "-", relative.lower()).strip("-")
    return f"{r.purpose}-{relative}"


class AuthRecords(pulumi.ComponentResource):
    """One DNS resource per record set; children are named ``<component>-<key>``."""

    def __init__(self, name: str, args: AuthRecordsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mailinfra:dns:AuthRecords", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.resources: dict[str, pulumi.CustomResource] = {}
        published: dict[str, pulumi.Input] = {}
        adapter = providers.adapter(args.provider)
        resource_class = adapter.resource_class()
        for r in args.records:
            key = record_key(r, args.zone_name)
            inputs = adapter.resource_inputs(
                r, args.zone_id, comment=f"mailinfra {r.purpose}", map_values=_deferred if isinstance(r, DeferredRecord) else _now
            )
            res = resource_class(f"{name}-{key}", **inputs, opts=child)
            self.resources[key] = res
            published[key] = res.name
        self.names = published
        self.register_outputs({"records": published})


def _now(values: Sequence[str], fn: Callable[[Sequence[str]], Any]) -> Any:
    return fn(values)


def _deferred(values: pulumi.Input[Sequence[str]], fn: Callable[[Sequence[str]], Any]) -> pulumi.Output[Any]:
    return pulumi.Output.from_input(values).apply(fn)
