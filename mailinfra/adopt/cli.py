"""``mailinfra adopt --domain NAME --stack S``: read what is live, write the config
fragment that keeps it, report what the first ``pulumi up`` would change, and (with
``--import-file``) the ``pulumi import --file`` JSON. Exit 0; 1 when a change would
still cut off a live sender (a term the config cannot say); 2 on bad input."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from typing import Any

import click
import yaml

from ..cliutil import InputError, default_project, input_errors, make_plan, one_line

__all__ = ["adopt"]


def _stack_file(project: str, stack: str) -> tuple[str, dict[str, Any]]:
    from ..project import find_stack_file, load_project

    with input_errors():
        path = find_stack_file(load_project(project), stack)
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"{path}: {one_line(exc)}") from None
    if not isinstance(data, dict) or not isinstance(data.get("config") or {}, dict):
        raise InputError(f"{path}: expected a mapping with a config: key")
    data.setdefault("config", {})
    return path, data


def _existing(domains: Any, name: str) -> dict[str, Any] | None:
    for item in domains if isinstance(domains, list) else []:
        if isinstance(item, str) and item.rstrip(".").lower() == name:
            return {"name": name}
        if isinstance(item, dict) and str(item.get("name", "")).rstrip(".").lower() == name:
            return item
    return None


def _write(path: str, text: str, what: str) -> None:
    from ..outfile import OutputError, atomic_output

    try:
        with atomic_output(path, what) as f:
            f.write(text)
    except OutputError as exc:
        raise InputError(one_line(exc)) from None


@click.command()
@click.option("--domain", "domain", required=True, help="The sending domain to adopt.")
@click.option(
    "--stack",
    "-s",
    required=True,
    help="Stack name (reads Pulumi.<stack>.yaml; its mailinfra:zones must hold the domain's zone).",
)
@click.option("--project", type=click.Path(file_okay=False), default=None, help="Pulumi project directory (default: this repo).")
@click.option("--nameserver", "nameservers", multiple=True, help="Send every DNS query to HOST[:PORT] (repeatable).")
@click.option("--selector", "selectors", multiple=True, help="Also look for this DKIM selector (repeatable).")
@click.option("--timeout", type=float, default=5.0, show_default=True, help="Seconds per DNS query.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--fragment", "fragment_file", type=click.Path(), default=None, help="Write the stack-config fragment (YAML) here.")
@click.option("--import-file", "import_file", type=click.Path(), default=None, help="Write the `pulumi import --file` JSON here.")
@click.option("--ses", "check_ses", is_flag=True, help="Look up the SES identity and configuration set (boto3: AWS credentials).")
@click.option("--endpoint-url", default=None, help="AWS API endpoint for --ses (an emulator); default: boto3's configuration.")
@click.option(
    "--cloudflare-api",
    default=None,
    help="Cloudflare API base URL for record ids (with CLOUDFLARE_API_TOKEN); default: https://api.cloudflare.com/client/v4.",
)
def adopt(
    domain: str,
    stack: str,
    project: str | None,
    nameservers: tuple[str, ...],
    selectors: tuple[str, ...],
    timeout: float,
    fmt: str,
    fragment_file: str | None,
    import_file: str | None,
    check_ses: bool,
    endpoint_url: str | None,
    cloudflare_api: str | None,
) -> None:
    """Declare a domain that already sends mail, keeping every live sender."""
    from mailinfra.policies.mailinfra_policy.standards._common import normalize_host, zone_for

    from . import fragment as fr
    from . import senders
    from .changes import Summary
    from .guard import client_for, live_changes
    from .importfile import CLOUDFLARE_API, build_import, ses_existing
    from .live import read_domain

    project = project or default_project()
    name = normalize_host(domain)
    path, data = _stack_file(project, stack)
    config = data["config"]
    zones = config.get("mailinfra:zones") or {}
    if not isinstance(zones, dict) or zone_for(name, [str(z) for z in zones]) is None:
        raise InputError(
            f"--domain: no zone under mailinfra:zones in {path} contains {name} (declare its zone: provider, zoneId)"
        )
    existing = _existing(config.get("mailinfra:domains"), name)
    own = {str(s.get("name")).lower() for s in ((existing or {}).get("dkim") or {}).get("selectors", []) if isinstance(s, dict)}
    mail_from = str((existing or {}).get("mailFrom", "bounce"))
    with input_errors():
        client = client_for(nameservers, timeout)
        live = read_domain(client, name, selectors=[*own, *senders.dkim_selectors(), *selectors], mail_from=mail_from)
    frag = fr.build_entry(live, existing, own_selectors=own)
    candidate = dict(data)
    candidate["config"] = dict(config)
    candidate["config"]["mailinfra:domains"] = fr.merge_domain(config.get("mailinfra:domains"), frag.entry)
    with tempfile.TemporaryDirectory(prefix="mailinfra-adopt-") as tmp:
        with open(os.path.join(tmp, os.path.basename(path)), "w", encoding="utf-8") as f:
            yaml.safe_dump(candidate, f, sort_keys=False)
        plan = make_plan(project, stack, stack_dir=tmp)
    changes = live_changes(plan, client, name)
    losses = [loss for c in changes for loss in c.losses]
    source = ", ".join(nameservers) or "the system resolver"
    fragment_text = fr.to_yaml(frag, source=source)
    imports = None
    if import_file is not None:
        ses: tuple[set[str], set[str], dict[str, bool]] = (set(), set(), {})
        note = "SES identities and configuration sets not looked up (add --ses)"
        if check_ses:
            region = str(config.get("aws:region") or "us-east-1")
            ids = [r.inputs.get("emailIdentity", "") for r in plan.resources if r.type.startswith("aws:sesv2/emailIdentity:")]
            sets_ = [
                r.inputs.get("configurationSetName", "")
                for r in plan.resources
                if r.type.startswith("aws:sesv2/configurationSet:")
            ]
            found_ids, found_sets, mf, problem = ses_existing(region, ids, sets_, endpoint_url)
            ses, note = (found_ids, found_sets, mf), problem or ""
        imports = build_import(
            plan,
            changes,
            ses=ses,
            cloudflare_token=os.environ.get("CLOUDFLARE_API_TOKEN") or None,
            cloudflare_api=cloudflare_api or CLOUDFLARE_API,
        )
        if note:
            imports.notes.append(note)
        _write(import_file, imports.to_json(), "--import-file")
    if fragment_file is not None:
        _write(fragment_file, fragment_text, "--fragment")
    summary = Summary.of(changes).counts
    if fmt == "json":
        doc = {
            "domain": name,
            "stack": stack,
            "live": {
                "spf": live.spf,
                "spfTree": live.spf_tree,
                "dmarc": live.dmarc,
                "dkimSelectors": {s: list(v.values) for s, v in live.selectors.items()},
                "otherTxt": list(live.other_txt),
                "mtaSts": live.mta_sts,
                "tlsRpt": live.tls_rpt,
                "bimi": live.bimi,
                "mx": list(live.mx),
                "mailFrom": {
                    "name": live.mail_from,
                    **{t: list(s.values) for (n, t), s in live.sets.items() if n == live.mail_from},
                },
            },
            "fragment": {"mailinfra:domains": [frag.entry]},
            "kept": frag.kept,
            "notes": frag.notes,
            "changes": [c.to_dict() for c in changes],
            "summary": summary,
            "losses": [loss.to_dict() for loss in losses],
            "import": None
            if imports is None
            else {
                "file": import_file,
                "resources": len(imports.imported),
                "needsToken": imports.needs_token,
                "notes": imports.notes,
            },
        }
        click.echo(json.dumps(doc, indent=2))
    else:
        lines = [f"adopt {name} (stack {stack}, DNS from {source})", ""]
        lines.append("live:")
        lines.append(f"  SPF    {live.spf or '(none)'}")
        for inc, text in live.spf_tree.items():
            lines.append(f"    {inc}: {text or '(no SPF record)'}")
        lines.append(f"  DMARC  {live.dmarc or '(none)'}")
        for sel, s in live.selectors.items():
            lines.append(f"  DKIM   {sel} ({senders.sender_of_selector(sel) or 'unknown sender'}): {s.type}")
        for v in live.other_txt:
            lines.append(f"  TXT    {v}")
        lines.append(f"  MX     {', '.join(live.mx) or '(none)'}")
        lines.append(f"  MTA-STS {live.mta_sts or '(none)'}; TLS-RPT {live.tls_rpt or '(none)'}; BIMI {live.bimi or '(none)'}")
        lines.append("")
        lines.append("kept:" if frag.kept else "kept: nothing")
        lines += [f"  {k}" for k in frag.kept]
        lines += [f"note: {n}" for n in frag.notes]
        lines.append("")
        lines.append("first `pulumi up`, record by record:")
        for c in changes:
            lines.append(f"  {c.status:<9} {c.type:<5} {c.name}" + (f"  ({c.note})" if c.note else ""))
            lines += [f"    BREAKS {loss.sender}: {loss.message}" for loss in c.losses]
        lines.append("  " + ", ".join(f"{n} {k}" for k, n in summary.items()))
        if imports is not None:
            lines.append("")
            lines.append(f"import file: {import_file} ({len(imports.imported)} resources)")
            lines += [f"  needs CLOUDFLARE_API_TOKEN: {n}" for n in imports.needs_token]
            lines += [f"  note: {n}" for n in imports.notes]
        if fragment_file is None:
            lines += ["", fragment_text.rstrip()]
        else:
            lines += ["", f"fragment: {fragment_file}"]
        click.echo("\n".join(lines))
    if losses:
        sys.exit(1)
