"""Mock provider behaviour for the offline plan: resource outputs and invoke results.

`MockState` implements `pulumi.runtime.Mocks`. For each resource it returns an id and
a state made of the inputs plus the outputs the provider computes. In a preview
(`preview=True`) it behaves like a real provider before create: the id is empty and
every computed output is left out - the SDK then resolves those outputs as unknown,
exactly as in `pulumi preview` - while computed fields nested inside an input object
(SES DKIM tokens inside `dkimSigningAttributes`) are returned as the wire "unknown"
value. Provider ids and auto-names are known in a preview, as they are for real.

Everything is table driven: `RESOURCES` (type token -> spec) and `INVOKES`
(function token -> handler). Unlisted aws:* resources get a generic `arn`; unlisted
invokes return {}.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import rpc

from mailinfra.policies.mailinfra_policy.standards.errors import InputError

from .values import UNKNOWN, Secret

ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"
TIMESTAMP = "2025-01-01T00:00:00Z"


def _h(*parts: Any, n: int = 16) -> str:
    return hashlib.sha256("\x00".join(str(p) for p in parts).encode()).hexdigest()[:n]


def _uuid(*parts: Any) -> str:
    h = _h(*parts, n=32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _str(value: Any, default: str) -> str:
    """A plain string input, or `default` when it is unknown, secret or absent."""
    return value if isinstance(value, str) and value and value != rpc.UNKNOWN else default


@dataclass
class Ctx:
    typ: str
    name: str
    inputs: dict[str, Any]
    region: str
    account: str = ACCOUNT_ID

    def get(self, key: str, default: str | None = None) -> str:
        return _str(self.inputs.get(key), default if default is not None else self.name)

    @property
    def service(self) -> str:
        module = self.typ.split(":")[1].split("/")[0] if ":" in self.typ else "mock"
        return module

    def hash(self, n: int = 16, *extra: Any) -> str:
        return _h(self.typ, self.name, *extra, n=n)


Computed = Callable[[Ctx], Any]


@dataclass(frozen=True)
class ResourceSpec:
    id: Callable[[Ctx], str] | None = None  # physical id (after create)
    computed: Mapping[str, Computed] = field(default_factory=dict)  # outputs unknown in preview
    nested: Mapping[str, Mapping[str, Computed]] = field(default_factory=dict)  # object input -> computed fields
    autoname: str | None = None  # input the provider fills in at check time (known in preview)


def _arn(ctx: Ctx, resource: str, service: str | None = None, region: bool = True) -> str:
    reg = ctx.region if region else ""
    return f"arn:aws:{service or ctx.service}:{reg}:{ctx.account}:{resource}"


def _kms_key_id(ctx: Ctx) -> str:
    return _uuid(ctx.typ, ctx.name)


def _identity(ctx: Ctx) -> str:
    return ctx.get("emailIdentity")


def _dkim_tokens(ctx: Ctx) -> list[str]:
    attrs = ctx.inputs.get("dkimSigningAttributes")
    if isinstance(attrs, dict) and isinstance(attrs.get("domainSigningSelector"), str):
        return [attrs["domainSigningSelector"]]
    return [_h(_identity(ctx), i, n=32) for i in range(3)]


def _dkim_origin(ctx: Ctx) -> str:
    attrs = ctx.inputs.get("dkimSigningAttributes")
    return "EXTERNAL" if isinstance(attrs, dict) and "domainSigningPrivateKey" in attrs else "AWS_SES"


def _dkim_length(ctx: Ctx) -> str:
    attrs = ctx.inputs.get("dkimSigningAttributes")
    return _str(attrs.get("nextSigningKeyLength") if isinstance(attrs, dict) else None, "RSA_2048_BIT")


_DKIM_ATTRS: dict[str, Computed] = {
    "tokens": _dkim_tokens,
    "currentSigningKeyLength": _dkim_length,
    "signingAttributesOrigin": _dkim_origin,
    "status": lambda c: "PENDING",
    "lastKeyGenerationTimestamp": lambda c: TIMESTAMP,
}


def _acm_validation(ctx: Ctx) -> list[dict[str, str]]:
    names = [ctx.get("domainName")]
    sans = ctx.inputs.get("subjectAlternativeNames")
    if isinstance(sans, list):
        names += [s for s in sans if isinstance(s, str) and s not in names]
    return [
        {
            "domainName": d,
            "resourceRecordName": f"_{_h(d, n=32)}.{d.lstrip('*.')}.",
            "resourceRecordType": "CNAME",
            "resourceRecordValue": f"_{_h(d, 'v', n=32)}.acm-validations.aws.",
        }
        for d in names
    ]


def _vpce_id(ctx: Ctx) -> str:
    return "vpce-" + ctx.hash(17)


def _sg_id(ctx: Ctx) -> str:
    return "sg-" + ctx.hash(17)


def _sgr_id(ctx: Ctx) -> str:
    return "sgr-" + ctx.hash(17)


def _zone_id(name: str) -> str:
    return "Z" + _h("route53-zone", name.rstrip(".").lower(), n=20).upper()


def _cf_id(ctx: Ctx) -> str:
    return ctx.hash(32)


_DISTRIBUTION = ResourceSpec(
    id=lambda c: "E" + c.hash(13).upper(),
    computed={
        "arn": lambda c: f"arn:aws:cloudfront::{c.account}:distribution/E{c.hash(13).upper()}",
        "domainName": lambda c: f"d{c.hash(13)}.cloudfront.net",
        "hostedZoneId": lambda c: "Z2FDTNDATAQYW2",
        "status": lambda c: "Deployed",
        "etag": lambda c: "E" + c.hash(13, "etag").upper(),
    },
)

RESOURCES: dict[str, ResourceSpec] = {
    "aws:kms/key:Key": ResourceSpec(
        id=_kms_key_id,
        computed={"arn": lambda c: _arn(c, f"key/{_kms_key_id(c)}"), "keyId": _kms_key_id},
    ),
    "aws:kms/alias:Alias": ResourceSpec(
        id=lambda c: c.get("name"),
        computed={
            "arn": lambda c: _arn(c, c.get("name")),
            "targetKeyArn": lambda c: (
                c.get("targetKeyId") if c.get("targetKeyId").startswith("arn:") else _arn(c, "key/" + c.get("targetKeyId"))
            ),
        },
        autoname="name",
    ),
    "aws:secretsmanager/secret:Secret": ResourceSpec(
        id=lambda c: _arn(c, f"secret:{c.get('name')}-{c.hash(6)}"),
        computed={"arn": lambda c: _arn(c, f"secret:{c.get('name')}-{c.hash(6)}")},
        autoname="name",
    ),
    "aws:secretsmanager/secretVersion:SecretVersion": ResourceSpec(
        id=lambda c: f"{c.get('secretId')}|{_uuid(c.typ, c.name)}",
        computed={"arn": lambda c: c.get("secretId"), "versionId": lambda c: _uuid(c.typ, c.name)},
    ),
    "aws:sesv2/emailIdentity:EmailIdentity": ResourceSpec(
        id=_identity,
        computed={
            "arn": lambda c: _arn(c, f"identity/{_identity(c)}", "ses"),
            "identityType": lambda c: "EMAIL_ADDRESS" if "@" in _identity(c) else "DOMAIN",
            "verifiedForSendingStatus": lambda c: False,
            "dkimSigningAttributes": lambda c: {k: f(c) for k, f in _DKIM_ATTRS.items()},
        },
        nested={"dkimSigningAttributes": _DKIM_ATTRS},
    ),
    "aws:sesv2/configurationSet:ConfigurationSet": ResourceSpec(
        id=lambda c: c.get("configurationSetName"),
        computed={"arn": lambda c: _arn(c, f"configuration-set/{c.get('configurationSetName')}", "ses")},
    ),
    "aws:sesv2/emailIdentityMailFromAttributes:EmailIdentityMailFromAttributes": ResourceSpec(id=_identity),
    "aws:iam/user:User": ResourceSpec(
        id=lambda c: c.get("name"),
        computed={
            "arn": lambda c: _arn(c, f"user{c.get('path', '/')}{c.get('name')}", "iam", region=False),
            "uniqueId": lambda c: "AIDA" + c.hash(17).upper(),
        },
        autoname="name",
    ),
    "aws:iam/role:Role": ResourceSpec(
        id=lambda c: c.get("name"),
        computed={
            "arn": lambda c: _arn(c, f"role{c.get('path', '/')}{c.get('name')}", "iam", region=False),
            "uniqueId": lambda c: "AROA" + c.hash(17).upper(),
            "createDate": lambda c: TIMESTAMP,
        },
        autoname="name",
    ),
    "aws:iam/policy:Policy": ResourceSpec(
        id=lambda c: _arn(c, f"policy{c.get('path', '/')}{c.get('name')}", "iam", region=False),
        computed={
            "arn": lambda c: _arn(c, f"policy{c.get('path', '/')}{c.get('name')}", "iam", region=False),
            "policyId": lambda c: "ANPA" + c.hash(17).upper(),
            "attachmentCount": lambda c: 0,
        },
        autoname="name",
    ),
    "aws:iam/accessKey:AccessKey": ResourceSpec(
        id=lambda c: "AKIA" + c.hash(16).upper(),
        computed={
            "secret": lambda c: "mock-secret-access-key-" + c.hash(24),
            "sesSmtpPasswordV4": lambda c: "mock-smtp-password-" + c.hash(24),
            "createDate": lambda c: TIMESTAMP,
            "status": lambda c: c.get("status", "Active"),
        },
    ),
    "aws:ec2/vpc:Vpc": ResourceSpec(
        id=lambda c: "vpc-" + c.hash(17),
        computed={
            "arn": lambda c: _arn(c, "vpc/vpc-" + c.hash(17), "ec2"),
            "defaultSecurityGroupId": lambda c: "sg-" + c.hash(17, "default"),
            "mainRouteTableId": lambda c: "rtb-" + c.hash(17),
            "ownerId": lambda c: c.account,
        },
    ),
    "aws:ec2/subnet:Subnet": ResourceSpec(
        id=lambda c: "subnet-" + c.hash(17),
        computed={"arn": lambda c: _arn(c, "subnet/subnet-" + c.hash(17), "ec2"), "ownerId": lambda c: c.account},
    ),
    "aws:ec2/securityGroup:SecurityGroup": ResourceSpec(
        id=_sg_id,
        computed={"arn": lambda c: _arn(c, "security-group/" + _sg_id(c), "ec2"), "ownerId": lambda c: c.account},
        autoname="name",
    ),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": ResourceSpec(
        id=_sgr_id,
        computed={"arn": lambda c: _arn(c, "security-group-rule/" + _sgr_id(c), "ec2"), "securityGroupRuleId": _sgr_id},
    ),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": ResourceSpec(
        id=_sgr_id,
        computed={"arn": lambda c: _arn(c, "security-group-rule/" + _sgr_id(c), "ec2"), "securityGroupRuleId": _sgr_id},
    ),
    "aws:ec2/securityGroupRule:SecurityGroupRule": ResourceSpec(
        id=lambda c: "sgrule-" + c.hash(10), computed={"securityGroupRuleId": _sgr_id}
    ),
    "aws:ec2/vpcEndpoint:VpcEndpoint": ResourceSpec(
        id=_vpce_id,
        computed={
            "arn": lambda c: _arn(c, "vpc-endpoint/" + _vpce_id(c), "ec2"),
            "dnsEntries": lambda c: [
                {
                    "dnsName": f"{_vpce_id(c)}-{c.hash(8)}.{c.get('serviceName', 'svc').split('.')[-1]}.{c.region}.vpce.amazonaws.com",
                    "hostedZoneId": "Z" + c.hash(13).upper(),
                }
            ],
            "networkInterfaceIds": lambda c: ["eni-" + c.hash(17)],
            "ownerId": lambda c: c.account,
            "state": lambda c: "available",
        },
    ),
    "aws:route53/zone:Zone": ResourceSpec(
        id=lambda c: _zone_id(c.get("name")),
        computed={
            "zoneId": lambda c: _zone_id(c.get("name")),
            "arn": lambda c: f"arn:aws:route53:::hostedzone/{_zone_id(c.get('name'))}",
            "nameServers": lambda c: [f"ns-{i}.awsdns-{i:02d}.{tld}" for i, tld in enumerate(["com", "net", "org", "co.uk"])],
        },
    ),
    "aws:route53/record:Record": ResourceSpec(
        id=lambda c: f"{c.get('zoneId')}_{c.get('name')}_{c.get('type')}",
        computed={"fqdn": lambda c: c.get("name").rstrip(".")},
    ),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ResourceSpec(
        id=lambda c: c.get("name"), computed={"arn": lambda c: _arn(c, f"alarm:{c.get('name')}")}, autoname="name"
    ),
    "aws:cloudwatch/logGroup:LogGroup": ResourceSpec(
        id=lambda c: c.get("name"),
        computed={"arn": lambda c: _arn(c, f"log-group:{c.get('name')}", "logs")},
        autoname="name",
    ),
    "aws:cloudwatch/eventRule:EventRule": ResourceSpec(
        id=lambda c: c.get("name"),
        computed={"arn": lambda c: _arn(c, f"rule/{c.get('name')}", "events")},
        autoname="name",
    ),
    "aws:sns/topic:Topic": ResourceSpec(
        id=lambda c: _arn(c, c.get("name")), computed={"arn": lambda c: _arn(c, c.get("name"))}, autoname="name"
    ),
    "aws:s3/bucket:Bucket": ResourceSpec(
        id=lambda c: c.get("bucket"),
        computed={
            "arn": lambda c: f"arn:aws:s3:::{c.get('bucket')}",
            "bucketDomainName": lambda c: f"{c.get('bucket')}.s3.amazonaws.com",
            "bucketRegionalDomainName": lambda c: f"{c.get('bucket')}.s3.{c.region}.amazonaws.com",
            "hostedZoneId": lambda c: "Z3AQBSTGFYJSTF",
            "region": lambda c: c.region,
        },
        autoname="bucket",
    ),
    "aws:cloudfront/distribution:Distribution": _DISTRIBUTION,
    # a multi-tenant distribution has a distribution's id, ARN and domain name
    "aws:cloudfront/multitenantDistribution:MultitenantDistribution": _DISTRIBUTION,
    "aws:cloudfront/connectionGroup:ConnectionGroup": ResourceSpec(
        id=lambda c: "cg_" + c.hash(27),
        computed={
            "arn": lambda c: f"arn:aws:cloudfront::{c.account}:connection-group/cg_{c.hash(27)}",
            "routingEndpoint": lambda c: f"d{c.hash(13, 'routing')}.cloudfront.net",
            "isDefault": lambda c: False,
            "etag": lambda c: "E" + c.hash(13, "etag").upper(),
        },
    ),
    "aws:cloudfront/distributionTenant:DistributionTenant": ResourceSpec(
        id=lambda c: "dt_" + c.hash(27),
        computed={
            "arn": lambda c: f"arn:aws:cloudfront::{c.account}:distribution-tenant/dt_{c.hash(27)}",
            "status": lambda c: "Deployed",
            "etag": lambda c: "E" + c.hash(13, "etag").upper(),
        },
    ),
    "aws:acm/certificate:Certificate": ResourceSpec(
        id=lambda c: _arn(c, "certificate/" + _uuid(c.typ, c.name)),
        computed={
            "arn": lambda c: _arn(c, "certificate/" + _uuid(c.typ, c.name)),
            "domainValidationOptions": _acm_validation,
            "status": lambda c: "PENDING_VALIDATION",
        },
    ),
    "cloudflare:index/dnsRecord:DnsRecord": ResourceSpec(
        id=_cf_id,
        computed={"createdOn": lambda c: TIMESTAMP, "modifiedOn": lambda c: TIMESTAMP, "proxiable": lambda c: True},
    ),
    "cloudflare:index/zone:Zone": ResourceSpec(
        id=_cf_id,
        computed={
            "nameServers": lambda c: ["ada.ns.cloudflare.com", "bob.ns.cloudflare.com"],
            "status": lambda c: "pending",
        },
    ),
    "cloudflare:index/zoneSetting:ZoneSetting": ResourceSpec(
        id=lambda c: c.get("settingId"), computed={"editable": lambda c: True, "modifiedOn": lambda c: TIMESTAMP}
    ),
}

_GENERIC_AWS = ResourceSpec(computed={"arn": lambda c: _arn(c, f"{c.typ.rsplit(':', 1)[-1].lower()}/{c.name}")})
_GENERIC = ResourceSpec()


def resource_spec(typ: str) -> ResourceSpec:
    spec = RESOURCES.get(typ)
    if spec is not None:
        return spec
    return _GENERIC_AWS if typ.startswith("aws:") else _GENERIC


def computed_outputs(typ: str) -> list[str]:
    """Names of the outputs this table computes for `typ` (unknown in a preview)."""
    return sorted(resource_spec(typ).computed)


# --- invokes -------------------------------------------------------------------------

InvokeHandler = Callable[[dict[str, Any], str], dict[str, Any]]


def _region_invoke(args: dict[str, Any], region: str) -> dict[str, Any]:
    r = _str(args.get("region") or args.get("name"), region)
    return {"id": r, "name": r, "region": r, "endpoint": f"ec2.{r}.amazonaws.com", "description": r}


def _azs(args: dict[str, Any], region: str) -> dict[str, Any]:
    names = [f"{region}{s}" for s in "abc"]
    return {"id": region, "names": names, "zoneIds": [f"use1-az{i}" for i in (1, 2, 3)], "groupNames": [region]}


def _route53_zone(args: dict[str, Any], region: str) -> dict[str, Any]:
    name = _str(args.get("name"), "")
    zone_id = _str(args.get("zoneId"), "")
    if not name and zone_id:
        name = f"zone-{zone_id.lower()}.example"
    name = name.rstrip(".").lower()
    zone_id = zone_id or _zone_id(name)
    return {
        "id": zone_id,
        "zoneId": zone_id,
        "name": name,
        "arn": f"arn:aws:route53:::hostedzone/{zone_id}",
        "privateZone": bool(args.get("privateZone", False)),
        "nameServers": [f"ns-{i}.awsdns-{i:02d}.{tld}" for i, tld in enumerate(["com", "net", "org", "co.uk"])],
        "resourceRecordSetCount": 2,
        "comment": "",
        "callerReference": _h(name),
    }


def _cloudflare_zone(args: dict[str, Any], region: str) -> dict[str, Any]:
    raw = args.get("filter")
    flt: dict[str, Any] = raw if isinstance(raw, dict) else {}
    name = _str(flt.get("name") or args.get("name"), "")
    zone_id = _str(args.get("zoneId"), "") or _h("cloudflare-zone", name, n=32)
    if not name:
        name = f"zone-{zone_id[:8]}.example"
    return {
        "id": zone_id,
        "zoneId": zone_id,
        "name": name,
        "status": "active",
        "type": "full",
        "paused": False,
        "nameServers": ["ada.ns.cloudflare.com", "bob.ns.cloudflare.com"],
        "account": {"id": _h("cloudflare-account", n=32), "name": "mock"},
    }


INVOKES: dict[str, InvokeHandler] = {
    "aws:index/getCallerIdentity:getCallerIdentity": lambda a, r: {
        "id": ACCOUNT_ID,
        "accountId": ACCOUNT_ID,
        "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/mailinfra-plan",
        "userId": "AIDAMOCKPLANUSER00000",
    },
    "aws:index/getRegion:getRegion": _region_invoke,
    "aws:index/getPartition:getPartition": lambda a, r: {
        "id": "aws",
        "partition": "aws",
        "dnsSuffix": "amazonaws.com",
        "reverseDnsPrefix": "com.amazonaws",
    },
    "aws:index/getAvailabilityZones:getAvailabilityZones": _azs,
    "aws:route53/getZone:getZone": _route53_zone,
    "cloudflare:index/getZone:getZone": _cloudflare_zone,
}


# --- the Mocks implementation ---------------------------------------------------------


class MockState(pulumi.runtime.Mocks):
    """Table-driven mocks; `preview=True` leaves computed outputs unknown."""

    def __init__(
        self,
        *,
        preview: bool = True,
        config: Mapping[str, str] | None = None,
        references: Mapping[str, Mapping[str, Any]] | None = None,
        stack: str = "",
    ) -> None:
        self.preview = preview
        # Pulumi's auto-names end in random characters, so two stacks never make the same
        # one: the stack salts the suffix here (a fleet's shards each declare `smtp-platform-1`).
        self.stack = stack
        # stack name -> its outputs, for pulumi.StackReference (a fleet shard reads its core's)
        self.references = dict(references or {})
        self.reference_error: StackReferenceError | None = None  # the SDK buries it in a chain of ValueErrors
        self.region = _str((config or {}).get("aws:region"), DEFAULT_REGION)
        self._provider_regions: dict[str, str] = {}

    def _region_for(self, provider_ref: str | None) -> str:
        if provider_ref:
            return self._provider_regions.get(provider_ref.rsplit("::", 1)[-1], self.region)
        return self.region

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        inputs = dict(args.inputs)
        if args.typ.startswith("pulumi:providers:"):
            pid = f"{args.name}-{_h(args.typ, args.name, n=8)}"
            if args.typ == "pulumi:providers:aws":
                self._provider_regions[pid] = _str(inputs.get("region"), self.region)
            return pid, inputs
        if args.typ == STACK_REFERENCE:
            return self._stack_reference(inputs)
        if not args.custom:
            return "", inputs

        spec = resource_spec(args.typ)
        ctx = Ctx(args.typ, args.name, inputs, self._region_for(args.provider))
        state = dict(inputs)
        if spec.autoname and spec.autoname not in state and "namePrefix" not in state:
            state[spec.autoname] = f"{args.name}-{_h(self.stack, args.typ, args.name, n=7)}"
            ctx = Ctx(args.typ, args.name, state, ctx.region)
        elif spec.autoname and spec.autoname not in state and isinstance(state.get("namePrefix"), str):
            state[spec.autoname] = f"{state['namePrefix']}{ctx.hash(26)}"
            ctx = Ctx(args.typ, args.name, state, ctx.region)
        if isinstance(state.get("tags"), dict) and "tagsAll" not in state:
            state["tagsAll"] = state["tags"]

        if self.preview:
            for prop, fields in spec.nested.items():
                obj = state.get(prop)
                if isinstance(obj, dict):
                    state[prop] = {**{k: rpc.UNKNOWN for k in fields}, **obj}
            return "", state

        for prop, compute in spec.computed.items():
            if prop in spec.nested and isinstance(state.get(prop), dict):
                state[prop] = {**compute(ctx), **state[prop]}
            elif prop not in state:
                state[prop] = compute(ctx)
        rid = spec.id(ctx) if spec.id else f"{args.name}-{ctx.hash(8)}"
        return rid, state

    def _stack_reference(self, inputs: Mapping[str, Any]) -> tuple[str, dict]:
        """A StackReference reads the other stack's outputs, in a preview as in an update:
        here from that stack's offline plan (``references``); secret outputs stay secret."""
        name = inputs.get("name")
        if not isinstance(name, str) or name not in self.references:
            known = ", ".join(sorted(self.references)) or "none"
            self.reference_error = StackReferenceError(
                f"pulumi.StackReference({name!r}): no offline plan of that stack was given (planned: {known}); "
                "plan a fleet's shard with `mailinfra plan --fleet CORE` or `mailinfra plan --stack SHARD` "
                "with the core's stack file beside it"
            )
            raise self.reference_error
        outputs: dict[str, Any] = {}
        secret_names: list[str] = []
        for key, value in self.references[name].items():
            if isinstance(value, Secret):
                secret_names.append(key)
                value = value.reveal()
            outputs[key] = _to_wire(value)
        return name, {"name": name, "outputs": outputs, "secretOutputNames": sorted(secret_names)}

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:  # type: ignore[override]
        handler = INVOKES.get(args.token)
        if handler is None:
            return {}
        return handler(dict(args.args), self._region_for(args.provider))


STACK_REFERENCE = "pulumi:pulumi:StackReference"


class StackReferenceError(InputError):
    """A StackReference to a stack whose offline plan was not given (exit 2, one line)."""


def _to_wire(value: Any) -> Any:
    """A plan value (UNKNOWN, Secret, nested) back as the mock hands it to the SDK."""
    if value is UNKNOWN:
        return rpc.UNKNOWN
    if isinstance(value, Secret):
        return rpc.wrap_rpc_secret(_to_wire(value.reveal()))
    if isinstance(value, dict):
        return {k: _to_wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_wire(v) for v in value]
    return value
