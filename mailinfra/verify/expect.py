"""What must be live: the declared DNS records of a plan, classified by purpose.

The records are read by ``mailinfra.dnsplan.declared_records`` (one reading of Route53
``Record`` - names absolute or relative to the zone - and Cloudflare ``DnsRecord``,
shared with ``mailinfra zone``). Here each record gets a purpose (spf, dkim, dmarc, ...)
from its name and value, and values only known after deploy are filled from the stack
outputs (``pulumi stack output --json``):

- Published records: any key ``records`` holding ``{"<name>/<TYPE>": [values]}`` (what
  this repo's program exports per domain); they fill unknown values and add records
  whose names were unknown in the plan.
- Easy DKIM tokens: any key named ``dkim_tokens`` / ``dkimTokens`` holding a list of
  tokens (the domain is the sibling ``domain`` value or the parent key) or a mapping
  ``{domain: [tokens]}``. Each token expects the CNAME ``standards.dkim.easy_dkim_cname``
  gives for the region of the domain's SES identity in the plan (its ``region`` input,
  else its provider's): ``<token>.dkim.amazonses.com`` or ``<token>.dkim.<region>.amazonses.com``.

Records still unknown are checked for shape only (their name or value is missing).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from mailinfra.dnsplan import DeclaredRecord, declared_records
from mailinfra.policies.mailinfra_policy.standards import dkim as dkim_std
from mailinfra.policies.mailinfra_policy.standards import aws, kinds, mailfrom

from .errors import VerifyInputError

__all__ = [
    "Expectations",
    "ExpectedRecord",
    "build_expectations",
    "easy_dkim_region",
    "is_ses_feedback_mx",
    "load_json_file",
    "mail_from_domains",
    "mx_exchange",
    "plan_dict",
]


@dataclass(frozen=True)
class ExpectedRecord:
    name: str | None  # absolute, lowercase, no trailing dot; None when unknown until deploy
    type: str
    values: tuple[str, ...] | None  # None when unknown until deploy (shape check only)
    purpose: str
    domain: str  # the domain the record serves (e.g. example.com for _dmarc.example.com)
    source: str = ""  # URN, or "outputs"

    @property
    def label(self) -> str:
        return self.name or f"[unknown {self.type}]"


@dataclass
class Expectations:
    records: list[ExpectedRecord] = field(default_factory=list)
    unknown: list[ExpectedRecord] = field(default_factory=list)  # names unknown: cannot be queried
    ses_regions: dict[str, str] = field(
        default_factory=dict
    )  # sending domain -> region of its SES identity (Easy DKIM targets depend on it)
    # the plan's stack config ("<namespace>:<key>" -> value; secure values stay `Secret`s or
    # "[secret]"): the compliance facts that verify checks live (unsubscribe.py)
    config: dict[str, Any] = field(default_factory=dict)
    project: str = ""
    # the plan's outputs overlaid with --outputs (keyage.py reads the keys' creation times)
    outputs: dict[str, Any] = field(default_factory=dict)

    def by_purpose(self, *purposes: str) -> list[ExpectedRecord]:
        return [r for r in self.records if r.purpose in purposes]

    def domains(self, purpose: str) -> list[str]:
        return sorted({r.domain for r in self.records if r.purpose == purpose})


def mx_exchange(value: str) -> str:
    """The host of a declared MX value ``"<preference> <host>"``: lowercase, no final dot."""
    return value.split()[-1].rstrip(".").lower() if value.split() else ""


def is_ses_feedback_mx(value: str) -> bool:
    """SES's MAIL FROM MX target, ``feedback-smtp.<region>.amazonses.com``."""
    return mailfrom.is_feedback_mx(value)


def mail_from_domains(exp: Expectations) -> list[str]:
    """Custom MAIL FROM domains: the SPF beside SES's feedback MX (the registry's mail-from-spf)."""
    return sorted({r.name for r in exp.by_purpose("mail-from-spf") if r.name})


def easy_dkim_region(exp: Expectations, domain: str) -> str | None:
    """The SES region whose Easy DKIM domain serves ``domain`` (its identity's region)."""
    return exp.ses_regions.get(domain.rstrip(".").lower())


