"""components/config.py: secure defaults, presets, and errors that name the key."""

from __future__ import annotations

import copy
import os

import pytest
import yaml

from mailinfra.components.config import ConfigError, parse_config

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
    (
        ["domains", 0, "name"],
        "mail..example.com",
        r"mailinfra\.domains\[0\]\.name: must be a domain name \(got 'mail\.\.example\.com'\)",
    ),
    (["domains", 0, "name"], "mail.other.net", r"mailinfra\.domains\[0\]\(mail\.other\.net\)\.zone: no zone"),
    (["domains", 0, "ttl"], 5, r"\.ttl: must be an integer from 60 to 86400 \(got 5\)"),
    (["domains", 0, "ttl"], 100000, r"\.ttl: must be an integer from 60 to 86400 \(got 100000\)"),
    (
        ["domains", 0, "dmarc", "rua"],
        ["dmarc-at-example.com"],
        r"\.dmarc\.rua\[0\]: must be an email address or mailto: URI \(got 'dmarc-at-example\.com'\)",
    ),
    (["domains", 0, "dmarc", "policy"], "rejected", r"\.dmarc\.policy: must be one of none, quarantine, reject"),
    (["domains", 0, "dmarc", "pct"], 50, r"\.dmarc\.pct: unknown key 'pct'"),
    (["domains", 0, "spf", "all"], "+", r"\.spf\.all: must be one of -, ~ \(got '\+'\)"),
    (["domains", 0, "spf", "ip4"], ["300.1.1.1"], r"\.spf\.ip4\[0\]: SPF ip4 value '300\.1\.1\.1' is not a valid network"),
    (["domains", 0, "spf", "includs"], ["x.example.com"], r"\.spf\.includs: unknown key 'includs'; did you mean 'includes'\?"),
    (["domains", 0, "tlsRpt"], KeyError, r"\.tlsRpt: is required"),
    (["domains", 0, "mtaSts", "maxAge"], 10, r"\.mtaSts\.maxAge: must be an integer from 86400 to 31557600"),
    (["domains", 0, "bimi"], {"logo": "http://x.example.com/l.svg"}, r"\.bimi\.logo: BIMI tag 'l' must be an https:// URL \(got"),
    (["domains", 0, "mailFrom"], "bounce.mail", r"\.mailFrom: must be a single DNS label"),
    (
        ["domains", 0, "spf", "includes"],
        [f"i{n}.example.net" for n in range(11)],
        r"\.spf\.includes: SPF record has 11 DNS-querying terms, over the limit of 10",
    ),
    (
        ["domains", 0, "bimi"],
        {"logo": "https://b.example.com/l.svg"},
        r"\.bimi: BIMI needs DMARC quarantine or reject, not p=none \(dmarc\.policy is none",
    ),
    (
        ["domains", 0, "smtp"],
        {"keyGenerations": ["1", "2", "3"]},
        r"\.smtp\.keyGenerations: must list one or two access-key generations",
    ),
    (
        ["domains", 0, "smtp"],
        {"keyGenerations": ["1", "2"], "activeKey": "3"},
        r"\.smtp\.activeKey: must be one of keyGenerations \(1, 2\) \(got '3'\)",
    ),
    (
        ["relay"],
        {"senderIps": ["198.51.100.300"]},
        r"mailinfra\.relay\.senderIps\[0\]: must be an IP address the relay sends from",
    ),
    (["network", "allowedCidrs"], ["10.0.0.0/33"], r"mailinfra\.network\.allowedCidrs\[0\]: must be a CIDR block"),
    (["network", "allowedCidrs"], ["0.0.0.0/0"], r"mailinfra\.network\.allowedCidrs\[0\]: opens SMTP to the whole internet"),
    (["network", "ports"], [25], r"mailinfra\.network\.ports\[0\]: must be an SMTP submission port"),
    (["keys", "admins"], ["*"], r"mailinfra\.keys\.admins\[0\]: must be an IAM user, role or account-root ARN \(got '\*'\)"),
    (["keys", "rotationDays"], 400, r"mailinfra\.keys\.rotationDays: must be an integer from 90 to 365 \(got 400\)"),
    (["keys", "alertEmail"], "nobody", r"mailinfra\.keys\.alertEmail: must be an email address"),
    (["compliance", "unsubscribeUrl"], "ftp://x", r"mailinfra\.compliance\.unsubscribeUrl: must be an https:// URL"),
    (["compliance", "postalAddress"], KeyError, r"mailinfra\.compliance\.postalAddress: is required"),
    (
        ["zones", "dev.example.com", "provider"],
        "gandi",
        r"mailinfra\.zones\.dev\.example\.com\.provider: must be one of route53, cloudflare",
    ),
    (
        ["zones", "dev.example.com", "zoneId"],
        "z-123",
        r"mailinfra\.zones\.dev\.example\.com\.zoneId: must be a Route53 hosted zone id \(Z\.\.\.\)",
    ),
    (
        ["keys", "alias"],
        "aws/mail",
        r"mailinfra\.keys\.alias: must be a KMS alias name without the alias/ prefix \(aws/ is reserved\)",
    ),
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
    with pytest.raises(
        ConfigError, match=r"mailinfra\.keys\.deletionWindowDays: must be 30 in prod \(a deleted key is unrecoverable\) \(got 7\)"
    ):
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
    with pytest.raises(ConfigError, match=r"dkim\.selectors\[1\]\.name: lists a selector twice \(got 's2026a'\)"):
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

    from mailinfra.components import wiring

    raw, region = stack_raw("prod")
    cfg = parse_config(raw, stack="prod", region=region)
    wiring.preflight(cfg)  # the shipped stack passes
    bad = dataclasses.replace(cfg, keys=dataclasses.replace(cfg.keys, alias="aws/x"))
    # the component's own check, reported as the stack-file key (not alias_name)
    with pytest.raises(ConfigError, match=r"^mailinfra\.keys\.alias: give the name without alias/.* \(got 'aws/x'\)$"):
        wiring.preflight(bad)
    # topics go to one domain only (one SES contact list per account and region)
    assert wiring.topics_by_domain(cfg) == {"mail.example.com": ("newsletter", "product-updates")}


