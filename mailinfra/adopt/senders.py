"""Known senders: which SPF include, DKIM selector, verification TXT or DMARC report
address belongs to whom. The one table; adopt, its change report and ``plan --live``
all name senders through :func:`sender_of_term` and friends.

Matching is by suffix (``include:_spf.google.com``, ``include:123.spf03.hubspotemail.net``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources

from mailinfra.policies.mailinfra_policy.standards._common import normalize_host
from mailinfra.policies.mailinfra_policy.standards.spf import SpfMechanism, SpfModifier

__all__ = ["SENDERS", "Sender", "dkim_selectors", "report_service", "sender_of_selector", "sender_of_term", "txt_owner"]


@dataclass(frozen=True)
class Sender:
    name: str
    spf_domains: tuple[str, ...] = ()  # include targets (suffix match)
    dkim_selectors: tuple[str, ...] = ()  # the selectors it publishes under <domain>
    txt_prefixes: tuple[str, ...] = ()  # apex TXT it asks for (domain verification)


def _load() -> tuple[tuple[Sender, ...], tuple[tuple[str, str], ...]]:
    # The table is data (senders.json beside this module): host names, not config keys.
    data = json.loads(resources.files(__package__).joinpath("senders.json").read_text(encoding="utf-8"))
    table = tuple(
        Sender(s["name"], tuple(s["spfDomains"]), tuple(s["dkimSelectors"]), tuple(s["txtPrefixes"])) for s in data["senders"]
    )
    return table, tuple((r["domain"], r["name"]) for r in data["reportServices"])


# senders (SPF include targets, DKIM selectors, verification TXT) and the DMARC report
# services (rua/ruf mailto domains). Amazon SES's apex include is the old way: SES now
# aligns SPF through the custom MAIL FROM.
SENDERS, REPORT_SERVICES = _load()


def _under(host: str, suffix: str) -> bool:
    return host == suffix or host.endswith("." + suffix)


def dkim_selectors() -> tuple[str, ...]:
    """Every selector of a known sender: what adopt asks for beside config and --selector."""
    return tuple(dict.fromkeys(s for sender in SENDERS for s in sender.dkim_selectors))


def sender_of_term(term: SpfMechanism | SpfModifier) -> str:
    """Who an SPF term authorises, for messages: a known sender, else the term's own words."""
    value = term.value if isinstance(term, SpfMechanism) else term.value
    if isinstance(term, SpfMechanism) and term.name == "include" and value:
        host = normalize_host(value)
        for sender in SENDERS:
            if any(_under(host, d) for d in sender.spf_domains):
                return sender.name
        return f"the sender behind {host}"
    if isinstance(term, SpfMechanism) and term.name in ("ip4", "ip6"):
        return f"the hosts at {value}"
    if isinstance(term, SpfMechanism) and term.name in ("a", "mx"):
        return f"the domain's own {term.name.upper()} hosts" if not value else f"the {term.name.upper()} hosts of {value}"
    if isinstance(term, SpfModifier) and term.name == "redirect":
        return f"every sender of {value}"
    return f"what {term} authorises"


def sender_of_selector(selector: str) -> str | None:
    sel = selector.lower()
    for sender in SENDERS:
        if any(sel == s or sel.startswith(s + "-") for s in sender.dkim_selectors):
            return sender.name
    return None


def txt_owner(value: str) -> str:
    low = value.lower()
    for sender in SENDERS:
        if any(low.startswith(p) for p in sender.txt_prefixes):
            return sender.name
    return "another service"


def report_service(uri: str) -> str:
    host = uri.split("@", 1)[-1].split("!", 1)[0].lower() if "@" in uri else uri.lower()
    for suffix, name in REPORT_SERVICES:
        if _under(host, suffix):
            return name
    return f"the report destination {uri}"
