"""The stack-config entry that declares a live domain without losing anything.

Starts from the stack's own entry for the domain (if any) and adds what is live:
the other senders' SPF includes and networks, the DMARC destinations (and its current
policy, so the first deploy does not tighten it unseen), the other senders' DKIM
selectors as ``dkim.foreignSelectors``, the other apex TXT as ``otherTxt``, TLS-RPT
destinations, the MX hosts (``mxHosts`` and ``mtaSts.mx``) and BIMI. What the config
cannot say (``exists:``, ``ptr``, ``redirect=``, ``a:<other>``...) is listed in
``notes``: the change report then shows it as a lost term.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from mailinfra.policies.mailinfra_policy.standards import bimi, dmarc, spf, tlsrpt
from mailinfra.policies.mailinfra_policy.standards._common import normalize_host
from mailinfra.policies.mailinfra_policy.standards.errors import StandardError

from . import senders
from .live import LiveDomain

__all__ = ["Fragment", "build_entry", "merge_domain", "to_yaml"]


@dataclass
class Fragment:
    entry: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # what was carried over from live, for the report


def _add(values: list[Any], new: Any) -> bool:
    if new in values:
        return False
    values.append(new)
    return True


def _spf(out: dict[str, Any], live: LiveDomain, frag: Fragment) -> None:
    if live.spf is None:
        return
    try:
        record = spf.parse_spf(live.spf)
    except StandardError as exc:
        frag.notes.append(f"the live SPF does not parse ({exc}): nothing kept from it")
        return
    cfg = out.setdefault("spf", {})
    includes = cfg.setdefault("includes", [])
    for term in record.terms:
        if isinstance(term, spf.SpfMechanism):
            if term.name == "all":
                if term.qualifier in ("-", "~"):
                    cfg.setdefault("all", term.qualifier)
                else:
                    cfg.setdefault("all", "~")
                    frag.notes.append(f"the live SPF ends in '{term}': mailinfra allows only -all or ~all (~all written)")
                continue
            if term.qualifier != "+":
                frag.notes.append(f"cannot keep '{term}' (mailinfra:spf declares pass terms only)")
                continue
            if term.name == "include" and term.value and "%" not in term.value:
                host = normalize_host(term.value)
                if host == live.domain:
                    continue
                if _add(includes, host):
                    frag.kept.append(f"SPF include:{host} ({senders.sender_of_term(term)})")
            elif term.name in ("ip4", "ip6") and term.value:
                if _add(cfg.setdefault(term.name, []), term.value):
                    frag.kept.append(f"SPF {term} ({senders.sender_of_term(term)})")
            elif term.name in ("a", "mx") and term.value is None and term.cidr4 is None and term.cidr6 is None:
                cfg[term.name] = True
                frag.kept.append(f"SPF {term}")
            else:
                frag.notes.append(f"cannot keep '{term}' (not expressible in mailinfra:spf)")
        elif term.name == "redirect":
            frag.notes.append(f"cannot keep '{term}': list the target's includes under spf.includes instead")
    if not includes:
        cfg.pop("includes")


def _dmarc(out: dict[str, Any], live: LiveDomain, frag: Fragment) -> None:
    if live.dmarc is None:
        return
    try:
        record = dmarc.parse_dmarc(live.dmarc, strict=False)
    except StandardError as exc:
        frag.notes.append(f"the live DMARC does not parse ({exc}): nothing kept from it")
        return
    cfg = out.setdefault("dmarc", {})
    if "policy" not in cfg and record.p in dmarc.POLICIES:
        cfg["policy"] = record.p  # the first deploy keeps the live policy; tighten in a later change
        frag.kept.append(f"DMARC p={record.p}")
    if record.sp in dmarc.POLICIES:
        cfg.setdefault("subdomainPolicy", record.sp)
    if record.testing:
        cfg.setdefault("testing", True)
    for tag in ("rua", "ruf"):
        for uri in getattr(record, tag):
            have = [str(u).lower() for u in cfg.get(tag, [])]
            if uri.lower() not in have and uri.lower().removeprefix("mailto:") not in have:
                cfg.setdefault(tag, []).append(uri)
                frag.kept.append(f"DMARC {tag}={uri} ({senders.report_service(uri)})")
    if record.removed_tags:
        frag.notes.append(f"the live DMARC has {', '.join(record.removed_tags)} (removed by RFC 9989): not kept")


def build_entry(live: LiveDomain, existing: Mapping[str, Any] | None, *, own_selectors: set[str] = frozenset()) -> Fragment:  # type: ignore[assignment]
    """The domain entry for ``mailinfra:domains``: ``existing`` plus what is live."""
    out: dict[str, Any] = copy.deepcopy(dict(existing)) if existing else {"name": live.domain}
    frag = Fragment(out)
    _spf(out, live, frag)
    _dmarc(out, live, frag)
    foreign = [s for s in live.selectors if s not in own_selectors]
    if foreign:
        dk = out.setdefault("dkim", {})
        lst = dk.setdefault("foreignSelectors", [])
        for sel in foreign:
            if _add(lst, sel):
                who = senders.sender_of_selector(sel) or "another sender"
                frag.kept.append(f"DKIM selector {sel} ({who}), left alone")
    if live.other_txt:
        lst = out.setdefault("otherTxt", [])
        for value in live.other_txt:
            if _add(lst, value):
                frag.kept.append(f"apex TXT {value!r} ({senders.txt_owner(value)})")
    if live.tls_rpt is not None:
        try:
            rua = list(tlsrpt.parse_tlsrpt(live.tls_rpt).rua)
        except StandardError as exc:
            rua = []
            frag.notes.append(f"the live TLS-RPT record does not parse ({exc}): not kept")
        if rua:
            t = out.setdefault("tlsRpt", {})
            for uri in rua:
                _add(t.setdefault("rua", []), uri)
    if "tlsRpt" not in out:
        out["tlsRpt"] = {"rua": [f"mailto:tls-reports@{live.domain}"]}
        frag.notes.append(f"no TLS-RPT live: tlsRpt.rua set to mailto:tls-reports@{live.domain} (review)")
    hosts = live.mx_hosts()
    if hosts:
        if "mxHosts" not in out:
            out["mxHosts"] = hosts
        sts = out.setdefault("mtaSts", {})
        sts.setdefault("mx", hosts)
    elif "mtaSts" not in out:
        out["mtaSts"] = {"enabled": False}
        frag.notes.append("no MX live: MTA-STS left disabled (its policy must list the MX hosts)")
    if live.bimi is not None and "bimi" not in out:
        try:
            rec = bimi.parse_bimi(live.bimi)
            if rec.logo:
                out["bimi"] = {"logo": rec.logo, **({"authority": rec.authority} if rec.authority else {})}
        except (StandardError, AttributeError):
            frag.notes.append("the live BIMI record does not parse: not kept")
    if live.spf_problem:
        frag.notes.append(live.spf_problem)
    return frag


def merge_domain(raw_domains: Any, entry: Mapping[str, Any]) -> list[Any]:
    """``mailinfra:domains`` with ``entry`` replacing the entry of the same name (or appended)."""
    out = list(raw_domains) if isinstance(raw_domains, list) else []
    name = entry["name"]
    for i, item in enumerate(out):
        item_name = item if isinstance(item, str) else item.get("name") if isinstance(item, Mapping) else None
        if isinstance(item_name, str) and item_name.rstrip(".").lower() == name:
            out[i] = dict(entry)
            return out
    out.append(dict(entry))
    return out


def to_yaml(frag: Fragment, *, source: str) -> str:
    head = [
        f"# mailinfra adopt: {frag.entry['name']}, read from {source}",
        "# Put this entry under config: mailinfra:domains in the stack file (replacing any",
        "# entry of the same name); review it, then follow the runbook in the README.",
    ]
    head += [f"# note: {n}" for n in frag.notes]
    body = yaml.safe_dump({"mailinfra:domains": [frag.entry]}, sort_keys=False, default_flow_style=False, width=1000)
    return "\n".join(head) + "\n" + body