def _ses_regions(plan: Mapping[str, Any]) -> dict[str, str]:
    """domain -> region of its SES identity: the identity's own ``region`` input, else
    its explicit provider's ``region`` (a value unknown in preview is skipped)."""
    resources = [r for r in plan.get("resources") or [] if isinstance(r, Mapping)]
    providers = {
        r.get("urn"): (r.get("inputs") or {}).get("region") for r in resources if str(r.get("type", "")) == "pulumi:providers:aws"
    }
    found: dict[str, str] = {}
    for r in resources:
        if r.get("type") not in ("aws:sesv2/emailIdentity:EmailIdentity", "aws:ses/domainIdentity:DomainIdentity"):
            continue
        inputs = r.get("inputs") or {}
        domain = inputs.get("emailIdentity") or inputs.get("domain")
        region = inputs.get("region")
        if not aws.is_aws_region(region):
            # a provider reference is "<provider urn>::<id>"
            ref = str((r.get("options") or {}).get("provider") or "")
            region = providers.get(ref.rpartition("::")[0]) or providers.get(ref)
        if isinstance(domain, str) and aws.is_aws_region(region):
            found[domain.rstrip(".").lower()] = str(region)
    return found


def load_json_file(path: str, what: str) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except OSError as exc:
        raise VerifyInputError(f"{what}: cannot read {path!r}: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise VerifyInputError(f"{what}: {path!r} is not valid JSON: {exc}") from None


def plan_dict(plan: Any) -> dict[str, Any]:
    """The JSON form of a plan: a dict as is, a ``mailinfra.engine.Plan`` converted."""
    if isinstance(plan, Mapping):
        return dict(plan)
    try:
        from mailinfra.render import plan_to_dict  # type: ignore[import-not-found,unused-ignore]

        data = dict(plan_to_dict(plan))
        # the stack config as the plan holds it (Secret wrappers kept, never rendered here)
        data.setdefault("config", dict(getattr(plan, "config", None) or {}))
        return data
    except ImportError:
        pass
    from mailinfra.values import to_jsonable

    return {
        "stack": plan.stack,
        "project": plan.project,
        "resources": [
            {
                "urn": r.urn,
                "type": r.type,
                "name": r.name,
                "parent": r.parent,
                "inputs": to_jsonable(r.inputs),
                "dependencies": list(r.dependencies),
                "options": to_jsonable(r.options),
            }
            for r in plan.resources
        ],
        "violations": [],
        "outputs": to_jsonable(plan.outputs),
    }


def classify(name: str, rtype: str, value: str | Sequence[str] | None) -> tuple[str, str]:
    """(purpose, domain) of a record from its name, type and (if known) values: the
    registry of record kinds (``standards.kinds``), shared with the builders and the pack."""
    return kinds.classify(name, rtype, value)


def _refine(exp: Expectations) -> None:
    """Purposes that need the whole record set (MAIL FROM SPF, a non-sending name's DMARC)."""
    named = [r for r in exp.records if r.name is not None]
    refined = kinds.classify_all((r.name or "", r.type, r.values) for r in named)
    by_id = {id(r): pd for r, pd in zip(named, refined, strict=True)}
    exp.records = [replace(r, purpose=by_id[id(r)][0], domain=by_id[id(r)][1]) if id(r) in by_id else r for r in exp.records]


def _from_declared(rec: DeclaredRecord) -> ExpectedRecord:
    if rec.name is None:
        purpose, domain = ("easy-dkim" if rec.type == "CNAME" else "unknown"), rec.zone
    else:
        purpose, domain = classify(rec.name, rec.type, rec.values)
    return ExpectedRecord(rec.name, rec.type, rec.values, purpose, domain, rec.urn)


def _dkim_tokens(outputs: Any) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}

    def walk(obj: Any, parent_key: str | None) -> None:
        if isinstance(obj, Mapping):
            for key, value in obj.items():
                if str(key).replace("_", "").lower() in (
                    "dkimtokens",
                    "easydkimtokens",
                ):
                    if isinstance(value, Mapping):
                        for dom, toks in value.items():
                            if isinstance(toks, list):
                                found.setdefault(str(dom).lower().rstrip("."), []).extend(str(t) for t in toks)
                    elif isinstance(value, list):
                        dom = obj.get("domain") if isinstance(obj.get("domain"), str) else parent_key
                        if dom:
                            found.setdefault(str(dom).lower().rstrip("."), []).extend(str(t) for t in value)
                else:
                    walk(value, str(key))
        elif isinstance(obj, list):
            for item in obj:
                walk(item, parent_key)

    walk(outputs, None)
    return {d: list(dict.fromkeys(t for t in toks if t and t != "[unknown]")) for d, toks in found.items()}