# --------------------------------------------------------------- issue 11, defect 8: keys as written


def _preflight_error(raw: dict, stack: str = "prod", region: str = "eu-west-1") -> str:
    from mailinfra.components import wiring

    with pytest.raises(ConfigError) as err:
        wiring.preflight(parse_config(raw, stack=stack, region=region))
    return str(err.value)


def test_component_rule_is_reported_at_the_stack_key() -> None:
    # the Firewall refuses CIDRs broader than /8; the user wrote allowedCidrs, not allowed_cidrs
    raw, region = stack_raw("prod")
    raw["network"]["allowedCidrs"].append("16.0.0.0/4")
    message = _preflight_error(raw, region=region)
    assert message.startswith("mailinfra.network.allowedCidrs[2]: is broader than /8")
    assert message.endswith("(got '16.0.0.0/4')") and "allowed_cidrs" not in message


def test_selector_rotation_error_names_the_key_and_the_date_as_written() -> None:
    raw, region = stack_raw("prod")
    raw["domains"][1]["dkim"]["selectors"] = yaml.safe_load(
        """
        - {name: s2026a, published: 2026-01-05}
        - {name: s2026b, published: 2026-06-01, retireAfter: 2026-06-09}
        - {name: s2026c, published: 2026-06-03}
        """
    )  # unquoted: YAML makes these datetime.date objects
    message = _preflight_error(raw, region=region)
    assert message.startswith("mailinfra.domains[1](news.example.org).dkim.selectors[1].retireAfter: ")
    assert message.endswith("(got 2026-06-09)")
    assert "retire_after" not in message and "datetime" not in message


def test_missing_key_reads_missing() -> None:
    raw, region = stack_raw("dev")
    del raw["compliance"]["postalAddress"]
    with pytest.raises(ConfigError) as err:
        parse_config(raw, stack="dev", region=region)
    assert str(err.value) == "mailinfra.compliance.postalAddress: is required (missing)"


@pytest.mark.parametrize(
    ("spf", "message"),
    [
        (
            {"ip4": ["10.0.0.0/8", "203.0.113.7/24"]},
            "spf.ip4[1]: SPF ip4 value '203.0.113.7/24' has host bits set (use 203.0.113.0/24) (got '203.0.113.7/24')",
        ),
        (
            {"includes": ["amazonses.com", "spf..example.net"]},
            "spf.includes[1]: SPF include domain 'spf..example.net' is not a valid domain name (got 'spf..example.net')",
        ),
        ({"ip6": ["2001:db8::1/32"]}, "spf.ip6[0]: SPF ip6 value '2001:db8::1/32' has host bits set"),
    ],
)
def test_standards_errors_carry_the_key_path(spf: dict, message: str) -> None:
    raw, region = stack_raw("dev")
    raw["domains"][0]["spf"] = spf
    with pytest.raises(ConfigError) as err:
        parse_config(raw, stack="dev", region=region)
    assert str(err.value).startswith("mailinfra.domains[0](mail.dev.example.com)." + message)


