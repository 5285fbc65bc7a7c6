"""Firewall: SES SMTP interface endpoint, its security group rules, Cloudflare zone TLS."""

from __future__ import annotations

from typing import Any

import pytest

from mailinfra.components.firewall import (
    MX_ROLE_TAG,
    Firewall,
    FirewallArgs,
    FirewallArgsError,
    rule_suffix,
)
from tests.helpers import build

TAGS = {"owner": "mail", "environment": "prod", "data-classification": "internal"}
SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
ZONE_SETTING = "cloudflare:index/zoneSetting:ZoneSetting"


def _args(**over: Any) -> FirewallArgs:
    base: dict[str, Any] = {
        "region": "eu-west-1",
        "vpc_id": "vpc-0abc",
        "subnet_ids": ("subnet-a", "subnet-b"),
        "allowed_cidrs": ("10.20.0.0/16", "2001:db8:1::/48"),
        "tags": TAGS,
    }
    base.update(over)
    return FirewallArgs(**base)


def test_endpoint_and_security_group(pulumi_mocks):
    _fw, out = build(
        lambda: Firewall("prod-fw", _args()),
        sg=lambda f: f.security_group_id,
        ep=lambda f: f.vpc_endpoint_id,
    )
    (sg,) = pulumi_mocks.of_type(SG)
    assert "ingress" not in sg.inputs and "egress" not in sg.inputs  # no inline rules
    assert sg.inputs["vpcId"] == "vpc-0abc"
    assert sg.inputs["tags"] == TAGS
    assert MX_ROLE_TAG[0] not in sg.inputs["tags"]
    (ep,) = pulumi_mocks.of_type(ENDPOINT)
    assert ep.inputs["serviceName"] == "com.amazonaws.eu-west-1.email-smtp"
    assert ep.inputs["vpcEndpointType"] == "Interface"
    assert ep.inputs["privateDnsEnabled"] is True
    assert ep.inputs["subnetIds"] == ["subnet-a", "subnet-b"]
    assert ep.inputs["securityGroupIds"] == [out["sg"]]
    assert ep.inputs["tags"] == TAGS
    assert ep.inputs["region"] == sg.inputs["region"] == "eu-west-1"
    assert out["ep"] == "prod-fw-smtp-endpoint-id"


def test_one_ingress_rule_per_cidr_and_port_and_no_egress(pulumi_mocks):
    build(lambda: Firewall("prod-fw", _args()), sg=lambda f: f.security_group_id)
    rules = pulumi_mocks.of_type(INGRESS)
    seen = set()
    for r in rules:
        i = r.inputs
        assert i["ipProtocol"] == "tcp"
        assert i["fromPort"] == i["toPort"]
        assert i["securityGroupId"] == "prod-fw-smtp-endpoint-id"
        assert i["tags"] == TAGS
        assert i["region"] == "eu-west-1"
        cidr = i.get("cidrIpv4") or i.get("cidrIpv6")
        assert not ("cidrIpv4" in i and "cidrIpv6" in i)
        seen.add((cidr, int(i["fromPort"])))
    assert seen == {(c, p) for c in ("10.20.0.0/16", "2001:db8:1::/48") for p in (587, 465, 2587)}
    assert len(rules) == 6
    assert not pulumi_mocks.of_type(EGRESS)
    assert all(c not in ("0.0.0.0/0", "::/0") for c, _ in seen)


def test_children_are_parented_and_named_from_component(pulumi_mocks):
    build(lambda: Firewall("prod-fw", _args(cloudflare_zones={"example.com": "zone123"})))
    (comp,) = [r for r in pulumi_mocks.registered if r.type == "mailinfra:firewall:Firewall"]
    children = [r for r in pulumi_mocks.registered if r is not comp]
    assert len(children) == 1 + 6 + 1 + 3
    assert all(r.parent == comp.urn and r.name.startswith("prod-fw-") for r in children)
    assert len({(r.type, r.name) for r in children}) == len(children)


def test_rule_names_do_not_depend_on_order(pulumi_mocks):
    build(
        lambda: Firewall(
            "fw",
            _args(allowed_cidrs=("2001:db8:1::/48", "10.20.0.0/16"), ports=(2587, 587)),
        )
    )
    names = sorted(r.name for r in pulumi_mocks.of_type(INGRESS))
    assert names == sorted(f"fw-in-{rule_suffix(c, p)}" for c in ("10.20.0.0/16", "2001:db8:1::/48") for p in (587, 2587))
    assert rule_suffix("10.20.0.0/16", 587) == "587-10-20-0-0-16"


def test_port_25_only_on_mx_hosts_which_are_tagged(pulumi_mocks):
    build(lambda: Firewall("mx-fw", _args(ports=(25, 587), mx_host=True)))
    (sg,) = pulumi_mocks.of_type(SG)
    assert sg.inputs["tags"]["mailinfra:role"] == "mx"
    ports = sorted({int(r.inputs["fromPort"]) for r in pulumi_mocks.of_type(INGRESS)})
    assert ports == [25, 587]
    assert all(r.inputs["tags"]["mailinfra:role"] == "mx" for r in pulumi_mocks.of_type(INGRESS))