def _output_records(outputs: Any) -> list[tuple[str, str, tuple[str, ...]]]:
    """Records published by the stack, as exported: ``records: {"<name>/<TYPE>": [values]}``
    (anywhere in the outputs; TXT values unsplit, MX "pref host")."""
    found: list[tuple[str, str, tuple[str, ...]]] = []

    def walk(obj: Any) -> None:
        if isinstance(obj, Mapping):
            for key, value in obj.items():
                if key == "records" and isinstance(value, Mapping):
                    for rkey, vals in value.items():
                        name, sep, rtype = str(rkey).rpartition("/")
                        if not sep or not isinstance(vals, list) or not vals:
                            continue
                        if any(not isinstance(v, str) or v in ("[unknown]", "[secret]") for v in vals):
                            continue
                        rtype = rtype.upper()
                        norm = tuple(v if rtype == "TXT" else v.rstrip(".").lower() for v in vals)
                        found.append((name.rstrip(".").lower(), rtype, norm))
                else:
                    walk(value)
        elif isinstance(obj, list):
            for item in obj:
                walk(item)

    walk(outputs)
    return found


def _overlay(base: Any, over: Any) -> dict[str, Any]:
    """``over`` merged into ``base`` (mappings deeply; a known value replaces an unknown one)."""
    out = dict(base) if isinstance(base, Mapping) else {}
    for key, value in over.items() if isinstance(over, Mapping) else []:
        out[key] = _overlay(out.get(key), value) if isinstance(value, Mapping) else value
    return out


def build_expectations(plan: Mapping[str, Any], outputs: Mapping[str, Any] | None = None) -> Expectations:
    """Expected records from a JSON-form plan, completed with the stack outputs."""
    config = plan.get("config")
    exp = Expectations(
        ses_regions=_ses_regions(plan),
        config=dict(config) if isinstance(config, Mapping) else {},
        project=str(plan.get("project") or ""),
        outputs=_overlay(plan.get("outputs"), outputs),
    )
    seen: set[tuple[str, str]] = set()
    for rec in declared_records(plan):
        item = _from_declared(rec)
        if item.name is None:
            exp.unknown.append(item)
            continue
        key = (item.name, item.type)
        if key in seen:  # the same name/type declared twice: merge values
            for i, old in enumerate(exp.records):
                if (old.name, old.type) == key and old.values is not None and item.values is not None:
                    merged = tuple(dict.fromkeys(old.values + item.values))
                    exp.records[i] = ExpectedRecord(old.name, old.type, merged, old.purpose, old.domain, old.source)
            continue
        seen.add(key)
        exp.records.append(item)
    filled = 0
    for name, rtype, values in _output_records(outputs or {}):
        purpose, domain = classify(name, rtype, values)
        if (name, rtype) in seen:
            for i, old in enumerate(exp.records):
                if (old.name, old.type) == (name, rtype) and old.values is None:
                    exp.records[i] = ExpectedRecord(name, rtype, values, old.purpose, old.domain, old.source)
            continue
        seen.add((name, rtype))
        exp.records.append(ExpectedRecord(name, rtype, values, purpose, domain, "outputs"))
        filled += purpose == "easy-dkim"
    tokens = _dkim_tokens(outputs or {})
    for domain, toks in sorted(tokens.items()):
        for token in toks:
            try:
                name, rtype, target = dkim_std.easy_dkim_cname(domain, token, easy_dkim_region(exp, domain))
            except ValueError:
                continue
            if (name, rtype) in seen:
                continue
            seen.add((name, rtype))
            exp.records.append(ExpectedRecord(name, rtype, (target,), "easy-dkim", domain, "outputs"))
            filled += 1
    if filled:  # the unknown Easy DKIM CNAMEs are now known
        exp.unknown = [u for u in exp.unknown if u.purpose != "easy-dkim"]
    _refine(exp)
    return exp
