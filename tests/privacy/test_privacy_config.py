"""The privacy facts of mailinfra:compliance (lawfulBasis, audiences, ccpaOptOutUrl):
parsed from the shipped stacks, bad values named by key and value; the privacy rules'
messages and their policy-config bound."""

from __future__ import annotations

import pytest

from mailinfra.components.config import ConfigError, parse_config
from mailinfra.policies.mailinfra_policy import ALL
from tests.policy_cases_privacy import CASES, compliance
from tests.test_config import stack_raw
from tests.test_policies_helpers import run_stack

BY_NAME = {p.name: p for p in ALL}


def test_shipped_prod_records_basis_audience_and_opt_out() -> None:
    raw, region = stack_raw("prod")
    cfg = parse_config(raw, stack="prod", region=region).compliance
    assert (cfg.lawful_basis, cfg.audiences) == ("consent", ("EU", "US-CA"))
    assert cfg.ccpa_opt_out_url == "https://example.com/privacy/do-not-sell-or-share"


BAD = [
    (
        {"lawfulBasis": "contract"},
        r"mailinfra\.compliance\.lawfulBasis: must be one of consent, legitimate-interests .*\(got 'contract'\)",
    ),
    (
        {"audiences": ["California"]},
        r"mailinfra\.compliance\.audiences\[0\]: must be EU, EEA or an ISO 3166 code .*\(got 'California'\)",
    ),
    ({"audiences": ["EU", "EU"]}, r"mailinfra\.compliance\.audiences\[1\]: lists an audience twice \(got 'EU'\)"),
    (
        {"audiences": ["US"]},
        r"mailinfra\.compliance\.audiences: includes California: record the \"Do Not Sell or Share\" page as ccpaOptOutUrl",
    ),
    (
        {"audiences": ["US-CA"], "ccpaOptOutUrl": "http://example.com/x"},
        r"mailinfra\.compliance\.ccpaOptOutUrl: must be an https:// URL .*\(got 'http://example.com/x'\)",
    ),
]


@pytest.mark.parametrize(("facts", "message"), BAD)
def test_bad_privacy_facts_name_key_and_value(facts: dict, message: str) -> None:
    raw, region = stack_raw("dev")
    raw["compliance"] = {**raw["compliance"], **facts}
    with pytest.raises(ConfigError, match=message):
        parse_config(raw, stack="dev", region=region)


def test_audience_outside_california_needs_no_opt_out_url() -> None:
    raw, region = stack_raw("dev")
    raw["compliance"] = {**raw["compliance"], "audiences": ["EU", "US-NY"]}
    assert parse_config(raw, stack="dev", region=region).compliance.ccpa_opt_out_url is None


def test_retention_messages_and_max_days_config() -> None:
    policy = BY_NAME["compliance-personal-data-retention"]
    found = [m for m, _ in run_stack(policy, CASES["compliance-personal-data-retention"]["noncompliant"])]
    assert found == [
        "bucket 'archive' keeps objects 5000 days (expiration.days), over the 3653-day bound",
        "bucket 'intake' has no enabled lifecycle rule with expiration.days over all objects: personal data in it never "
        "expires (GDPR Art. 5(1)(e))",
        "bucket 'logs' has no enabled lifecycle rule with noncurrentVersionExpiration.noncurrentDays over all objects: "
        "personal data in it never expires (GDPR Art. 5(1)(e))",
    ]
    compliant = CASES["compliance-personal-data-retention"]["compliant"]
    assert [m for m, _ in run_stack(policy, compliant, config={"maxDays": 100})] == [
        "bucket 'archive' keeps objects 400 days (expiration.days), over the 100-day bound",
        "bucket 'logs' keeps objects 365 days (expiration.days), over the 100-day bound",
    ]


def test_lawful_basis_and_ccpa_from_policy_config() -> None:
    identity = CASES["compliance-lawful-basis"]["compliant"]
    assert (
        run_stack(BY_NAME["compliance-lawful-basis"], identity, config={"lawfulBasis": "legitimate-interests"}, stack_config={})
        == []
    )
    [(message, _)] = run_stack(BY_NAME["compliance-lawful-basis"], identity, stack_config=compliance(lawfulBasis="contract"))
    assert message.endswith("('contract' is not one)")
    ccpa = BY_NAME["compliance-ccpa-opt-out"]
    assert len(run_stack(ccpa, identity, config={"audiences": ["US"]}, stack_config={})) == 1
    assert (
        run_stack(ccpa, identity, config={"audiences": ["US"], "ccpaOptOutUrl": "https://example.com/dns"}, stack_config={}) == []
    )
    assert run_stack(ccpa, [], stack_config=compliance(audiences=["US"])) == []  # no SES identity: nothing is sent