def test_cloudflare_zone_tls_settings(pulumi_mocks):
    fw, _ = build(
        lambda: Firewall(
            "fw",
            FirewallArgs(region="eu-west-1", cloudflare_zones={"example.com": "zone123"}),
        ),
    )
    settings = {r.inputs["settingId"]: r.inputs for r in pulumi_mocks.of_type(ZONE_SETTING)}
    assert settings == {
        "min_tls_version": {
            "zoneId": "zone123",
            "settingId": "min_tls_version",
            "value": "1.2",
        },
        "always_use_https": {
            "zoneId": "zone123",
            "settingId": "always_use_https",
            "value": "on",
        },
        "tls_1_3": {"zoneId": "zone123", "settingId": "tls_1_3", "value": "on"},
    }
    assert not pulumi_mocks.of_type(SG) and not pulumi_mocks.of_type(ENDPOINT)
    assert fw.security_group_id is None
    assert len(fw.zone_setting_ids["example.com"]) == 3


@pytest.mark.parametrize(
    ("over", "message"),
    [
        (
            {"allowed_cidrs": ("0.0.0.0/0",)},
            "allowed_cidrs: SMTP must never be open to the whole internet (got '0.0.0.0/0')",
        ),
        (
            {"allowed_cidrs": ("::/0",)},
            "allowed_cidrs: SMTP must never be open to the whole internet (got '::/0')",
        ),
        (
            {"allowed_cidrs": ("0.0.0.0/1",)},
            "allowed_cidrs: is broader than /8; list the networks that send (got '0.0.0.0/1')",
        ),
        (
            {"allowed_cidrs": ("2000::/3",)},
            "allowed_cidrs: is broader than /32; list the networks that send (got '2000::/3')",
        ),
        (
            {"allowed_cidrs": ("10.0.0.1/16",)},
            "allowed_cidrs: must be a valid CIDR without host bits, such as 10.0.0.0/16 (got '10.0.0.1/16')",
        ),
        (
            {"allowed_cidrs": ("not-a-cidr",)},
            "allowed_cidrs: must be a valid CIDR without host bits, such as 10.0.0.0/16 (got 'not-a-cidr')",
        ),
        (
            {"allowed_cidrs": (10,)},
            "allowed_cidrs: must be a CIDR string such as 10.0.0.0/16 (got 10)",
        ),
        (
            {"allowed_cidrs": ("10.0.0.0/16", "10.0.0.0/16")},
            "allowed_cidrs: must not repeat a CIDR (got ['10.0.0.0/16', '10.0.0.0/16'])",
        ),
        (
            {"allowed_cidrs": ()},
            "allowed_cidrs: at least one CIDR that may submit mail (got [])",
        ),
        ({"ports": (22,)}, "ports: must be in [25, 465, 587, 2587] (got 22)"),
        ({"ports": (587, 587)}, "ports: must not repeat a port (got [587, 587])"),
        ({"ports": ()}, "ports: at least one port (got [])"),
        (
            {"ports": (25,)},
            "ports: inbound 25 is allowed only on MX hosts (mx_host=True) (got 25)",
        ),
        ({"mx_host": "yes"}, "mx_host: must be a bool (got 'yes')"),
        ({"vpc_id": "abc"}, "vpc_id: must be a VPC id (vpc-...) (got 'abc')"),
        (
            {"vpc_id": None},
            "vpc_id: is required with subnet_ids/allowed_cidrs (got None)",
        ),
        (
            {"subnet_ids": ()},
            "subnet_ids: at least one subnet for the endpoint (got [])",
        ),
        (
            {"subnet_ids": ("sn-1",)},
            "subnet_ids: must be a subnet id (subnet-...) (got 'sn-1')",
        ),
        (
            {"region": "west"},
            "region: must be an AWS region name such as eu-west-1 (got 'west')",
        ),
        (
            {"cloudflare_zones": {"Example.com": "z"}},
            "cloudflare_zones: must be lowercase, without a trailing dot, at most 253 characters (got 'Example.com')",
        ),
        (
            {"cloudflare_zones": {"example.com": ""}},
            "cloudflare_zones.example.com: must be a zone id (got '')",
        ),
        (
            {"tags": []},
            "tags: must be a mapping of non-empty str keys to str values (got [])",
        ),
    ],
)
def test_args_validation_messages(over: dict[str, Any], message: str) -> None:
    with pytest.raises(FirewallArgsError) as err:
        _args(**over)
    assert str(err.value) == message


def test_invalid_args_create_nothing(pulumi_mocks) -> None:
    with pytest.raises(FirewallArgsError):
        Firewall("fw", _args(allowed_cidrs=("0.0.0.0/0",)))
    assert pulumi_mocks.registered == []
