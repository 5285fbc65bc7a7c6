"""Issue 11: the Easy DKIM region table is used by the policy too (`easy-dkim-cname-target`).

An Easy DKIM CNAME must point at `easy_dkim_cname(domain, token, region)` for the region
of the domain's SES identity: its own region, else its provider's, else `aws:region`.
"""

from __future__ import annotations

from typing import Any

import pytest

from mailinfra.policies.mailinfra_policy import ALL
from mailinfra.policies.mailinfra_policy.standards import dkim
from tests.test_policies_helpers import UNKNOWN, run_stack

ID = "aws:sesv2/emailIdentity:EmailIdentity"
R53 = "aws:route53/record:Record"
CF = "cloudflare:index/dnsRecord:DnsRecord"
POLICY = {p.name: p for p in ALL}["easy-dkim-cname-target"]
NAME = "abc._domainkey.example.com"
GLOBAL = "abc.dkim.amazonses.com"
REGIONAL = "abc.dkim.af-south-1.amazonses.com"


def identity(props: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": ID, "name": "id", "props": {"emailIdentity": "example.com", **props}, **extra}


def cname(target: Any, name: str = NAME, rname: str = "dkim") -> dict[str, Any]:
    return {"type": R53, "name": rname, "props": {"zoneId": "Z1", "name": name, "type": "CNAME", "records": [target]}}


def test_global_target_in_a_region_with_a_regional_dkim_domain_is_flagged() -> None:
    found = run_stack(POLICY, [identity({"region": "af-south-1"}), cname(GLOBAL)])
    assert [m for m, _ in found] == [
        f"Easy DKIM CNAME {NAME} points at {GLOBAL}; SES in af-south-1 publishes the key at {REGIONAL} "
        "(AWS General Reference, Easy DKIM domains)"
    ]
    assert found[0][1].endswith("::dkim")
    assert run_stack(POLICY, [identity({"region": "af-south-1"}), cname(REGIONAL)]) == []


def test_regional_target_in_a_region_with_the_global_domain_is_flagged() -> None:
    assert run_stack(POLICY, [identity({"region": "eu-west-1"}), cname(REGIONAL)])
    assert run_stack(POLICY, [identity({"region": "eu-west-1"}), cname(GLOBAL)]) == []


def test_unknown_own_region_falls_back_to_the_provider_then_the_stack_region() -> None:
    via_provider = identity({"region": UNKNOWN}, provider={"region": "af-south-1"})
    assert run_stack(POLICY, [via_provider, cname(GLOBAL)])
    assert run_stack(POLICY, [via_provider, cname(REGIONAL)]) == []
    stack_region = {"aws:region": "af-south-1"}
    assert run_stack(POLICY, [identity({}), cname(GLOBAL)], stack_config=stack_region)
    assert run_stack(POLICY, [identity({}), cname(REGIONAL)], stack_config=stack_region) == []


def test_a_token_that_does_not_match_its_name_is_flagged() -> None:
    assert run_stack(POLICY, [identity({"region": "eu-west-1"}), cname("abd.dkim.amazonses.com")])


@pytest.mark.parametrize(
    "specs",
    [
        [identity({"region": "af-south-1"}), cname(UNKNOWN)],  # target unknown in preview
        [identity({"region": UNKNOWN}, provider={"region": UNKNOWN}), cname(GLOBAL)],  # region unknown
        [identity({"emailIdentity": UNKNOWN, "region": "eu-west-1"}), cname(REGIONAL)],  # may be any domain's
        [cname(GLOBAL)],  # no SES identity of the domain in this stack
        [identity({"region": "af-south-1"}), cname("dkim.mcsv.net", name="k1._domainkey.example.com")],  # another ESP
        [identity({"emailIdentity": "other.example", "region": "af-south-1"}), cname(GLOBAL)],
    ],
)
def test_nothing_decides_no_violation(specs: list[dict[str, Any]]) -> None:
    assert run_stack(POLICY, specs) == []


def test_identities_in_two_regions_accept_either_target() -> None:
    ids = [identity({"region": "eu-west-1"}), identity({"region": "af-south-1"}) | {"name": "id2"}]
    records = [cname(GLOBAL), cname(REGIONAL, name="abc._domainkey.example.com", rname="dkim2")]
    assert run_stack(POLICY, ids + records) == []
    assert run_stack(POLICY, ids + [cname("abc.dkim.il-central-1.amazonses.com")])


def test_cloudflare_record_and_subdomain_identity() -> None:
    record = {
        "type": CF,
        "name": "dkim",
        "props": {
            "zoneId": "z",
            "name": "abc._domainkey.news.example.com.",
            "type": "CNAME",
            "content": "abc.dkim.amazonses.com.",
        },
    }
    news = identity({"emailIdentity": "news.example.com", "region": "me-central-1"})
    assert [m for m, _ in run_stack(POLICY, [news, record])] == [
        "Easy DKIM CNAME abc._domainkey.news.example.com points at abc.dkim.amazonses.com; SES in me-central-1 "
        "publishes the key at abc.dkim.me-central-1.amazonses.com (AWS General Reference, Easy DKIM domains)"
    ]


def test_the_standard_builds_the_expected_target_with_easy_dkim_cname() -> None:
    assert dkim.easy_dkim_target_problem(NAME, REGIONAL, ["af-south-1"]) is None
    problem = dkim.easy_dkim_target_problem(NAME, GLOBAL, ["af-south-1"])
    assert problem is not None and problem.code == "dkim-easy-dkim-target" and problem.tag == "CNAME"
    assert dkim.easy_dkim_cname("example.com", "abc", "af-south-1")[2] == REGIONAL
    # not SES's CNAME, or no SES region: nothing to say
    assert dkim.easy_dkim_target_problem("k1._domainkey.example.com", "dkim.mcsv.net", ["af-south-1"]) is None
    assert dkim.easy_dkim_target_problem(NAME, GLOBAL, ["cn-north-1"]) is None
    # a selector SES never uses (not a token) under an SES DKIM domain is wrong
    assert dkim.easy_dkim_target_problem("s-1._domainkey.example.com", "s-1.dkim.amazonses.com", ["eu-west-1"])
