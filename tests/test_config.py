"""components/config.py: secure defaults, presets, and errors that name the key."""

from __future__ import annotations

import copy
import os

import pytest
import yaml

from components.config import ConfigError, parse_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def stack_raw(stack: str) -> tuple[dict, str]:
    with open(os.path.join(ROOT, "stacks", f"Pulumi.{stack}.yaml"), encoding="utf-8") as f:
        cfg = yaml.safe_load(f)["config"]
    raw = {k.split(":", 1)[1]: v for k, v in cfg.items() if k.startswith("mailinfra:")}
    return raw, cfg["aws:region"]


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_shipped_stacks_parse(stack: str) -> None:
    raw, region = stack_raw(stack)
    cfg = parse_config(raw, stack=stack, region=region)
    assert cfg.environment == stack
    assert cfg.domains


def test_environment_presets() -> None:
    raw, region = stack_raw("dev")
    for env, dmarc, sts in (("dev", "none", "testing"), ("staging", "quarantine", "testing"), ("prod", "reject", "enforce")):
        r = copy.deepcopy(raw)
        r["environment"] = env
        cfg = parse_config(r, stack="anything", region=region)
        assert cfg.domains[0].dmarc.policy == dmarc
        assert cfg.domains[0].mta_sts.mode == sts


def test_environment_from_stack_name_and_required_otherwise() -> None:
    raw, region = stack_raw("dev")
    del raw["environment"]
    assert parse_config(raw, stack="staging", region=region).environment == "staging"
    with pytest.raises(ConfigError, match=r"mailinfra\.environment: is required"):
        parse_config(raw, stack="feature-x", region=region)


def test_prod_two_providers_and_defaults_inherited() -> None:
    raw, region = stack_raw("prod")
    cfg = parse_config(raw, stack="prod", region=region)
    assert {d.provider for d in cfg.domains} == {"route53", "cloudflare"}
    news = next(d for d in cfg.domains if d.name == "news.example.org")
    # inherited from domainDefaults, merged with the domain's own dmarc settings
    assert news.spf.includes == ("amazonses.com",)
    assert news.dmarc.subdomain_policy == "reject" and news.dmarc.rua == ("mailto:dmarc@example.org",)
    assert news.mta_sts.mx == ("inbound-smtp.eu-west-1.amazonaws.com",)
    assert cfg.tags["environment"] == "prod" and cfg.tags["data-classification"] == "confidential"


def _set(raw: dict, path: list, value) -> None:
    node = raw
    for p in path[:-1]:
        node = node[p]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value


BAD = [
    (["domains", 0, "name"], "mail..example.com", r"mailinfra\.domains\[0\]\.name: must be a domain name \(got 'mail\.\.example\.com'\)"),
    (["domains", 0, "name"], "mail.other.net", r"mailinfra\.domains\[0\]\(mail\.other\.net\)\.zone: no zone"),
    (["domains", 0, "ttl"], 5, r"\.ttl: must be an integer from 60 to 86400 \(got 5\)"),
    (["domains", 0, "ttl"], 100000, r"\.ttl: must be an integer from 60 to 86400 \(got 100000\)"),
    (["domains", 0, "dmarc", "rua"], ["dmarc-at-example.com"], r"\.dmarc\.rua\[0\]: must be an email address \(got 'dmarc-at-example\.com'\)"),
    (["domains", 0, "dmarc", "policy"], "rejected", r"\.dmarc\.policy: must be one of none, quarantine, reject"),
    (["domains", 0, "dmarc", "pct"], 50, r"\.dmarc\.pct: unknown key 'pct'"),
    (["domains", 0, "spf", "all"], "+", r"\.spf\.all: must be one of -, ~ \(got '\+'\)"),
    (["domains", 0, "spf", "ip4"], ["300.1.1.1"], r"\.spf\.ip4\[0\]: must be an IPv4 address or CIDR"),
    (["domains", 0, "spf", "includs"], ["x.example.com"], r"\.spf\.includs: unknown key 'includs'; did you mean 'includes'\?"),
    (["domains", 0, "tlsRpt"], KeyError, r"\.tlsRpt: is required"),
    (["domains", 0, "mtaSts", "maxAge"], 10, r"\.mtaSts\.maxAge: must be an integer from 86400 to 31557600"),
    (["domains", 0, "bimi"], {"logo": "http://x.example.com/l.svg"}, r"\.bimi\.logo: must be an https:// URL"),
    (["domains", 0, "mailFrom"], "bounce.mail", r"\.mailFrom: must be a single DNS label"),
    (["domains", 0, "spf", "includes"], [f"i{n}.example.net" for n in range(11)], r"\.spf\.includes: needs 11 DNS lookups; RFC 7208 allows 10"),
    (["domains", 0, "bimi"], {"logo": "https://b.example.com/l.svg"}, r"\.bimi: BIMI needs DMARC quarantine or reject, not in testing \(dmarc\.policy is none"),
    (["domains", 0, "smtp"], {"keyGenerations": ["1", "2", "3"]}, r"\.smtp\.keyGenerations: must list one or two access-key generations"),
    (["domains", 0, "smtp"], {"keyGenerations": ["1", "2"], "activeKey": "3"}, r"\.smtp\.activeKey: must be one of keyGenerations \(1, 2\) \(got '3'\)"),
    (["relay"], {"senderIps": ["198.51.100.300"]}, r"mailinfra\.relay\.senderIps\[0\]: must be an IP address the relay sends from"),
    (["network", "allowedCidrs"], ["10.0.0.0/33"], r"mailinfra\.network\.allowedCidrs\[0\]: must be a CIDR block"),
    (["network", "allowedCidrs"], ["0.0.0.0/0"], r"mailinfra\.network\.allowedCidrs\[0\]: opens SMTP to the whole internet"),
    (["network", "ports"], [25], r"mailinfra\.network\.ports\[0\]: must be an SMTP submission port"),
    (["keys", "admins"], ["*"], r"mailinfra\.keys\.admins\[0\]: must be an IAM user, role or account-root ARN \(got '\*'\)"),
    (["keys", "rotationDays"], 400, r"mailinfra\.keys\.rotationDays: must be an integer from 90 to 365 \(got 400\)"),
    (["keys", "alertEmail"], "nobody", r"mailinfra\.keys\.alertEmail: must be an email address"),
    (["compliance", "unsubscribeUrl"], "ftp://x", r"mailinfra\.compliance\.unsubscribeUrl: must be an https:// URL"),
    (["compliance", "postalAddress"], KeyError, r"mailinfra\.compliance\.postalAddress: is required"),
    (["zones", "dev.example.com", "provider"], "gandi", r"mailinfra\.zones\.dev\.example\.com\.provider: must be one of route53, cloudflare"),
    (["zones", "dev.example.com", "zoneId"], "z-123", r"mailinfra\.zones\.dev\.example\.com\.zoneId: must be a Route53 hosted zone id \(Z\.\.\.\)"),
    (["keys", "alias"], "aws/mail", r"mailinfra\.keys\.alias: must be a KMS alias name without the alias/ prefix \(aws/ is reserved\)"),
    (["domian"], [], r"mailinfra\.domian: unknown key 'domian'; did you mean 'domains'\?"),
    (["environment"], "production", r"mailinfra\.environment: must be one of dev, staging, prod \(got 'production'\)"),
]