def test_txt_too_long_for_cloudflare_names_the_key() -> None:
    raw, region = stack_raw("prod")
    news = raw["domains"][1]  # in the Cloudflare zone example.org
    news["spf"] = {"ip4": [f"198.51.{i // 256}.{i % 256}" for i in range(300)]}
    with pytest.raises(
        ConfigError,
        match=r"^mailinfra\.domains\[1\]\(news\.example\.org\)\.spf: TXT record news\.example\.org is \d+ bytes in wire format, over Cloudflare's",
    ):
        parse_config(raw, stack="prod", region=region)


def test_txt_too_long_for_route53_names_the_key() -> None:
    # Route53 takes at most 4,000 characters per value: refused at the key, not at deploy.
    raw, region = stack_raw("dev")
    raw["domains"][0]["spf"] = {"ip4": [f"198.51.{i // 256}.{i % 256}" for i in range(300)]}
    with pytest.raises(
        ConfigError,
        match=r"^mailinfra\.domains\[0\]\(mail\.dev\.example\.com\)\.spf: TXT value is \d+ characters as Route53 receives it",
    ):
        parse_config(raw, stack="dev", region=region)


def test_values_are_shown_as_written() -> None:
    raw, region = stack_raw("dev")
    raw["domains"][0]["marketing"] = "yes"
    with pytest.raises(ConfigError, match=r"\.marketing: must be true or false \(got 'yes'\)$"):
        parse_config(raw, stack="dev", region=region)
    raw, region = stack_raw("dev")
    raw["domains"][0]["dmarc"]["testing"] = [True, None]
    with pytest.raises(ConfigError, match=r"\.dmarc\.testing: must be true or false \(got \[true, null\]\)$"):
        parse_config(raw, stack="dev", region=region)


# --------------------------------------------------------------- defect 2: SPF alignment


def test_default_spf_alignment_is_relaxed_and_aligns_with_ses_mail_from() -> None:
    from mailinfra.components import wiring
    from mailinfra.policies.mailinfra_policy.standards import dmarc

    raw, region = stack_raw("dev")
    d = parse_config(raw, stack="dev", region=region).domains[0]
    assert (d.dmarc.aspf, d.dmarc.adkim) == ("r", "s")
    record = dmarc.parse_dmarc(wiring.dmarc_of(d).values[0])
    assert record.aspf == "r"
    assert dmarc.spf_alignment_problem(record.aspf, d.name, f"{d.mail_from}.{d.name}") is None


def test_strict_spf_alignment_with_a_mail_from_subdomain_is_refused() -> None:
    raw, region = stack_raw("dev")
    raw["domains"][0]["dmarc"]["aspf"] = "s"
    with pytest.raises(ConfigError) as err:
        parse_config(raw, stack="dev", region=region)
    message = str(err.value)
    assert message.startswith("mailinfra.domains[0](mail.dev.example.com).dmarc.aspf: strict SPF alignment (aspf=s) never aligns")
    assert "bounce.mail.dev.example.com" in message and message.endswith("(got 's')")


def test_spf_alignment_rule_of_the_standard() -> None:
    from mailinfra.policies.mailinfra_policy.standards import dmarc

    strict = dmarc.spf_alignment_problem("s", "example.com", "bounce.example.com")
    assert strict is not None and strict.code == "dmarc-spf-never-aligns" and strict.tag == "aspf"
    assert dmarc.spf_alignment_problem("s", "example.com", "Example.COM.") is None
    assert dmarc.spf_alignment_problem("r", "mail.example.com", "bounce.mail.example.com") is None
    assert dmarc.spf_alignment_problem("r", "mail.example.co.uk", "bounce.example.co.uk") is None
    outside = dmarc.spf_alignment_problem("r", "example.com", "bounce.example.net")
    assert outside is not None and outside.code == "dmarc-spf-never-aligns"


# --------------------------------------------------------------- issue 12 items in config


def test_domain_with_two_trailing_dots_is_refused() -> None:
    raw, region = stack_raw("dev")
    raw["domains"][0]["name"] = "mail.dev.example.com.."
    with pytest.raises(
        ConfigError, match=r"^mailinfra\.domains\[0\]\.name: must be a domain name \(got 'mail\.dev\.example\.com\.\.'\)$"
    ):
        parse_config(raw, stack="dev", region=region)
    raw["domains"][0]["name"] = "mail.dev.example.com."  # one trailing dot is the absolute form
    assert parse_config(raw, stack="dev", region=region).domains[0].name == "mail.dev.example.com"


