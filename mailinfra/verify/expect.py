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
  ``{domain: [tokens]}``. Each token expects ``<token>._domainkey.<domain>`` CNAME
  ``<token>.dkim.amazonses.com``.

Records still unknown are checked for shape only (their name or value is missing).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mailinfra.dnsplan import DeclaredRecord, declared_records
from policies.mailinfra_policy.standards import dkim as dkim_std
from policies.mailinfra_policy.standards import spf as spf_std

from .errors import VerifyInputError

__all__ = [
    "Expectations",
    "ExpectedRecord",
    "build_expectations",
    "load_json_file",
    "plan_dict",
]


@dataclass(frozen=True)
class ExpectedRecord:
    name: (
        str | None
    )  # absolute, lowercase, no trailing dot; None when unknown until deploy
    type: str
    values: tuple[str, ...] | None  # None when unknown until deploy (shape check only)
    purpose: str
    domain: (
        str  # the domain the record serves (e.g. example.com for _dmarc.example.com)
    )
    source: str = ""  # URN, or "outputs"

    @property
    def label(self) -> str:
        return self.name or f"[unknown {self.type}]"


@dataclass
class Expectations:
    records: list[ExpectedRecord] = field(default_factory=list)
    unknown: list[ExpectedRecord] = field(
        default_factory=list
    )  # names unknown: cannot be queried

    def by_purpose(self, *purposes: str) -> list[ExpectedRecord]:
        return [r for r in self.records if r.purpose in purposes]

    def domains(self, purpose: str) -> list[str]:
        return sorted({r.domain for r in self.records if r.purpose == purpose})


def load_json_file(path: str, what: str) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except OSError as exc:
        raise VerifyInputError(
            f"{what}: cannot read {path!r}: {exc.strerror or exc}"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise VerifyInputError(f"{what}: {path!r} is not valid JSON: {exc}") from None


def plan_dict(plan: Any) -> dict[str, Any]:
    """The JSON form of a plan: a dict as is, a ``mailinfra.engine.Plan`` converted."""
    if isinstance(plan, Mapping):
        return dict(plan)
    try:
        from mailinfra.render import plan_to_dict  # type: ignore[import-not-found,unused-ignore]

        return dict(plan_to_dict(plan))
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


def classify(name: str, rtype: str, value: str | None) -> tuple[str, str]:
    """(purpose, domain) of a record from its name, type and (if known) value."""
    labels = name.split(".")
    lowered = (value or "").lower()
    if rtype == "TXT":
        if "._report._dmarc." in name:
            return "dmarc-report-auth", name.partition("._report._dmarc.")[2]
        if labels[0] == "_dmarc":
            return "dmarc", ".".join(labels[1:])
        if "._domainkey." in name:
            return "dkim", name.partition("._domainkey.")[2]
        if labels[0] == "_mta-sts":
            return "mta-sts", ".".join(labels[1:])
        if labels[:2] == ["_smtp", "_tls"]:
            return "tls-rpt", ".".join(labels[2:])
        if len(labels) > 2 and labels[1] == "_bimi":
            return "bimi", ".".join(labels[2:])
        if value is not None and spf_std.is_spf(value):
            return (
                "null-spf" if lowered.split() == ["v=spf1", "-all"] else "spf"
            ), name
        return "txt", name
    if rtype == "CNAME" and "._domainkey." in name:
        return "easy-dkim", name.partition("._domainkey.")[2]
    if rtype == "MX":
        return "mx", name
    if labels[0] == "mta-sts" and rtype in ("A", "AAAA", "CNAME"):
        return "mta-sts-host", ".".join(labels[1:])
    return rtype.lower(), name


def _from_declared(rec: DeclaredRecord) -> ExpectedRecord:
    value = rec.values[0] if rec.values else None
    if rec.name is None:
        purpose, domain = ("easy-dkim" if rec.type == "CNAME" else "unknown"), rec.zone
    else:
        purpose, domain = classify(rec.name, rec.type, value)
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
                                found.setdefault(
                                    str(dom).lower().rstrip("."), []
                                ).extend(str(t) for t in toks)
                    elif isinstance(value, list):
                        dom = (
                            obj.get("domain")
                            if isinstance(obj.get("domain"), str)
                            else parent_key
                        )
                        if dom:
                            found.setdefault(str(dom).lower().rstrip("."), []).extend(
                                str(t) for t in value
                            )
                else:
                    walk(value, str(key))
        elif isinstance(obj, list):
            for item in obj:
                walk(item, parent_key)

    walk(outputs, None)
    return {
        d: list(dict.fromkeys(t for t in toks if t and t != "[unknown]"))
        for d, toks in found.items()
    }


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
                        if any(
                            not isinstance(v, str) or v in ("[unknown]", "[secret]")
                            for v in vals
                        ):
                            continue
                        rtype = rtype.upper()
                        norm = tuple(
                            v if rtype == "TXT" else v.rstrip(".").lower() for v in vals
                        )
                        found.append((name.rstrip(".").lower(), rtype, norm))
                else:
                    walk(value)
        elif isinstance(obj, list):
            for item in obj:
                walk(item)

    walk(outputs)
    return found


def build_expectations(
    plan: Mapping[str, Any], outputs: Mapping[str, Any] | None = None
) -> Expectations:
    """Expected records from a JSON-form plan, completed with the stack outputs."""
    exp = Expectations()
    seen: set[tuple[str, str]] = set()
    for rec in declared_records(plan):
        item = _from_declared(rec)
        if item.name is None:
            exp.unknown.append(item)
            continue
        key = (item.name, item.type)
        if key in seen:  # the same name/type declared twice: merge values
            for i, old in enumerate(exp.records):
                if (
                    (old.name, old.type) == key
                    and old.values is not None
                    and item.values is not None
                ):
                    merged = tuple(dict.fromkeys(old.values + item.values))
                    exp.records[i] = ExpectedRecord(
                        old.name, old.type, merged, old.purpose, old.domain, old.source
                    )
            continue
        seen.add(key)
        exp.records.append(item)
    filled = 0
    for name, rtype, values in _output_records(outputs or {}):
        purpose, domain = classify(name, rtype, values[0] if values else None)
        if (name, rtype) in seen:
            for i, old in enumerate(exp.records):
                if (old.name, old.type) == (name, rtype) and old.values is None:
                    exp.records[i] = ExpectedRecord(
                        name, rtype, values, old.purpose, old.domain, old.source
                    )
            continue
        seen.add((name, rtype))
        exp.records.append(
            ExpectedRecord(name, rtype, values, purpose, domain, "outputs")
        )
        filled += purpose == "easy-dkim"
    tokens = _dkim_tokens(outputs or {})
    for domain, toks in sorted(tokens.items()):
        for token in toks:
            try:
                name, rtype, target = dkim_std.easy_dkim_cname(domain, token)
            except ValueError:
                continue
            if (name, rtype) in seen:
                continue
            seen.add((name, rtype))
            exp.records.append(
                ExpectedRecord(name, rtype, (target,), "easy-dkim", domain, "outputs")
            )
            filled += 1
    if filled:  # the unknown Easy DKIM CNAMEs are now known
        exp.unknown = [u for u in exp.unknown if u.purpose != "easy-dkim"]
    return exp
