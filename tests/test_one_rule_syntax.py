"""Issue 11, "one rule, one place": the config model, the component arguments and the
standards give the same verdict on the same value, because they call one function.

Each case below disagreed before (a local regex in relay.py, keystore.py, dnssec.py,
bimi.py, spf.py or config.py restated the rule differently).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from mailinfra.components import config
from mailinfra.components.dnssec import DnssecArgs
from mailinfra.components.keystore import KeyStoreArgs, KeyStoreError
from mailinfra.components.records import RecordError, mail_from_records
from mailinfra.components.relay import ByodkimSigning, RelayArgsError, check_domain
from mailinfra.policies.mailinfra_policy.standards import bimi, dkim, mailfrom, spf
from mailinfra.policies.mailinfra_policy.standards.errors import StandardError
from tests.test_config import stack_raw

ACCOUNT = "123456789012"
ADMIN = f"arn:aws:iam::{ACCOUNT}:role/mailinfra-deployer"


def _config_accepts(mutate: Any) -> bool:
    raw, region = stack_raw("prod")
    raw = copy.deepcopy(raw)
    mutate(raw)
    try:
        config.parse_config(raw, stack="prod", region=region)
    except config.ConfigError:
        return False
    return True


def _accepts(call: Any, *errors: type[Exception]) -> bool:
    try:
        call()
    except errors:
        return False
    return True


def _keystore(**over: Any) -> KeyStoreArgs:
    base: dict[str, Any] = {
        "environment": "prod",
        "alias_name": "mailinfra-prod",
        "account_id": ACCOUNT,
        "region": "eu-west-1",
        "admin_principals": (ADMIN,),
        "tags": {"owner": "o"},
    }
    return KeyStoreArgs(**{**base, **over})


def _dnssec(**over: Any) -> DnssecArgs:
    base: dict[str, Any] = {
        "environment": "prod",
        "zone_id": "Z0123456789ABCDEFGHIJ",
        "zone_name": "example.com",
        "account_id": ACCOUNT,
        "admin_principals": (ADMIN,),
        "tags": {"owner": "o"},
    }
    return DnssecArgs(**{**base, **over})


# --- DKIM / BIMI selectors: config, the relay's BYODKIM argument and bimi_name ---------


def _set_selector(raw: dict, selector: str) -> None:
    raw["domains"][0]["dkim"] = {"mode": "byodkim", "selectors": [{"name": selector}]}


@pytest.mark.parametrize(
    ("selector", "valid"),
    [
        ("s1", True),
        ("S1", True),  # lowercased everywhere (the relay refused it)
        ("mi2025.a", True),
        ("a" * 63 + "." + "b" * 63, True),
        (".".join(["a" * 63] * 3) + ".b", False),  # over 189 characters (bimi took it)
        ("-s1", False),
        ("s1-", False),
        ("a_b", False),
        ("a..b", False),
        ("a" * 64, False),
    ],
)
def test_a_selector_is_accepted_or_refused_alike(selector: str, valid: bool) -> None:
    verdicts = {
        "config": _config_accepts(lambda raw: _set_selector(raw, selector)),
        "relay": _accepts(lambda: ByodkimSigning(selector=selector, private_key="k"), RelayArgsError),
        "dkim": _accepts(lambda: dkim.validate_selector(selector), StandardError),
        "bimi": _accepts(lambda: bimi.bimi_name("example.com", selector), StandardError),
    }
    assert verdicts == dict.fromkeys(verdicts, valid)


def test_the_relay_normalises_the_selector_as_config_does() -> None:
    assert ByodkimSigning(selector="S1", private_key="k").selector == "s1"


# --- host names: config, relay.check_domain, the DNSSEC zone name, SPF's top label -------


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("example.com", True),
        ("mail.example.co.uk", True),
        ("example.1-2", True),  # a top label that is not all-numeric (RFC 7208 toplabel, RFC 3696)
        ("example.123", False),  # all-numeric top label (relay.check_domain took it)
        ("-bad.example.com", False),
        ("a" * 64 + ".com", False),
    ],
)
def test_a_host_name_is_accepted_or_refused_alike(name: str, valid: bool) -> None:
    verdicts = {
        "config": _accepts(lambda: config.domain_name("k", name), config.ConfigError),
        "relay": _accepts(lambda: check_domain("domain", name), RelayArgsError),
        "dnssec": _accepts(lambda: _dnssec(zone_name=name), KeyStoreError),
        "spf": _accepts(lambda: spf.parse_spf(f"v=spf1 include:{name} -all"), StandardError),
    }
    assert verdicts == dict.fromkeys(verdicts, valid)


# --- email addresses: config's email() and the KeyStore's alert_email ---------------------


@pytest.mark.parametrize(
    ("address", "valid"),
    [
        ("security@example.com", True),
        ("a*b@example.com", True),  # atext (the KeyStore refused it)
        ("a%b@example.com", True),  # atext (config refused it)
        ("security", False),
        ("a b@example.com", False),
        ("a@example", False),
        ("a@-x.example.com", False),
    ],
)
def test_an_email_address_is_accepted_or_refused_alike(address: str, valid: bool) -> None:
    verdicts = {
        "config": _accepts(lambda: config.email("keys.alertEmail", address), config.ConfigError),
        "keystore": _accepts(lambda: _keystore(alert_email=address), KeyStoreError),
    }
    assert verdicts == dict.fromkeys(verdicts, valid)


# --- AWS identifiers: config, KeyStore and DNSSEC arguments ----------------------------------


@pytest.mark.parametrize(
    ("arn", "valid"),
    [
        (ADMIN, True),
        (f"arn:aws:iam::{ACCOUNT}:root", True),
        (f"arn:aws-iso-b:iam::{ACCOUNT}:role/x", True),  # a real partition (the KeyStore refused it)
        (f"arn:aws-foo:iam::{ACCOUNT}:role/x", False),  # no such partition (config took it)
        (f"arn:aws:iam::{ACCOUNT}:group/x", False),
        (f"arn:aws:iam::{ACCOUNT}:role", False),
    ],
)
def test_an_iam_principal_is_accepted_or_refused_alike(arn: str, valid: bool) -> None:
    def set_admin(raw: dict) -> None:
        raw["keys"]["admins"] = [arn]

    verdicts = {
        "config": _config_accepts(set_admin),
        "keystore": _accepts(lambda: _keystore(admin_principals=(arn,)), KeyStoreError),
        "dnssec": _accepts(lambda: _dnssec(admin_principals=(arn,)), KeyStoreError),
    }
    assert verdicts == dict.fromkeys(verdicts, valid)


# --- the SES MAIL FROM feedback host: one function (standards.aws.ses_feedback_host) ---------


def test_mail_from_records_only_for_a_region_where_ses_sends() -> None:
    mx, _ = mail_from_records("bounce.example.com", "af-south-1")
    assert mx.values == ("10 feedback-smtp.af-south-1.amazonses.com",)
    with pytest.raises(RecordError, match="Amazon SES is not offered in AWS region 'cn-north-1'"):
        mail_from_records("bounce.example.com", "cn-north-1")  # was: a feedback host that does not exist


def test_the_feedback_mx_is_recognised_only_for_ses_regions() -> None:
    assert mailfrom.is_feedback_mx("10 feedback-smtp.eu-west-1.amazonses.com.")
    assert not mailfrom.is_feedback_mx("10 feedback-smtp.mars-north-1.amazonses.com")


# --- verify's --dkim-selector and the policy's unsubscribe URL call the same rules ----------


def test_verify_refuses_a_dkim_selector_the_standard_refuses(tmp_path: Any) -> None:
    from mailinfra.verify import VerifyInputError, VerifyOptions

    key = tmp_path / "key.pem"
    key.write_text("not read here")
    VerifyOptions(stack="dev", dkim_key=str(key), dkim_selector="S1").validate()
    with pytest.raises(VerifyInputError, match=r"^--dkim-selector: DKIM selector 'a_b' is not valid"):
        VerifyOptions(stack="dev", dkim_key=str(key), dkim_selector="a_b").validate()  # was: queried as is


@pytest.mark.parametrize(
    ("url", "valid"),
    [
        ("https://example.com/unsubscribe", True),
        ("https:///unsubscribe", False),
        ("https://exa mple.com/u", False),
        ("http://example.com/u", False),
    ],
)
def test_an_unsubscribe_url_is_judged_alike_by_config_and_the_policy(url: str, valid: bool) -> None:
    from mailinfra.policies.mailinfra_policy import ALL
    from tests.test_policies_helpers import run_stack

    policy = {p.name: p for p in ALL}["compliance-marketing-facts"]
    facts = {
        "mailinfra:compliance": {
            "postalAddress": "Example Corp, 1 Main Street, Dublin",
            "unsubscribeUrl": url,
            "oneClickUnsubscribe": True,
        }
    }
    identity = [{"type": "aws:sesv2/emailIdentity:EmailIdentity", "name": "id", "props": {"emailIdentity": "example.com"}}]
    verdicts = {
        "config": _accepts(lambda: config.https_url("compliance.unsubscribeUrl", url), config.ConfigError),
        "policy": run_stack(policy, identity, stack_config=facts) == [],
    }
    assert verdicts == dict.fromkeys(verdicts, valid)
