"""Feedback-loop rules beyond the catalogue's four cases: their config properties, joins by
dependency when names are unknown, and the shipped prod stack judged by them."""

from __future__ import annotations

from typing import Any

import pytest

from mailinfra.engine import run_plan
from mailinfra.policyrun import run_policies
from mailinfra.policies.mailinfra_policy import ALL
from tests.policy_cases_events import ACCOUNT_ALARMS, CS, ED, RULE_SET, SET_ALARMS, alarm, destination, res
from tests.test_policies_helpers import UNKNOWN, run_resource, run_stack

BY_NAME = {p.name: p for p in ALL}
RULES = (
    "ses-event-destination-bounce-complaint",
    "ses-reputation-alarms",
    "feedback-data-cmk-encrypted",
    "ses-open-click-tracking-consent",
    "ses-receiving-region",
)


def test_destination_joined_by_dependency_when_the_name_is_unknown() -> None:
    policy = BY_NAME["ses-event-destination-bounce-complaint"]
    dest = destination("ed", "mail", ["BOUNCE", "COMPLAINT"])
    dest["props"]["configurationSetName"] = UNKNOWN
    assert (
        run_stack(
            policy, [res(CS, "cs", {"configurationSetName": "mail"}), dict(dest, prop_deps={"configurationSetName": ["cs"]})]
        )
        == []
    )
    other = [
        res(CS, "cs", {"configurationSetName": "mail"}),
        res(CS, "cs2", {"configurationSetName": "news"}),
        destination("ed", "mail", ["BOUNCE", "COMPLAINT"]),
    ]
    assert [m for m, _ in run_stack(policy, other)] == [
        "configuration set 'news' has no enabled event destination receiving BOUNCE and COMPLAINT"
    ]


def test_reputation_thresholds_follow_policy_config() -> None:
    policy = BY_NAME["ses-reputation-alarms"]
    specs = [res(CS, "cs", {"configurationSetName": "mail"}), *ACCOUNT_ALARMS, *SET_ALARMS]
    assert run_stack(policy, specs) == []
    stricter = run_stack(policy, specs, config={"maxBounceRate": 0.03})
    assert len(stricter) == 4  # two bounce alarms over 3 %, then their scopes uncovered
    assert "threshold 0.04; it must be below SES's review rate 0.03" in stricter[0][0]
    assert run_stack(policy, [alarm("x", "Reputation.BounceRate", 0.5)]) == []  # no configuration set: no SES here


def test_tracking_consent_from_policy_config_or_stack_config() -> None:
    policy = BY_NAME["ses-open-click-tracking-consent"]
    props = {"eventDestination": {"matchingEventTypes": ["CLICK"]}}
    assert run_resource(policy, ED, props) == [
        "event destination receives CLICK (personal data about recipients) but no consent basis is recorded "
        "(mailinfra:events.tracking.consentRecorded)"
    ]
    assert run_resource(policy, ED, props, config={"consentRecorded": True}) == []
    consent = {"mailinfra:events": {"tracking": {"consentRecorded": False}}}
    assert run_resource(policy, ED, props, stack_config=consent)


def test_receiving_region_from_provider_and_config() -> None:
    policy = BY_NAME["ses-receiving-region"]
    assert run_resource(policy, RULE_SET, {"ruleSetName": "r"}, provider_props={"region": "ap-south-1"})
    assert run_resource(policy, RULE_SET, {"ruleSetName": "r"}, provider_props={"region": "eu-west-2"}) == []
    assert run_resource(policy, RULE_SET, {"region": "eu-west-1"}, config={"receivingRegions": ["us-east-1"]})


def test_unknown_encryption_inputs_are_not_judged() -> None:
    policy = BY_NAME["feedback-data-cmk-encrypted"]
    assert run_stack(policy, [res("aws:sqs/queue:Queue", "q", {"kmsMasterKeyId": UNKNOWN})]) == []


@pytest.fixture(scope="module")
def prod_plan() -> Any:
    return run_plan(".", "prod")


def test_prod_declares_events_alarms_and_intake_and_passes_them(prod_plan: Any) -> None:
    types = [r.type for r in prod_plan.resources]
    assert (
        types.count("aws:sesv2/configurationSetEventDestination:ConfigurationSetEventDestination") >= 4
    )  # SNS + EventBridge per set
    assert types.count("aws:cloudwatch/metricAlarm:MetricAlarm") >= 4 * 3
    assert "aws:ses/activeReceiptRuleSet:ActiveReceiptRuleSet" in types
    assert "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream" in types
    found = [v for v in run_policies(prod_plan, environment="prod") if v.policy in RULES]
    assert found == []