@pytest.mark.parametrize(("path", "value", "message"), BAD, ids=[".".join(map(str, b[0])) + "=" + repr(b[1]) for b in BAD])
def test_bad_values_name_the_key(path, value, message) -> None:
    raw, region = stack_raw("dev")
    _set(raw, path, value)
    with pytest.raises(ConfigError, match=message):
        parse_config(raw, stack="dev", region=region)


def test_prod_refuses_short_deletion_window() -> None:
    raw, region = stack_raw("prod")
    raw["keys"]["deletionWindowDays"] = 7
    with pytest.raises(ConfigError, match=r"mailinfra\.keys\.deletionWindowDays: must be 30 in prod \(a deleted key is unrecoverable\) \(got 7\)"):
        parse_config(raw, stack="prod", region=region)


def test_region_outside_residency() -> None:
    raw, _ = stack_raw("prod")
    with pytest.raises(ConfigError, match=r"aws:region: is not in mailinfra:compliance\.allowedRegions"):
        parse_config(raw, stack="prod", region="us-west-2")


def test_duplicate_domain_and_selector() -> None:
    raw, region = stack_raw("prod")
    raw["domains"].append(copy.deepcopy(raw["domains"][0]))
    with pytest.raises(ConfigError, match=r"mailinfra\.domains\[2\]\.name: is declared twice"):
        parse_config(raw, stack="prod", region=region)
    raw, region = stack_raw("prod")
    sel = raw["domains"][1]["dkim"]["selectors"]
    sel.append(dict(sel[0]))
    with pytest.raises(ConfigError, match=r"dkim\.selectors: lists a selector twice"):
        parse_config(raw, stack="prod", region=region)


def test_fleet_entry_may_be_a_bare_name() -> None:
    raw, region = stack_raw("prod")
    raw["domains"].append("promo.example.com")
    raw["domainDefaults"]["tlsRpt"] = {"rua": ["mailto:tls@example.com"]}
    cfg = parse_config(raw, stack="prod", region=region)
    promo = cfg.domains[-1]
    assert promo.name == "promo.example.com" and promo.zone.name == "example.com"
    assert promo.dmarc.policy == "reject" and promo.tls_rpt.rua == ("mailto:tls@example.com",)


def test_preflight_builds_every_components_args_before_any_resource():
    import dataclasses

    from components import wiring
    from components.keystore import KeyStoreError

    raw, region = stack_raw("prod")
    cfg = parse_config(raw, stack="prod", region=region)
    wiring.preflight(cfg)  # the shipped stack passes
    bad = dataclasses.replace(cfg, keys=dataclasses.replace(cfg.keys, alias="aws/x"))
    with pytest.raises(KeyStoreError, match=r"alias_name: give the name without alias/"):
        wiring.preflight(bad)
    # topics go to one domain only (one SES contact list per account and region)
    assert wiring.topics_by_domain(cfg) == {"mail.example.com": ("newsletter", "product-updates")}
