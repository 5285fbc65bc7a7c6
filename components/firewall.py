"""Firewall: who may reach the SES SMTP interface endpoint, and Cloudflare zone TLS.

AWS (when `vpc_id` is given):
- a security group without inline rules for the `com.amazonaws.<region>.email-smtp`
  interface endpoint;
- one `aws.vpc.SecurityGroupIngressRule` per allowed CIDR and port (TCP); 0.0.0.0/0,
  ::/0 and other over-broad or invalid CIDRs are refused when the args are built;
- NO egress rule: an interface endpoint's network interfaces never open connections,
  and security groups are stateful, so replies to allowed inbound connections flow
  without one. The AWS default allow-all egress rule is removed by the provider
  when it creates the group (Terraform/pulumi-aws behaviour for groups without
  inline `egress`), so the group allows no egress at all;
- the interface endpoint with private DNS, so `email-smtp.<region>.amazonaws.com`
  resolves to it inside the VPC.

Inbound 25 is allowed only when `mx_host=True`; the group is then tagged
`mailinfra:role = mx` (MX_ROLE_TAG), the marker the network policy looks for.

Cloudflare (one entry per zone in `cloudflare_zones`): zone settings
min_tls_version 1.2, always_use_https on, tls_1_3 on.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
from pulumi import Input, Output, ResourceOptions

from .relay import check_domain, check_region, check_tags
from .errors import ArgsError

__all__ = [
    "ALLOWED_PORTS",
    "DEFAULT_PORTS",
    "MIN_PREFIX_LENGTH",
    "MX_ROLE_TAG",
    "ZONE_TLS_SETTINGS",
    "Firewall",
    "FirewallArgs",
    "FirewallArgsError",
    "rule_suffix",
]

DEFAULT_PORTS: tuple[int, ...] = (587, 465, 2587)
ALLOWED_PORTS: frozenset[int] = frozenset({587, 465, 2587, 25})
MX_ROLE_TAG: tuple[str, str] = ("mailinfra:role", "mx")
# A CIDR broader than this is "open to the world" in disguise (e.g. 0.0.0.0/1 + 128.0.0.0/1).
MIN_PREFIX_LENGTH: dict[int, int] = {4: 8, 6: 32}
ZONE_TLS_SETTINGS: tuple[tuple[str, str, str], ...] = (
    # (name suffix, setting_id, value)
    ("min-tls", "min_tls_version", "1.2"),
    ("always-https", "always_use_https", "on"),
    ("tls13", "tls_1_3", "on"),
)


class FirewallArgsError(ArgsError):
    """An invalid Firewall argument: `"<argument>: <reason> (got <value!r>)"`."""


def _check_cidr(argument: str, value: object) -> str:
    if not isinstance(value, str):
        raise FirewallArgsError(argument, value, "must be a CIDR string such as 10.0.0.0/16")
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise FirewallArgsError(
            argument,
            value,
            "must be a valid CIDR without host bits, such as 10.0.0.0/16",
        ) from None
    if net.prefixlen == 0:
        raise FirewallArgsError(argument, value, "SMTP must never be open to the whole internet")
    if net.prefixlen < MIN_PREFIX_LENGTH[net.version]:
        raise FirewallArgsError(
            argument,
            value,
            f"is broader than /{MIN_PREFIX_LENGTH[net.version]}; list the networks that send",
        )
    return str(net)


def rule_suffix(cidr: str, port: int) -> str:
    """Stable resource-name suffix of one ingress rule (independent of list order)."""
    return f"{port}-" + re.sub(r"[^0-9a-z]+", "-", cidr.lower()).strip("-")


@dataclass(frozen=True)
class FirewallArgs:
    """Arguments of Firewall. Validated at construction (FirewallArgsError).

    `vpc_id` None: no AWS part (then subnet_ids/allowed_cidrs must be empty).
    `cloudflare_zones`: zone name -> Cloudflare zone id.
    """

    region: str
    vpc_id: Input[str] | None = None
    subnet_ids: Sequence[Input[str]] = ()
    allowed_cidrs: Sequence[str] = ()
    ports: Sequence[int] = DEFAULT_PORTS
    mx_host: bool = False
    cloudflare_zones: Mapping[str, Input[str]] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_region("region", self.region, FirewallArgsError)
        object.__setattr__(self, "tags", check_tags("tags", self.tags, FirewallArgsError))
        if not isinstance(self.mx_host, bool):
            raise FirewallArgsError("mx_host", self.mx_host, "must be a bool")
        ports = tuple(self.ports)
        for port in ports:
            if isinstance(port, bool) or port not in ALLOWED_PORTS:
                raise FirewallArgsError("ports", port, f"must be in {sorted(ALLOWED_PORTS)}")
        if len(set(ports)) != len(ports):
            raise FirewallArgsError("ports", list(ports), "must not repeat a port")
        if 25 in ports and not self.mx_host:
            raise FirewallArgsError("ports", 25, "inbound 25 is allowed only on MX hosts (mx_host=True)")
        object.__setattr__(self, "ports", ports)
        cidrs = tuple(_check_cidr("allowed_cidrs", c) for c in self.allowed_cidrs)
        if len(set(cidrs)) != len(cidrs):
            raise FirewallArgsError("allowed_cidrs", list(cidrs), "must not repeat a CIDR")
        object.__setattr__(self, "allowed_cidrs", cidrs)
        subnets = tuple(self.subnet_ids)
        object.__setattr__(self, "subnet_ids", subnets)
        if self.vpc_id is None:
            if subnets or cidrs:
                raise FirewallArgsError("vpc_id", None, "is required with subnet_ids/allowed_cidrs")
        else:
            if isinstance(self.vpc_id, str) and not self.vpc_id.startswith("vpc-"):
                raise FirewallArgsError("vpc_id", self.vpc_id, "must be a VPC id (vpc-...)")
            if not subnets:
                raise FirewallArgsError("subnet_ids", [], "at least one subnet for the endpoint")
            for subnet in subnets:
                if isinstance(subnet, str) and not subnet.startswith("subnet-"):
                    raise FirewallArgsError("subnet_ids", subnet, "must be a subnet id (subnet-...)")
            if not cidrs:
                raise FirewallArgsError("allowed_cidrs", [], "at least one CIDR that may submit mail")
            if not ports:
                raise FirewallArgsError("ports", [], "at least one port")
        if not isinstance(self.cloudflare_zones, Mapping):
            raise FirewallArgsError(
                "cloudflare_zones",
                self.cloudflare_zones,
                "must map zone name -> zone id",
            )
        for zone_name, zone_id in self.cloudflare_zones.items():
            check_domain("cloudflare_zones", zone_name, FirewallArgsError)
            if zone_id is None or (isinstance(zone_id, str) and not zone_id):
                raise FirewallArgsError(f"cloudflare_zones.{zone_name}", zone_id, "must be a zone id")
        object.__setattr__(self, "cloudflare_zones", dict(self.cloudflare_zones))

    @property
    def service_name(self) -> str:
        return f"com.amazonaws.{self.region}.email-smtp"


class Firewall(pulumi.ComponentResource):
    """Network rules in front of the SES SMTP endpoint and TLS settings of Cloudflare zones."""

    security_group_id: Output[str] | None
    vpc_endpoint_id: Output[str] | None
    vpc_endpoint_dns_entries: Output[Sequence[Any]] | None
    zone_setting_ids: dict[str, list[Output[str]]]

    def __init__(self, name: str, args: FirewallArgs, opts: ResourceOptions | None = None) -> None:
        if not isinstance(args, FirewallArgs):
            raise FirewallArgsError("args", type(args).__name__, "must be FirewallArgs")
        super().__init__("mailinfra:firewall:Firewall", name, None, opts)
        child = ResourceOptions(parent=self)
        region = args.region

        self.security_group_id = None
        self.vpc_endpoint_id = None
        self.vpc_endpoint_dns_entries = None
        if args.vpc_id is not None:
            sg_tags = dict(args.tags)
            if args.mx_host:
                sg_tags[MX_ROLE_TAG[0]] = MX_ROLE_TAG[1]
            sg = aws.ec2.SecurityGroup(
                f"{name}-smtp-endpoint",
                description=f"SES SMTP interface endpoint: TCP {'/'.join(map(str, args.ports))} from allowed CIDRs",
                vpc_id=args.vpc_id,
                region=region,
                tags=sg_tags,
                opts=child,
            )
            for cidr in args.allowed_cidrs:
                v6 = ipaddress.ip_network(cidr).version == 6
                for port in args.ports:
                    aws.vpc.SecurityGroupIngressRule(
                        f"{name}-in-{rule_suffix(cidr, port)}",
                        security_group_id=sg.id,
                        ip_protocol="tcp",
                        from_port=port,
                        to_port=port,
                        cidr_ipv4=None if v6 else cidr,
                        cidr_ipv6=cidr if v6 else None,
                        description=f"SMTP {port} from {cidr}",
                        region=region,
                        tags=sg_tags,
                        opts=child,
                    )
            endpoint = aws.ec2.VpcEndpoint(
                f"{name}-smtp-endpoint",
                vpc_id=args.vpc_id,
                service_name=args.service_name,
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=list(args.subnet_ids),
                security_group_ids=[sg.id],
                region=region,
                tags=dict(args.tags),
                opts=child,
            )
            self.security_group_id = sg.id
            self.vpc_endpoint_id = endpoint.id
            self.vpc_endpoint_dns_entries = endpoint.dns_entries

        self.zone_setting_ids = {}
        if args.cloudflare_zones:
            # Imported only when a stack uses Cloudflare: the SDK costs seconds and
            # a large share of a plan's memory.
            import pulumi_cloudflare as cloudflare
        for zone_name, zone_id in args.cloudflare_zones.items():
            zone_key = zone_name.replace(".", "-")
            ids = []
            for suffix, setting_id, value in ZONE_TLS_SETTINGS:
                setting = cloudflare.ZoneSetting(
                    f"{name}-{zone_key}-{suffix}",
                    zone_id=zone_id,
                    setting_id=setting_id,
                    value=value,
                    opts=child,
                )
                ids.append(setting.id)
            self.zone_setting_ids[zone_name] = ids

        self.register_outputs(
            {
                "security_group_id": self.security_group_id,
                "vpc_endpoint_id": self.vpc_endpoint_id,
            }
        )
