"""mailinfra adopt without DNS: the senders table, the loss rules, the new config keys."""

from __future__ import annotations

import copy

import pytest

from mailinfra.components.config import ConfigError, parse_config
from mailinfra.components.wiring import static_records
from mailinfra.adopt import senders
from mailinfra.adopt.changes import dmarc_losses, spf_losses
from mailinfra.policies.mailinfra_policy.standards import spf
from tests.test_config import stack_raw


def _term(text: str) -> spf.SpfMechanism | spf.SpfModifier:
    return spf.parse_spf(f"v=spf1 {text} -all").terms[0]


@pytest.mark.parametrize(
    ("term", "who"),
    [
        ("include:_spf.google.com", "Google Workspace"),
        ("include:spf.protection.outlook.com", "Microsoft 365"),
        ("include:123456.spf03.hubspotemail.net", "HubSpot"),
        ("include:amazonses.com", "Amazon SES"),
        ("include:mail.zendesk.com", "Zendesk"),
        ("include:spf.example.org", "the sender behind spf.example.org"),
        ("ip4:192.0.2.0/24", "the hosts at 192.0.2.0/24"),
    ],
)
def test_senders_are_named_from_the_one_table(term, who):
    assert senders.sender_of_term(_term(term)) == who


def test_selectors_and_report_services():
    assert {"google", "selector1", "selector2", "k1"} <= set(senders.dkim_selectors())
    assert senders.sender_of_selector("selector2") == "Microsoft 365"
    assert senders.sender_of_selector("s2025a") is None
    assert senders.report_service("mailto:x@ag.dmarcian.com") == "dmarcian"
    assert senders.txt_owner("MS=ms123") == "Microsoft 365"


def test_spf_losses_name_the_sender_and_term():
    live = "v=spf1 include:_spf.google.com include:_spf.salesforce.com ip4:192.0.2.1 -all"
    lost = spf_losses("example.com", live, "v=spf1 ip4:192.0.2.1 include:_spf.google.com -all")
    assert [(x.term, x.sender) for x in lost] == [("include:_spf.salesforce.com", "Salesforce")]
    assert "Salesforce" in lost[0].message and "include:_spf.salesforce.com" in lost[0].message
    assert spf_losses("example.com", live, live) == []
    assert spf_losses("example.com", "v=spf1 -ip4:192.0.2.9 ~all", "v=spf1 -all") == []  # fail terms authorise nobody


def test_dmarc_losses_keep_destinations():
    live = "v=DMARC1; p=none; rua=mailto:a@ag.dmarcian.com,mailto:d@example.com"
    lost = dmarc_losses("_dmarc.example.com", live, "v=DMARC1; p=none; rua=mailto:d@example.com")
    assert [(x.term, x.sender) for x in lost] == [("rua=mailto:a@ag.dmarcian.com", "dmarcian")]


def _with(**domain_keys):
    raw, _ = stack_raw("dev")
    raw = copy.deepcopy(raw)
    raw["domains"][0].update(domain_keys)
    return raw


def test_foreign_selectors_and_other_txt_parse():
    cfg = parse_config(
        _with(dkim={"foreignSelectors": ["google", "selector1"]}, otherTxt=["google-site-verification=abc"]),
        stack="dev",
        region="eu-west-1",
    )
    d = cfg.domains[0]
    assert d.dkim.foreign_selectors == ("google", "selector1")
    assert d.other_txt == ("google-site-verification=abc",)
    records, _ = static_records(d, "eu-west-1")
    apex = next(r for r in records if r.purpose == "spf" and r.name == d.name)
    assert d.provider == "route53"  # one record set per name and type: the SPF resource carries it
    assert apex.values[1:] == ("google-site-verification=abc",)


@pytest.mark.parametrize(
    ("keys", "path", "reason"),
    [
        ({"dkim": {"foreignSelectors": ["bad selector"]}}, ".dkim.foreignSelectors[0]", "selector"),
        ({"dkim": {"foreignSelectors": ["a", "a"]}}, ".dkim.foreignSelectors[1]", "twice"),
        ({"otherTxt": ["v=spf1 -all"]}, ".otherTxt[0]", "SPF"),
        ({"otherTxt": ["v=DMARC1; p=none"]}, ".otherTxt[0]", "DMARC"),
        ({"otherTxt": "one"}, ".otherTxt", "list"),
    ],
)
def test_bad_adopt_keys_name_the_key(keys, path, reason):
    with pytest.raises(ConfigError) as err:
        parse_config(_with(**keys), stack="dev", region="eu-west-1")
    assert err.value.path.endswith(path) and reason in str(err.value)
