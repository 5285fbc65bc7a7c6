"""AuthRecords: a provider-neutral set of authentication records, written to Route53
(``aws.route53.Record``) or Cloudflare (``cloudflare.DnsRecord``).

The record values come from the pure builders in :mod:`components.records`. A record
whose name or values are only known after deploy (Easy DKIM tokens) is passed as a
:class:`DeferredRecord`: its resource is still declared up front (never inside
``apply``), with Output-valued name and values.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi

from . import records as rec
from .records import DnsRecord

PROVIDERS = ("route53", "cloudflare")


class AuthRecordsError(ValueError):
    mailinfra_exit_code = 2


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
        if self.provider not in PROVIDERS:
            raise AuthRecordsError(f"provider: must be one of {', '.join(PROVIDERS)} (got {self.provider!r})")
        seen: dict[tuple[str, str], str] = {}
        keys: set[str] = set()
        for r in self.records:
            if isinstance(r, DnsRecord):
                if not (r.name == self.zone_name or r.name.endswith("." + self.zone_name)):
                    raise AuthRecordsError(f"records: {r.name} is outside the zone {self.zone_name}")
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
        for r in args.records:
            key = record_key(r, args.zone_name)
            rname = f"{name}-{key}"
            if args.provider == "route53":
                res = self._route53(rname, args, r, child)
            else:
                res = self._cloudflare(rname, args, r, child)
            self.resources[key] = res
            published[key] = res.name  # type: ignore[attr-defined]
        self.names = published
        self.register_outputs({"records": published})

    @staticmethod
    def _route53(rname: str, args: AuthRecordsArgs, r: DnsRecord | DeferredRecord, opts: pulumi.ResourceOptions):
        import pulumi_aws as aws

        if isinstance(r, DnsRecord):
            values: pulumi.Input = rec.route53_values(r)
            name: pulumi.Input[str] = r.name
        else:
            rtype = r.type

            def provider_form(vs: Sequence[str]) -> list[str]:
                return [rec.route53_txt(v) if rtype == "TXT" else v for v in vs]

            values = pulumi.Output.from_input(r.values).apply(provider_form)
            name = r.name
        return aws.route53.Record(
            rname,
            zone_id=args.zone_id,
            name=name,
            type=r.type,
            ttl=r.ttl,
            records=values,
            allow_overwrite=False,
            opts=opts,
        )

    @staticmethod
    def _cloudflare(rname: str, args: AuthRecordsArgs, r: DnsRecord | DeferredRecord, opts: pulumi.ResourceOptions):
        import pulumi_cloudflare as cloudflare

        if isinstance(r, DnsRecord):
            if len(r.values) != 1:
                # Cloudflare models one value per record; the builders emit one value per
                # name for TXT/CNAME, and AuthRecords is given one MX per record.
                raise AuthRecordsError(f"records: {r.name} {r.type} has {len(r.values)} values; Cloudflare takes one per record")
            content: pulumi.Input[str] = rec.cloudflare_content(r)
            priority = rec.mx_priority(r) if r.type == "MX" else None
            name: pulumi.Input[str] = r.name
        else:
            content = pulumi.Output.from_input(r.values).apply(lambda vs: vs[0])
            priority = None
            name = r.name
        return cloudflare.DnsRecord(
            rname,
            zone_id=args.zone_id,
            name=name,
            type=r.type,
            ttl=r.ttl,
            content=content,
            priority=priority,
            proxied=False,
            comment=f"mailinfra {r.purpose}",
            opts=opts,
        )