def test_spf_include_of_the_domain_itself_is_refused() -> None:
    raw, region = stack_raw("dev")
    raw["domains"][0]["spf"]["includes"] = ["amazonses.com", "Mail.Dev.Example.com."]
    with pytest.raises(ConfigError) as err:
        parse_config(raw, stack="dev", region=region)
    assert str(err.value).startswith(
        "mailinfra.domains[0](mail.dev.example.com).spf.includes[1]: SPF term 'include:mail.dev.example.com' points at mail.dev.example.com itself: a loop"
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://./unsubscribe",
        "https://..:443/u",
        "https://:443/unsubscribe",
        "https://example.com:65536/u",
        "https://example.com:99999/u",
    ],
)
def test_unsubscribe_url_needs_a_host_and_a_real_port(url: str) -> None:
    raw, region = stack_raw("dev")
    raw["compliance"]["unsubscribeUrl"] = url
    with pytest.raises(ConfigError, match=r"^mailinfra\.compliance\.unsubscribeUrl: must be an https:// URL"):
        parse_config(raw, stack="dev", region=region)


def test_unsubscribe_url_with_a_port_is_fine() -> None:
    raw, region = stack_raw("dev")
    raw["compliance"]["unsubscribeUrl"] = "https://dev.example.com:8443/unsubscribe?list=1"
    assert parse_config(raw, stack="dev", region=region).compliance.unsubscribe_url.endswith(":8443/unsubscribe?list=1")


@pytest.mark.parametrize(
    ("days", "ok"), [(1, True), (400, True), (3653, True), (2, False), (100, False), (364, False), (3652, False)]
)
def test_log_retention_takes_only_what_cloudwatch_accepts(days: int, ok: bool) -> None:
    raw, region = stack_raw("dev")
    raw["compliance"]["logRetentionDays"] = days
    if ok:
        assert parse_config(raw, stack="dev", region=region).compliance.log_retention_days == days
    else:
        with pytest.raises(
            ConfigError,
            match=rf"^mailinfra\.compliance\.logRetentionDays: is not a retention CloudWatch Logs accepts .* \(got {days}\)$",
        ):
            parse_config(raw, stack="dev", region=region)


def test_error_under_a_secure_key_never_shows_the_value() -> None:
    raw, region = stack_raw("dev")
    raw["compliance"]["unsubscribeUrl"] = "https://hunter2-private.example.com:99999/u"
    with pytest.raises(ConfigError) as err:
        parse_config(raw, stack="dev", region=region, secret_keys={"mailinfra:compliance"})
    message = str(err.value)
    assert message.startswith("mailinfra.compliance.unsubscribeUrl: must be an https:// URL")
    assert message.endswith("(the value is secret and not shown)")
    assert "hunter2" not in message and "99999" not in message
    assert "hunter2" not in repr(err.value.value)
    # the same stack without the secret marking shows the value
    with pytest.raises(ConfigError, match="hunter2"):
        parse_config(raw, stack="dev", region=region)


def test_load_takes_the_secret_keys_from_the_engine() -> None:
    import json

    from pulumi.runtime import config as rc

    from mailinfra.components import config

    raw, region = stack_raw("dev")
    raw["compliance"]["postalAddress"] = "short"  # a secure: value, decrypted by the engine
    engine = {f"mailinfra:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()}
    engine["aws:region"] = region
    saved = (dict(rc.CONFIG.get()), set(rc._SECRET_KEYS.get()))
    rc.set_all_config(engine, ["mailinfra:compliance"])
    try:
        with pytest.raises(ConfigError) as err:
            config.load()
    finally:
        rc.set_all_config(saved[0], list(saved[1]))
    assert (
        str(err.value)
        == "mailinfra.compliance.postalAddress: must be a full postal address (CAN-SPAM) (the value is secret and not shown)"
    )


def test_cli_reports_a_component_rule_at_the_stack_key(tmp_path) -> None:
    import shutil
    import subprocess
    import sys

    project = tmp_path / "proj"
    shutil.copytree(ROOT, project, ignore=shutil.ignore_patterns(".venv", ".git", "tests", "bench", "*.egg-info", "__pycache__"))
    stack_file = project / "stacks" / "Pulumi.dev.yaml"
    data = yaml.safe_load(stack_file.read_text())
    data["config"]["mailinfra:network"]["allowedCidrs"].append("16.0.0.0/4")
    stack_file.write_text(yaml.safe_dump(data))
    proc = subprocess.run(
        [sys.executable, "-m", "mailinfra.cli", "plan", "--stack", "dev", "--project", str(project)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "mailinfra.network.allowedCidrs[1]: is broader than /8; list the networks that send (got '16.0.0.0/4')" in proc.stderr
    assert "allowed_cidrs" not in proc.stderr and "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1
