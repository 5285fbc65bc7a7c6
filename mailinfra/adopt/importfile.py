"""The ``pulumi import --file`` JSON for what already exists and the stack declares.

Each entry carries the resource's type and its name in the program, and its parent is
the component the program registers it under (the components themselves are entries
with ``"component": true``, so ``pulumi import`` creates them first): the imported
resources take exactly the URNs ``pulumi up`` will compute, and nothing is recreated.

Ids: Route53 records ``<zoneId>_<name>_<TYPE>``; SES identities, their MAIL FROM
attributes and configuration sets by name; Cloudflare records ``<zoneId>/<recordId>``,
which only the Cloudflare API knows (an API token), so without one they are listed
as needing it.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mailinfra.policies.mailinfra_policy import providers

from .changes import Change

__all__ = ["ImportPlan", "build_import", "ses_existing"]

ROUTE53_RECORD = providers.adapter("route53").record_type
CLOUDFLARE_RECORD = providers.adapter("cloudflare").record_type
SES_IDENTITY = "aws:sesv2/emailIdentity:EmailIdentity"
SES_MAIL_FROM = "aws:sesv2/emailIdentityMailFromAttributes:EmailIdentityMailFromAttributes"
SES_CONFIG_SET = "aws:sesv2/configurationSet:ConfigurationSet"
CLOUDFLARE_API = "https://api.cloudflare.com/client/v4"


@dataclass
class ImportPlan:
    resources: list[dict[str, Any]] = field(default_factory=list)
    name_table: dict[str, str] = field(default_factory=dict)
    needs_token: list[str] = field(default_factory=list)  # Cloudflare records (URNs) without an id
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        doc: dict[str, Any] = {"resources": self.resources}
        if self.name_table:
            doc["nameTable"] = self.name_table
        return json.dumps(doc, indent=2) + "\n"

    @property
    def imported(self) -> list[dict[str, Any]]:
        return [r for r in self.resources if not r.get("component")]


def _res(plan: Any) -> dict[str, Any]:
    return {r.urn: r for r in plan.resources}


def ses_existing(
    region: str, identities: Iterable[str], config_sets: Iterable[str], endpoint_url: str | None
) -> tuple[set[str], set[str], dict[str, bool], str | None]:
    """(identities that exist, configuration sets that exist, identity -> has MAIL FROM, problem)."""
    try:
        import boto3
        import botocore.exceptions
    except ImportError:  # pragma: no cover - boto3 is a dependency
        return set(), set(), {}, "boto3 is not installed"
    found_ids: set[str] = set()
    found_sets: set[str] = set()
    mail_from: dict[str, bool] = {}
    try:
        client = boto3.client("sesv2", region_name=region, endpoint_url=endpoint_url)
        for name in identities:
            try:
                got = client.get_email_identity(EmailIdentity=name)
            except client.exceptions.NotFoundException:
                continue
            found_ids.add(name)
            mail_from[name] = bool((got.get("MailFromAttributes") or {}).get("MailFromDomain"))
        for name in config_sets:
            try:
                client.get_configuration_set(ConfigurationSetName=name)
            except client.exceptions.NotFoundException:
                continue
            found_sets.add(name)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        return set(), set(), {}, f"SES not checked ({exc}); give AWS credentials or --endpoint-url"
    return found_ids, found_sets, mail_from, None


def _cloudflare_id(token: str, zone_id: str, name: str, rtype: str, values: Iterable[str], api: str) -> str | None:
    query = urllib.parse.urlencode({"type": rtype, "name": name})
    req = urllib.request.Request(  # noqa: S310 - https API (or a test server given by the caller)
        f"{api.rstrip('/')}/zones/{zone_id}/dns_records?{query}", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
        body = json.load(resp)
    wanted = {v.strip('"') for v in values}
    for item in body.get("result") or []:
        if str(item.get("content", "")).strip('"') in wanted:
            return f"{zone_id}/{item['id']}"
    return None


def build_import(
    plan: Any,
    changes: Iterable[Change],
    *,
    ses: tuple[set[str], set[str], dict[str, bool]] = (set(), set(), {}),
    cloudflare_token: str | None = None,
    cloudflare_api: str = CLOUDFLARE_API,
) -> ImportPlan:
    """Import entries for every declared record that exists live, and the SES resources that exist."""
    by_urn = _res(plan)
    out = ImportPlan()
    picked: list[tuple[Any, str]] = []
    for c in changes:
        if not c.exists or c.urn not in by_urn:
            continue
        r = by_urn[c.urn]
        zone_id = r.inputs.get("zoneId")
        if r.type == ROUTE53_RECORD:
            picked.append((r, f"{zone_id}_{c.name}_{c.type}"))
        elif r.type == CLOUDFLARE_RECORD:
            rid = None
            if cloudflare_token:
                try:
                    rid = _cloudflare_id(cloudflare_token, str(zone_id), c.name, c.type, c.live, cloudflare_api)
                except (OSError, ValueError, KeyError) as exc:
                    out.notes.append(f"Cloudflare lookup of {c.name} {c.type} failed: {exc}")
            if rid is None:
                out.needs_token.append(f"{c.name} {c.type} ({r.name})")
            else:
                picked.append((r, rid))
    identities, config_sets, mail_from = ses
    for r in plan.resources:
        if r.type == SES_IDENTITY and r.inputs.get("emailIdentity") in identities:
            picked.append((r, r.inputs["emailIdentity"]))
        elif r.type == SES_MAIL_FROM and mail_from.get(r.inputs.get("emailIdentity", "")):
            picked.append((r, r.inputs["emailIdentity"]))
        elif r.type == SES_CONFIG_SET and r.inputs.get("configurationSetName") in config_sets:
            picked.append((r, r.inputs["configurationSetName"]))
    names: dict[str, str] = {}  # urn -> entry name in the file

    def entry_name(res: Any) -> str:
        if res.urn in names:
            return names[res.urn]
        name, n = res.name, 1
        while name in names.values():
            n += 1
            name = f"{res.name}-{n}"
        names[res.urn] = name
        return name

    def add(res: Any, **extra: Any) -> dict[str, Any]:
        item: dict[str, Any] = {"type": res.type, "name": entry_name(res)}
        if item["name"] != res.name:
            item["logicalName"] = res.name
        if res.parent and res.parent in by_urn:
            item["parent"] = entry_name(by_urn[res.parent])
        provider = (res.options or {}).get("provider")
        if provider:
            key = provider.split("::")[-2] if "::" in provider else provider
            out.name_table[key] = provider.rsplit("::", 1)[0]
            item["provider"] = key
        item.update(extra)
        return item

    components: list[dict[str, Any]] = []
    seen: set[str] = set()
    for res, _ in picked:
        chain = []
        parent = by_urn.get(res.parent) if res.parent else None
        while parent is not None and parent.urn not in seen:
            chain.append(parent)
            seen.add(parent.urn)
            parent = by_urn.get(parent.parent) if parent.parent else None
        for comp in reversed(chain):  # a parent before its children
            components.append(add(comp, component=True))
    out.resources = components + [add(res, id=rid) for res, rid in picked]
    return out


def urns(plan: Any, entries: Iterable[Mapping[str, Any]]) -> list[str]:
    """The URN each entry takes: its name resolved through its parents (as pulumi import does)."""
    by_name = {e["name"]: e for e in entries}
    by_urn = _res(plan)
    out = []
    for e in entries:
        logical = e.get("logicalName", e["name"])
        for r in plan.resources:
            if r.type == e["type"] and r.name == logical:
                parent = by_name.get(e.get("parent", ""))
                if parent is None or (r.parent in by_urn and by_urn[r.parent].name == parent.get("logicalName", parent["name"])):
                    out.append(r.urn)
                    break
    return out
