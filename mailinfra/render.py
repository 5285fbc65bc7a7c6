"""Text and JSON renderings of a Plan.

`plan_to_json(plan, stream)` writes the JSON plan file (docs/plan.schema.json, markers
of mailinfra/planformat.py) resource by resource; `plan_to_text(plan)` returns a
preview-like tree ending with the deploy critical path (mailinfra/graph.py), the
resource count and a verdict line. Text shows an unknown as "[unknown]" and a secret
as "[secret]"; a secret's value is never written.
Violations come from the policy runner: pass them in (or leave them on
`plan.violations`); each is a mapping or an object with policy, enforcement,
severity, urn and message. Every string goes through the plan's `Redactor`: the text
of a secure config value never appears, even where a program or a policy message
copied it into a plain string.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import IO, TYPE_CHECKING, Any

from .graph import critical_path, format_path
from .planformat import FORMAT_VERSION, to_document
from .values import SECRET_TEXT, UNKNOWN, UNKNOWN_TEXT, Redactor, Secret, redactor_for, to_jsonable

if TYPE_CHECKING:
    from .engine import Plan, PlannedResource

VIOLATION_KEYS = ("policy", "enforcement", "severity", "urn", "message")

# Inputs worth showing under each resource in the text tree (engine names).
KEY_INPUTS: dict[str, tuple[str, ...]] = {
    "aws:route53/record:Record": ("name", "type", "ttl", "records"),
    "cloudflare:index/dnsRecord:DnsRecord": ("name", "type", "ttl", "content", "priority", "proxied"),
    "aws:route53/zone:Zone": ("name",),
    "cloudflare:index/zone:Zone": ("name",),
    "cloudflare:index/zoneSetting:ZoneSetting": ("settingId", "value"),
    "aws:kms/key:Key": (
        "description",
        "keyUsage",
        "customerMasterKeySpec",
        "enableKeyRotation",
        "rotationPeriodInDays",
        "deletionWindowInDays",
    ),
    "aws:kms/alias:Alias": ("name", "targetKeyId"),
    "aws:secretsmanager/secret:Secret": ("name", "kmsKeyId", "recoveryWindowInDays"),
    "aws:secretsmanager/secretVersion:SecretVersion": ("secretId", "secretString"),
    "aws:sesv2/emailIdentity:EmailIdentity": ("emailIdentity", "configurationSetName", "dkimSigningAttributes"),
    "aws:sesv2/configurationSet:ConfigurationSet": ("configurationSetName", "deliveryOptions", "suppressionOptions"),
    "aws:sesv2/emailIdentityMailFromAttributes:EmailIdentityMailFromAttributes": (
        "emailIdentity",
        "mailFromDomain",
        "behaviorOnMxFailure",
    ),
    "aws:ec2/securityGroup:SecurityGroup": ("name", "vpcId", "ingress", "egress"),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": (
        "ipProtocol",
        "fromPort",
        "toPort",
        "cidrIpv4",
        "cidrIpv6",
        "referencedSecurityGroupId",
    ),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": (
        "ipProtocol",
        "fromPort",
        "toPort",
        "cidrIpv4",
        "cidrIpv6",
        "referencedSecurityGroupId",
    ),
    "aws:ec2/vpcEndpoint:VpcEndpoint": ("serviceName", "vpcEndpointType", "privateDnsEnabled", "securityGroupIds"),
    "aws:iam/policy:Policy": ("name", "policy"),
    "aws:iam/userPolicy:UserPolicy": ("user", "policy"),
    "aws:iam/accessKey:AccessKey": ("user",),
    "aws:cloudwatch/logGroup:LogGroup": ("name", "retentionInDays", "kmsKeyId"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("namespace", "metricName", "alarmActions"),
}
DEFAULT_KEY_INPUTS = ("name",)


# --- JSON ------------------------------------------------------------------------------


def violation_to_dict(violation: Any, redactor: Redactor | None = None) -> dict[str, Any]:
    """A violation (mapping, dataclass or object) as the five contract keys."""
    if isinstance(violation, Mapping):
        get = violation.get
    else:

        def get(key: str, default: Any = None) -> Any:
            return getattr(violation, key, default)

    out = {k: to_jsonable(get(k, None)) for k in VIOLATION_KEYS}
    return redactor.jsonable(out) if redactor else out


def resource_to_dict(res: PlannedResource, redactor: Redactor | None = None) -> dict[str, Any]:
    """A resource in the in-process placeholder view ("[unknown]" / "[secret]"; see `plan_to_dict`)."""
    out = {
        "urn": res.urn,
        "type": res.type,
        "name": res.name,
        "parent": res.parent,
        "inputs": to_jsonable(res.inputs),
        "dependencies": list(res.dependencies),
        "options": to_jsonable(res.options),
    }
    return redactor.jsonable(out) if redactor else out


def plan_to_dict(plan: Plan, violations: list[Any] | None = None) -> dict[str, Any]:
    """The placeholder view of a plan for in-process readers (zone export, verify): values
    with "[unknown]" / "[secret]" strings. `load_plan_file` turns a JSON plan file into
    the same view; the file itself (`plan_document`) carries typed markers."""
    found = plan.violations if violations is None else violations
    redactor = redactor_for(plan)
    return {
        "stack": plan.stack,
        "project": plan.project,
        "resources": [resource_to_dict(r, redactor) for r in plan.resources],
        "violations": [violation_to_dict(v, redactor) for v in found],
        "outputs": redactor.jsonable(to_jsonable(plan.outputs)),
    }


def resource_document(res: PlannedResource, redactor: Redactor) -> dict[str, Any]:
    """A resource of the JSON plan file (docs/plan.schema.json): typed markers, everything
    a policy reads (inputs, outputs, dependencies, property dependencies, options)."""
    out = {
        "urn": res.urn,
        "type": res.type,
        "name": res.name,
        "parent": res.parent,
        "custom": bool(res.custom),
        "inputs": to_document(res.inputs),
        "outputs": to_document(res.outputs),
        "dependencies": list(res.dependencies),
        "propertyDependencies": {k: list(v) for k, v in res.property_dependencies.items()},
        "options": to_document(res.options),
    }
    return redactor.jsonable(out)


def _head(plan: Plan, redactor: Redactor) -> dict[str, Any]:
    return {
        "formatVersion": FORMAT_VERSION,
        "stack": plan.stack,
        "project": plan.project,
        "preview": bool(getattr(plan, "preview", True)),
        # a secure value is a secret marker here: its text is never written
        "config": redactor.jsonable(to_document(plan.config or {})),
    }


def plan_document(plan: Plan, violations: list[Any] | None = None) -> dict[str, Any]:
    """The JSON plan file as a dict (same content as `plan_to_json`)."""
    found = plan.violations if violations is None else violations
    redactor = redactor_for(plan)
    return {
        **_head(plan, redactor),
        "resources": [resource_document(r, redactor) for r in plan.resources],
        "violations": [violation_to_dict(v, redactor) for v in found],
        "outputs": redactor.jsonable(to_document(plan.outputs)),
    }


def _indented(obj: Any, level: int) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False).replace("\n", "\n" + "  " * level)


def _write_list(stream: IO[str], items: Iterable[dict[str, Any]]) -> None:
    first = True
    for item in items:
        stream.write("\n    " if first else ",\n    ")
        stream.write(_indented(item, 2))
        first = False
    stream.write("]" if first else "\n  ]")


def plan_to_json(plan: Plan, stream: IO[str], violations: list[Any] | None = None) -> None:
    """Write the JSON plan file (docs/plan.schema.json) to `stream`, one resource at a time."""
    found = plan.violations if violations is None else violations
    redactor = redactor_for(plan)
    stream.write("{\n")
    for key, value in _head(plan, redactor).items():
        stream.write(f"  {json.dumps(key)}: {_indented(value, 1)},\n")
    stream.write('  "resources": [')
    _write_list(stream, (resource_document(r, redactor) for r in plan.resources))
    stream.write(',\n  "violations": [')
    _write_list(stream, (violation_to_dict(v, redactor) for v in found))
    stream.write(',\n  "outputs": ')
    stream.write(_indented(redactor.jsonable(to_document(plan.outputs)), 1))
    stream.write("\n}\n")


# --- text ------------------------------------------------------------------------------


def format_value(value: Any, redactor: Redactor | None = None) -> str:
    """Compact, JSON-like; unknowns and secrets as bare [unknown] / [secret]."""
    if value is UNKNOWN:
        return UNKNOWN_TEXT
    if isinstance(value, Secret):
        return SECRET_TEXT
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {format_value(v, redactor)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(v, redactor) for v in value) + "]"
    plain = to_jsonable(value)
    return json.dumps(redactor.jsonable(plain) if redactor else plain, ensure_ascii=False)


def _flags(res: PlannedResource) -> str:
    o = res.options
    flags = [name for name in ("protect", "retainOnDelete", "deleteBeforeReplace") if o.get(name)]
    if o.get("ignoreChanges"):
        flags.append("ignoreChanges=" + ",".join(o["ignoreChanges"]))
    if o.get("provider"):
        flags.append("provider=" + str(o["provider"]).split("::")[-2])
    return f"  [{'; '.join(flags)}]" if flags else ""


def verdict_line(violations: list[Any], judged: bool = True) -> str:
    """The report's last line, as the Markdown summary's heading says it."""
    if not judged:
        return "Verdict: not judged (--no-policies)"
    mandatory = sum(1 for v in violations if violation_to_dict(v)["enforcement"] == "mandatory")
    advisory = len(violations) - mandatory
    verdict = "blocked" if mandatory else ("passes with advisories" if advisory else "passes")
    return f"Verdict: {verdict} ({mandatory} mandatory, {advisory} advisory violation{'' if advisory == 1 else 's'})"


def plan_to_text(plan: Plan, violations: list[Any] | None = None, *, judged: bool = True) -> str:
    """The text report; `judged=False` (--no-policies) says so in the verdict line."""
    found = plan.violations if violations is None else violations
    redactor = redactor_for(plan)
    children: dict[str | None, list[PlannedResource]] = {}
    known = {r.urn for r in plan.resources}
    for r in plan.resources:
        parent = r.parent if r.parent in known else None
        children.setdefault(parent, []).append(r)

    mode = "preview" if getattr(plan, "preview", True) else "update"
    lines = [f"Plan for stack {plan.stack} of project {plan.project} (offline {mode}, mock engine)", ""]
    lines.append(f"+ pulumi:pulumi:Stack {plan.project}-{plan.stack}")

    def walk(parent: str | None, depth: int) -> None:
        for r in children.get(parent, []):
            pad = "  " * depth
            lines.append(f"{pad}+ {r.type} {r.name}{_flags(r)}")
            for key in KEY_INPUTS.get(r.type, DEFAULT_KEY_INPUTS):
                if key in r.inputs:
                    lines.append(f"{pad}      {key}: {format_value(r.inputs[key], redactor)}")
            walk(r.urn, depth + 1)

    walk(None, 1)

    if plan.outputs:
        lines += ["", "Outputs:"]
        lines += [f"    {k}: {format_value(v, redactor)}" for k, v in sorted(plan.outputs.items())]

    if found:
        lines += ["", "Policy violations:"]
        for v in found:
            d = violation_to_dict(v, redactor)
            lines.append(f"    [{d['enforcement']}] {d['policy']} ({d['severity']})")
            if d["urn"]:
                lines.append(f"        {d['urn']}")
            lines.append(f"        {d['message']}")

    n = len(plan.resources)
    lines += ["", format_path(critical_path(plan.resources)), f"{n} resource{'' if n == 1 else 's'} to create"]
    lines.append(verdict_line(found, judged))
    # names and URNs too: a resource named after a secret must not show it
    return redactor.text("\n".join(lines) + "\n")
