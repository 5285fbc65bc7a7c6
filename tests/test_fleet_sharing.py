"""Shared per-fleet resources (issue 17, item 2): SMTP credentials per sending system
(``smtp.system``: one IAM user per system, split where IAM's inline-policy limit needs
it, instead of one user, key and secret per domain) and one configuration set and event
topic for the domains that ask for no isolation (``configurationSet: shared``)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from mailinfra.components import wiring
from mailinfra.components.config import ConfigError, parse_config
from mailinfra.components.smtp import send_policy_document
from mailinfra.engine import run_plan
from mailinfra.policies.mailinfra_policy import ALL
from mailinfra.policies.mailinfra_policy.standards import quotas
from tests.test_config import stack_raw
from tests.test_fleet_stack import ROOT
from tests.test_policies_helpers import run_resource

USER_POLICY = "aws:iam/userPolicy:UserPolicy"


def fleet(**smtp: object) -> tuple[dict, str]:
    raw, region = stack_raw("fleet")
    raw["domainDefaults"] = {**raw["domainDefaults"], "smtp": {"system": "platform", **smtp}}
    return raw, region


def test_the_system_name_is_checked_and_named_by_its_key() -> None:
    raw, region = fleet()
    raw["domainDefaults"]["smtp"]["system"] = "Platform One"
    with pytest.raises(ConfigError) as err:
        parse_config(raw, stack="fleet", region=region)
    assert str(err.value).startswith("mailinfra.domains[0](news.brand-a.example).smtp.system: must be a sending system name")


def test_domains_of_one_system_share_its_port_and_key_generations() -> None:
    raw, region = fleet()
    raw["domains"][2] = {"name": raw["domains"][2], "smtp": {"port": 465}}
    with pytest.raises(ConfigError) as err:
        parse_config(raw, stack="fleet", region=region)
    message = str(err.value)
    assert message.startswith("mailinfra.domains[2](billing.brand-a.example).smtp.port: differs from news.brand-a.example")
    assert "sending system 'platform'" in message and message.endswith("(got 465)")


def test_systems_split_where_iam_inline_policy_limit_needs_it_and_keep_config_order() -> None:
    raw, region = fleet()
    cfg = parse_config(raw, stack="fleet", region=region)
    systems = wiring.smtp_systems(cfg)
    assert [s.name for s in systems][:2] == ["smtp-platform", "smtp-platform-2"]
    assert [d.name for s in systems for d in s.domains] == [d.name for d in cfg.domains]  # every domain once, in order
    for s in systems:
        # the real document (partition aws) is within IAM's limit; the estimate takes the longest partition
        arns = [a.replace("arn:aws-us-gov:", "arn:aws:") for d in s.domains for a in wiring._send_arns(d, cfg)]
        doc = send_policy_document(
            [d.name for d in s.domains],
            arns,
            source_vpce="vpce-0123456789abcdef0",
            source_cidrs=cfg.network.allowed_cidrs if cfg.network else (),
        )
        assert len("".join(doc.split())) <= quotas.IAM_USER_INLINE_POLICY_CHARS
    # each full user is split where one more domain would not fit: the limit decides, not a fixed size
    for full, after in zip(systems, systems[1:]):
        if full.system == after.system:
            assert wiring._policy_chars([*full.domains, after.domains[0]], cfg) > quotas.IAM_USER_INLINE_POLICY_CHARS
    assert len(systems) < len(cfg.domains) / 2  # far fewer IAM users than domains
    # appending a domain leaves the earlier credentials' domains alone
    more = replace(cfg, domains=(*cfg.domains, replace(cfg.domains[0], name="late.brand-e.example")))
    again = wiring.smtp_systems(more)
    assert [s.domains for s in again[: len(systems) - 1]] == [s.domains for s in systems[:-1]]


def test_a_system_policy_sends_only_from_its_domains_and_passes_least_privilege() -> None:
    domains = ["news.brand-a.example", "offers.brand-a.example"]
    arns = [f"arn:aws:ses:eu-west-1:444444444444:identity/{d}" for d in domains]
    doc = json.loads(send_policy_document(domains, arns))
    (statement,) = doc["Statement"]
    assert statement["Condition"] == {"StringLike": {"ses:FromAddress": ["*@news.brand-a.example", "*@offers.brand-a.example"]}}
    assert statement["Resource"] == sorted(arns)
    rule = next(p for p in ALL if p.name == "iam-ses-send-least-privilege")
    assert run_resource(rule, USER_POLICY, {"user": "smtp-platform-user", "policy": json.dumps(doc)}) == []


@pytest.fixture(scope="module")
def fleet_plan():
    return run_plan(str(ROOT), "fleet")


def test_the_fleet_declares_one_iam_user_per_system_share(fleet_plan) -> None:
    raw, region = stack_raw("fleet")
    systems = wiring.smtp_systems(parse_config(raw, stack="fleet", region=region))
    users = [r for r in fleet_plan.resources if r.type == "aws:iam/user:User"]
    assert sorted(u.name for u in users) == sorted(f"{s.name}-user" for s in systems)
    assert len([r for r in fleet_plan.resources if r.type == "aws:iam/accessKey:AccessKey"]) == len(systems)
    secrets = {r.name for r in fleet_plan.resources if r.type == "aws:secretsmanager/secret:Secret"}
    assert {f"keys-{s.name}-credentials" for s in systems} <= secrets
    assert not [r for r in fleet_plan.resources if r.type == "mailinfra:smtp:SmtpAccess" and r.name.endswith("-example-smtp")]
    exported = fleet_plan.outputs["domains"]
    for s in systems:  # every domain of one share hands out the same secret
        assert len({str(exported[d.name]["smtpSecretArn"]) for d in s.domains}) == 1


def test_a_shared_set_cannot_carry_a_domain_s_dedicated_ip_pool() -> None:
    raw, region = fleet()
    raw["domainDefaults"]["configurationSet"] = "shared"
    raw["domains"][1] = {"name": raw["domains"][1], "dedicatedIpPool": True}
    with pytest.raises(ConfigError) as err:
        parse_config(raw, stack="fleet", region=region)
    assert str(err.value).startswith("mailinfra.domains[1](offers.brand-a.example).configurationSet: a dedicated IP pool")
    raw["domainDefaults"]["configurationSet"] = "common"
    with pytest.raises(ConfigError, match=r"domains\[0\]\(news.brand-a.example\).configurationSet: must be one of own, shared"):
        parse_config(raw, stack="fleet", region=region)


def test_the_shared_set_is_listed_once_for_events_and_alarms() -> None:
    raw, region = stack_raw("fleet")
    raw["domains"][0] = {"name": raw["domains"][0], "configurationSet": "own"}  # isolation asked for
    cfg = parse_config(raw, stack="fleet", region=region)
    sets = wiring.configuration_sets(cfg, {d.name: f"{d.slug}-set" for d in cfg.domains})
    assert sets == (("news-brand-a-example", "news-brand-a-example-set"), ("shared", "offers-brand-a-example-set"))


def test_the_fleet_declares_one_shared_configuration_set_and_topic(fleet_plan) -> None:
    sets = [r for r in fleet_plan.resources if r.type == "aws:sesv2/configurationSet:ConfigurationSet"]
    assert [r.name for r in sets] == ["shared-relay-config-set"]
    name = sets[0].inputs["configurationSetName"]
    identities = [r for r in fleet_plan.resources if r.type == "aws:sesv2/emailIdentity:EmailIdentity"]
    sending = [r for r in identities if r.inputs["emailIdentity"] in fleet_plan.outputs["domains"]]
    assert len(sending) == 20 and {r.inputs["configurationSetName"] for r in sending} == {name}
    topics = [r.name for r in fleet_plan.resources if r.type == "aws:sns/topic:Topic"]
    assert sorted(topics) == ["keys-key-alarms", "security-alerts-topic", "shared-relay-events"]
    alarms = [r for r in fleet_plan.resources if r.type == "aws:cloudwatch/metricAlarm:MetricAlarm"]
    per_set = [a for a in alarms if "ses:configuration-set" in str(a.inputs.get("dimensions"))]
    assert len(per_set) == 4  # warning and critical, bounce and complaint, of the one set
    assert {info["configurationSet"] for info in fleet_plan.outputs["domains"].values()} == {name}


def test_the_shared_fleet_plans_without_a_violation(fleet_plan) -> None:
    from mailinfra.policyrun import run_policies

    assert [(v.policy, v.message) for v in run_policies(fleet_plan, environment="prod")] == []
