"""Network rules: security groups (inline and separate rules), Cloudflare zone TLS and
CloudFront viewer TLS.

MX marker: inbound 25 from the world is allowed only on a security group tagged
``mailinfra:role = mx``. A separate rule resource (``aws.ec2.SecurityGroupRule``,
``aws.vpc.SecurityGroupIngressRule``) is matched to its group through the property
dependency of ``securityGroupId`` (the group's id is unknown during preview, the
dependency is not), else through a known id equal to a group's ``id`` output. A
``SecurityGroupIngressRule`` may also carry the tag itself. A rule whose group is
outside the stack (a literal ``sg-...`` with no group in the program) cannot be shown
to be an MX host and is reported.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from typing import Any

from pulumi_policy import ResourceValidationArgs, Severity, StackValidationArgs

from . import providers
from .standards import aws as aws_std
from .standards.aws import ADMIN_PORTS
from .common import (
    ResourceCheck,
    StackView,
    as_bool,
    as_int,
    as_json,
    as_list,
    get,
    is_unknown,
    on_property,
    resource_policy,
    stack_policy,
)

SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
SG_INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SG_TYPES = (SECURITY_GROUP, SG_RULE, SG_INGRESS)
ZONE_SETTING = "cloudflare:index/zoneSetting:ZoneSetting"
CF_RECORD = providers.adapter("cloudflare").record_type
CF_RECORD_LEGACY = "cloudflare:index/record:Record"  # pulumi-cloudflare before v6
# Resources through which a program serves HTTP(S) from Cloudflare's edge on a zone: a
# Worker on a route or a custom domain (the MTA-STS policy host), or a proxied record.
CF_WORKER_TYPES = (
    "cloudflare:index/workersRoute:WorkersRoute",
    "cloudflare:index/workersCustomDomain:WorkersCustomDomain",
    "cloudflare:index/workerDomain:WorkerDomain",
)

MX_TAG_KEY = "mailinfra:role"
MX_TAG_VALUE = "mx"
SUBMISSION_PORTS = (587, 465, 2587)
_NON_PORT_PROTOCOLS = {"icmp", "1", "icmpv6", "58"}
ZONE_TLS_SETTINGS = ("min_tls_version", "always_use_https")
_ALLOWED_PORTS = {"allowedPorts": {"type": "array", "items": {"type": "integer"}, "default": []}}


def is_world(cidr: Any) -> bool:
    if not isinstance(cidr, str) or is_unknown(cidr):
        return False
    try:
        return ipaddress.ip_network(cidr.strip(), strict=False).prefixlen == 0
    except ValueError:
        return False


def ingress_entries(type_: str, props: dict[str, Any]) -> list[tuple[int | None, int | None, str, list[Any]]]:
    """(fromPort, toPort, protocol, cidrs) for every ingress permission the resource declares."""
    out: list[tuple[int | None, int | None, str, list[Any]]] = []
    if type_ == SECURITY_GROUP:
        for rule in as_list(get(props, "ingress")):
            if isinstance(rule, dict):
                cidrs = as_list(rule.get("cidrBlocks")) + as_list(rule.get("ipv6CidrBlocks"))
                out.append((as_int(rule.get("fromPort")), as_int(rule.get("toPort")), str(rule.get("protocol", "")), cidrs))
    elif type_ == SG_RULE:
        if get(props, "type") == "ingress":
            cidrs = as_list(get(props, "cidrBlocks")) + as_list(get(props, "ipv6CidrBlocks"))
            out.append((as_int(get(props, "fromPort")), as_int(get(props, "toPort")), str(get(props, "protocol") or ""), cidrs))
    elif type_ == SG_INGRESS:
        cidrs = [c for c in (get(props, "cidrIpv4"), get(props, "cidrIpv6")) if c is not None]
        out.append((as_int(get(props, "fromPort")), as_int(get(props, "toPort")), str(get(props, "ipProtocol") or ""), cidrs))
    return out


def opens_to_world(entry: tuple[int | None, int | None, str, list[Any]], port: int) -> bool:
    from_port, to_port, protocol, cidrs = entry
    protocol = protocol.lower()
    if protocol in _NON_PORT_PROTOCOLS or not any(is_world(c) for c in cidrs):
        return False
    if protocol in ("-1", "all"):
        return True
    if from_port is None or to_port is None:
        return False
    if from_port in (-1,) and to_port in (-1,):
        return True
    return from_port <= port <= to_port


def _world_ports(ports: tuple[int, ...], what: str) -> ResourceCheck:
    def check(type_: str, props: dict[str, Any], args: ResourceValidationArgs, cfg: dict[str, Any]) -> Iterator[str]:
        allowed = {int(p) for p in as_list(cfg.get("allowedPorts")) if as_int(p) is not None}
        for entry in ingress_entries(type_, props):
            open_ports = [p for p in ports if p not in allowed and opens_to_world(entry, p)]
            if open_ports:
                world = [c for c in entry[3] if is_world(c)]
                yield f"ingress opens {what} port(s) {', '.join(map(str, open_ports))} to {', '.join(world)}"

    return check


def tags_of(props: dict[str, Any]) -> dict[str, Any]:
    tags = as_json(get(props, "tags"))
    return tags if isinstance(tags, dict) else {}


def is_mx_marked(props: dict[str, Any]) -> bool:
    value = tags_of(props).get(MX_TAG_KEY)
    return isinstance(value, str) and value.strip().lower() == MX_TAG_VALUE


def _group_of(view: StackView, resource: Any, groups_by_id: dict[str, Any]) -> Any:
    for dep in (getattr(resource, "property_dependencies", None) or {}).get("securityGroupId", []) or []:
        if getattr(dep, "resource_type", None) == SECURITY_GROUP:
            return dep
    group_id = get(view.props[resource.urn], "securityGroupId")
    if isinstance(group_id, str) and not is_unknown(group_id):
        return groups_by_id.get(group_id)
    return None


def _mx_only(args: StackValidationArgs, cfg: dict[str, Any]) -> Iterator[tuple[str, str | None]]:
    view = StackView.of(args)
    groups_by_id: dict[str, Any] = {}
    for group in view.of_type(SECURITY_GROUP):
        gid = get(view.props[group.urn], "id")
        if isinstance(gid, str) and not is_unknown(gid):
            groups_by_id[gid] = group
    for resource in view.of_type(*SG_TYPES):
        props = view.props[resource.urn]
        if not any(opens_to_world(e, 25) for e in ingress_entries(resource.resource_type, props)):
            continue
        if resource.resource_type == SECURITY_GROUP:
            if not is_mx_marked(props):
                yield (f"security group opens port 25 to the world but is not tagged {MX_TAG_KEY}={MX_TAG_VALUE}", resource.urn)
            continue
        if resource.resource_type == SG_INGRESS and is_mx_marked(props):
            continue
        group = _group_of(view, resource, groups_by_id)
        if group is None:
            yield (
                (
                    f"rule opens port 25 to the world and its security group cannot be found in the stack "
                    f"to check the {MX_TAG_KEY}={MX_TAG_VALUE} marker"
                ),
                resource.urn,
            )
        elif not is_mx_marked(view.props.get(group.urn, {})):
            yield (
                (
                    f"rule opens port 25 to the world on security group {group.name!r}, which is not tagged "
                    f"{MX_TAG_KEY}={MX_TAG_VALUE}"
                ),
                resource.urn,
            )


def _tls_version(value: Any) -> tuple[int, ...] | None:
    if isinstance(value, str):
        try:
            return tuple(int(p) for p in value.strip().split("."))
        except ValueError:
            return None
    return None


def _zone_setting(setting_id: str) -> Callable[..., ResourceCheck]:
    """on_property for the value of a Cloudflare ZoneSetting, only on the setting ``setting_id``."""
    return on_property("value", when=lambda props: get(props, "settingId") == setting_id)


@_zone_setting("min_tls_version")
def _min_tls(value: Any, cfg: dict[str, Any]) -> Iterator[str]:
    version = _tls_version(value)
    if version is None or version < (1, 2):
        yield f"min_tls_version must be at least 1.2, got {value!r}"


@_zone_setting("always_use_https")
def _always_https(value: Any, cfg: dict[str, Any]) -> Iterator[str]:
    if value != "on":
        yield f"always_use_https must be 'on', got {value!r}"


def _zone_of(view: StackView, resource: Any) -> tuple[str, str] | None:
    """(key, label) of the zone a Cloudflare resource belongs to: its known zoneId, else
    the resource its unknown zoneId comes from (a zone created by the program)."""
    zone = get(view.props[resource.urn], "zoneId")
    if isinstance(zone, str):
        return zone, zone
    if is_unknown(zone):
        for dep in (getattr(resource, "property_dependencies", None) or {}).get("zoneId", []) or []:
            return dep.urn, repr(dep.name)
    return None


def _serves_https(resource: Any, props: dict[str, Any]) -> bool:
    if resource.resource_type in CF_WORKER_TYPES:
        return True
    if resource.resource_type in (CF_RECORD, CF_RECORD_LEGACY):
        proxied = get(props, "proxied")
        return is_unknown(proxied) or as_bool(proxied) is True  # unknown: it may be proxied
    return False


def _zone_settings_present(args: StackValidationArgs, cfg: dict[str, Any]) -> Iterator[tuple[str, str | None]]:
    view = StackView.of(args)
    served: dict[str, tuple[str, str]] = {}  # zone key -> (label, first serving resource's urn)
    for resource in view.of_type(CF_RECORD, CF_RECORD_LEGACY, *CF_WORKER_TYPES):
        zone = _zone_of(view, resource)
        if zone is not None and _serves_https(resource, view.props[resource.urn]):
            served.setdefault(zone[0], (zone[1], resource.urn))
    settings: dict[str, set[str]] = {}
    for setting in view.of_type(ZONE_SETTING):
        zone, sid = _zone_of(view, setting), get(view.props[setting.urn], "settingId")
        if zone is not None and isinstance(sid, str):
            settings.setdefault(zone[0], set()).add(sid)
    for key, (label, urn) in sorted(served.items()):
        missing = [s for s in ZONE_TLS_SETTINGS if s not in settings.get(key, set())]
        if missing:
            yield (
                (
                    f"Cloudflare zone {label} serves HTTP(S) through Cloudflare (a proxied record or a Worker) "
                    f"but has no ZoneSetting for {', '.join(missing)}"
                ),
                urn,
            )


def _cloudfront_viewer_tls(type_: str, props: dict[str, Any], args: ResourceValidationArgs, cfg: dict[str, Any]) -> Iterator[str]:
    """Every cache behaviour refuses plain HTTP; a distribution's own certificate accepts
    nothing below TLS 1.2. A multi-tenant distribution's viewers are served with each
    tenant's certificate (a DistributionTenant has no security policy of its own), so
    only its behaviours are judged."""
    behaviours = [("defaultCacheBehavior", get(props, "defaultCacheBehavior"))]
    ordered = get(props, "orderedCacheBehaviors")
    if not is_unknown(ordered):
        behaviours += [(f"orderedCacheBehaviors[{i}]", b) for i, b in enumerate(as_list(ordered))]
    for where, behaviour in behaviours:
        if behaviour is None or is_unknown(behaviour):
            continue  # a required property: the provider refuses the resource without it
        policy = get(behaviour, "viewerProtocolPolicy")
        if not is_unknown(policy) and policy not in aws_std.CLOUDFRONT_HTTPS_VIEWER_POLICIES:
            allowed = " or ".join(aws_std.CLOUDFRONT_HTTPS_VIEWER_POLICIES)
            yield f"{where}.viewerProtocolPolicy must be {allowed}, got {policy!r}"
    if type_ != aws_std.CLOUDFRONT_DISTRIBUTION:
        return
    cert = get(props, "viewerCertificate")
    if cert is None or is_unknown(cert):
        return
    default = get(cert, "cloudfrontDefaultCertificate")
    if not is_unknown(default) and as_bool(default):
        yield "viewerCertificate is CloudFront's default certificate, which accepts TLS 1.0 (security policy TLSv1)"
        return
    policy = get(cert, "minimumProtocolVersion")
    if is_unknown(policy):
        return
    version = aws_std.cloudfront_policy_tls(policy)
    if version is None or version < aws_std.CLOUDFRONT_MIN_VIEWER_TLS:
        yield f"viewerCertificate.minimumProtocolVersion must accept nothing below TLS 1.2, got {policy!r}"


POLICIES = [
    resource_policy(
        "network-no-world-admin-ports",
        "Security groups never open SSH (22) or RDP (3389) to 0.0.0.0/0 or ::/0.",
        section="network",
        types=SG_TYPES,
        check=_world_ports(ADMIN_PORTS, "admin"),
        severity=Severity.CRITICAL,
        remediation="Restrict the rule's CIDRs to an admin network or use SSM Session Manager.",
        config=_ALLOWED_PORTS,
    ),
    resource_policy(
        "network-no-world-smtp-submission",
        "Security groups never open SMTP submission (587, 465, 2587) to 0.0.0.0/0 or ::/0.",
        section="network",
        types=SG_TYPES,
        check=_world_ports(SUBMISSION_PORTS, "SMTP submission"),
        severity=Severity.HIGH,
        remediation="Allow 587/465/2587 only from the stack's allowed sender CIDRs.",
        config=_ALLOWED_PORTS,
    ),
    stack_policy(
        "network-smtp-inbound-mx-only",
        f"Inbound 25 from the world only on security groups tagged {MX_TAG_KEY}={MX_TAG_VALUE} (MX hosts).",
        section="network",
        check=_mx_only,
        severity=Severity.HIGH,
        remediation=f"Tag the MX host's security group {{'{MX_TAG_KEY}': '{MX_TAG_VALUE}'}}, or remove the "
        "port-25 rule; pass the group's id output (not a literal) to separate rules.",
    ),
    resource_policy(
        "cloudflare-min-tls-1-2",
        "Cloudflare zones require TLS 1.2 or newer (min_tls_version >= 1.2).",
        section="zones",
        types=[ZONE_SETTING],
        check=_min_tls,
        severity=Severity.HIGH,
        remediation="cloudflare.ZoneSetting(setting_id='min_tls_version', value='1.2').",
    ),
    resource_policy(
        "cloudflare-always-use-https",
        "Cloudflare zones redirect HTTP to HTTPS (always_use_https on).",
        section="zones",
        types=[ZONE_SETTING],
        check=_always_https,
        severity=Severity.MEDIUM,
        remediation="cloudflare.ZoneSetting(setting_id='always_use_https', value='on').",
    ),
    resource_policy(
        "cloudfront-viewer-tls",
        "CloudFront distributions serve viewers over HTTPS only (https-only or redirect-to-https on every "
        "behaviour) and, with their own certificate, nothing below TLS 1.2.",
        section="mtaStsHosting",
        types=aws_std.CLOUDFRONT_SERVING_TYPES,
        check=_cloudfront_viewer_tls,
        severity=Severity.HIGH,
        remediation="viewer_protocol_policy='https-only' on every cache behaviour; an ACM certificate with "
        f"minimum_protocol_version='{aws_std.CLOUDFRONT_SECURITY_POLICY}' (the MtaStsHosting component does).",
    ),
    stack_policy(
        "cloudflare-zone-tls-settings-present",
        "Every Cloudflare zone through which the program serves HTTP(S) (proxied records, Workers routes or "
        "custom domains) declares min_tls_version and always_use_https; DNS-only zones need neither.",
        section="zones",
        check=_zone_settings_present,
        severity=Severity.MEDIUM,
        remediation="Add both cloudflare.ZoneSetting resources for the zone (the Firewall component does).",
    ),
]
