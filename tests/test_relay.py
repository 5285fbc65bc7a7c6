"""SesRelay: configuration set, event destination, identity, DKIM, MAIL FROM, contact list."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest
from pulumi.runtime import rpc

from mailinfra.components.relay import (
    ByodkimSigning,
    ContactTopic,
    RelayArgsError,
    SesRelay,
    SesRelayArgs,
    mail_from_dns_records,
)
from tests.helpers import build

KMS = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
TAGS = {"owner": "mail", "environment": "dev", "data-classification": "internal"}
TOKENS = ["tok1abc", "tok2def", "tok3ghi"]


def _args(**over: Any) -> SesRelayArgs:
    base: dict[str, Any] = {
        "domain": "example.com",
        "region": "eu-west-1",
        "kms_key_arn": KMS,
        "tags": TAGS,
    }
    base.update(over)
    return SesRelayArgs(**base)


@pytest.fixture
def mocks(pulumi_mocks):
    """Shared recorder; EmailIdentity returns Easy DKIM tokens like SES does."""
    original = pulumi_mocks.new_resource

    def new_resource(args):
        rid, state = original(args)
        if args.typ == "aws:sesv2/emailIdentity:EmailIdentity" and "domainSigningSelector" not in (
            state.get("dkimSigningAttributes") or {}
        ):
            state = {
                **state,
                "dkimSigningAttributes": {
                    **state["dkimSigningAttributes"],
                    "tokens": TOKENS,
                },
            }
        if args.typ == "aws:sesv2/configurationSet:ConfigurationSet":
            state = {
                **state,
                "arn": f"arn:aws:ses:eu-west-1:123456789012:configuration-set/{args.name}",
            }
        return rid, state

    pulumi_mocks.new_resource = new_resource
    return pulumi_mocks


def _one(mocks, type_: str):
    found = mocks.of_type(type_)
    assert len(found) == 1, f"{type_}: {len(found)}"
    return found[0]


def _component(mocks):
    return _one(mocks, "mailinfra:relay:SesRelay")


def test_configuration_set_requires_tls(mocks):
    _relay, out = build(
        lambda: SesRelay("example-com", _args(max_delivery_seconds=3600)),
        name=lambda r: r.configuration_set_name,
    )
    assert out["name"] == "example-com"
    cs = _one(mocks, "aws:sesv2/configurationSet:ConfigurationSet")
    assert cs.inputs["deliveryOptions"]["tlsPolicy"] == "REQUIRE"
    assert cs.inputs["deliveryOptions"]["maxDeliverySeconds"] == 3600
    assert "sendingPoolName" not in cs.inputs["deliveryOptions"]
    assert cs.inputs["reputationOptions"]["reputationMetricsEnabled"] is True
    assert cs.inputs["suppressionOptions"]["suppressedReasons"] == [
        "BOUNCE",
        "COMPLAINT",
    ]
    assert cs.inputs["sendingOptions"]["sendingEnabled"] is True
    assert cs.inputs["configurationSetName"] == "example-com"
    assert cs.inputs["region"] == "eu-west-1"
    assert cs.inputs["tags"] == TAGS
    assert not mocks.of_type("aws:sesv2/dedicatedIpPool:DedicatedIpPool")


def test_dedicated_ip_pool_is_optional_and_wired(mocks):
    _relay, out = build(
        lambda: SesRelay("example-com", _args(dedicated_ip_pool_scaling_mode="MANAGED")),
        pool=lambda r: r.dedicated_ip_pool_name,
    )
    pool = _one(mocks, "aws:sesv2/dedicatedIpPool:DedicatedIpPool")
    assert pool.inputs["scalingMode"] == "MANAGED"
    assert pool.inputs["tags"] == TAGS
    assert pool.inputs["region"] == "eu-west-1"
    cs = _one(mocks, "aws:sesv2/configurationSet:ConfigurationSet")
    assert cs.inputs["deliveryOptions"]["sendingPoolName"] == pool.inputs["poolName"] == out["pool"]


def test_event_destination_to_encrypted_topic(mocks):
    _relay, out = build(lambda: SesRelay("example-com", _args()), topic=lambda r: r.events_topic_arn)
    topic = _one(mocks, "aws:sns/topic:Topic")
    assert topic.inputs["kmsMasterKeyId"] == KMS
    assert topic.inputs["tags"] == TAGS
    dest = _one(
        mocks,
        "aws:sesv2/configurationSetEventDestination:ConfigurationSetEventDestination",
    )
    ed = dest.inputs["eventDestination"]
    assert sorted(ed["matchingEventTypes"]) == [
        "BOUNCE",
        "COMPLAINT",
        "DELIVERY",
        "REJECT",
    ]
    assert ed["enabled"] is True
    assert ed["snsDestination"]["topicArn"] == out["topic"]
    assert dest.inputs["configurationSetName"] == "example-com"
    policy = json.loads(_one(mocks, "aws:sns/topicPolicy:TopicPolicy").inputs["policy"])
    (stmt,) = policy["Statement"]
    assert stmt["Principal"] == {"Service": "ses.amazonaws.com"}
    assert stmt["Action"] == "sns:Publish"
    assert stmt["Resource"] == out["topic"]
    assert stmt["Condition"]["ArnEquals"]["aws:SourceArn"].endswith(":configuration-set/example-com-config-set")
    assert stmt["Condition"]["StringEquals"]["aws:SourceAccount"] == "123456789012"


def test_identity_defaults_to_configuration_set_and_easy_dkim(mocks):
    _relay, out = build(lambda: SesRelay("example-com", _args()), tokens=lambda r: r.dkim_tokens)
    ident = _one(mocks, "aws:sesv2/emailIdentity:EmailIdentity")
    assert ident.inputs["emailIdentity"] == "example.com"
    assert ident.inputs["configurationSetName"] == "example-com"
    assert ident.inputs["dkimSigningAttributes"] == {"nextSigningKeyLength": "RSA_2048_BIT"}
    assert ident.inputs["tags"] == TAGS
    assert out["tokens"] == TOKENS


def _key_is_secret(attrs: Any) -> bool:
    # the SDK pushes secretness up to the enclosing object; either way it is never plain
    return rpc.is_rpc_secret(attrs) or rpc.is_rpc_secret(attrs.get("domainSigningPrivateKey"))


def test_byodkim_private_key_stays_secret(mocks):
    key = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC-not-a-real-key"
    build(
        lambda: SesRelay(
            "example-com",
            _args(
                byodkim={
                    "selector": "mi2025a",
                    "private_key": pulumi.Output.secret(key),
                }
            ),
        ),
        arn=lambda r: r.identity_arn,
    )
    ident = _one(mocks, "aws:sesv2/emailIdentity:EmailIdentity")
    attrs = ident.inputs["dkimSigningAttributes"]
    assert _key_is_secret(attrs)
    raw = rpc.unwrap_rpc_secret(attrs) if rpc.is_rpc_secret(attrs) else attrs
    assert raw["domainSigningSelector"] == "mi2025a"
    assert "nextSigningKeyLength" not in raw


def test_byodkim_plain_key_is_wrapped_secret(mocks):
    build(lambda: SesRelay("example-com", _args(byodkim=ByodkimSigning("sel1", "cGxhaW4ta2V5"))))
    ident = _one(mocks, "aws:sesv2/emailIdentity:EmailIdentity")
    assert _key_is_secret(ident.inputs["dkimSigningAttributes"])


def test_mail_from_is_aligned_and_rejects_without_mx(mocks):
    relay, _ = build(lambda: SesRelay("example-com", _args(mail_from_subdomain="bounce.example.com")))
    mf = _one(
        mocks,
        "aws:sesv2/emailIdentityMailFromAttributes:EmailIdentityMailFromAttributes",
    )
    assert mf.inputs["emailIdentity"] == "example.com"
    assert mf.inputs["mailFromDomain"] == "bounce.example.com"
    assert mf.inputs["behaviorOnMxFailure"] == "REJECT_MESSAGE"
    assert relay.mail_from_domain == "bounce.example.com"
    by_type = {r.type: r for r in relay.mail_from_records}
    assert by_type["MX"].name == "bounce.example.com"
    assert by_type["MX"].values == ("10 feedback-smtp.eu-west-1.amazonses.com",)
    assert by_type["TXT"].name == "bounce.example.com"
    assert by_type["TXT"].values[0].startswith("v=spf1 include:amazonses.com")
    assert by_type["TXT"].values[0].endswith("-all")


def test_contact_list_topics(mocks):
    topics = (
        ContactTopic("newsletter", "Newsletter"),
        ContactTopic(
            "offers",
            "Offers",
            default_subscription_status="OPT_IN",
            description="Deals",
        ),
    )
    _relay, out = build(
        lambda: SesRelay("example-com", _args(contact_topics=topics)),
        name=lambda r: r.contact_list_name,
    )
    cl = _one(mocks, "aws:sesv2/contactList:ContactList")
    assert cl.inputs["contactListName"] == out["name"]
    by_name = {t["topicName"]: t for t in cl.inputs["topics"]}
    assert by_name["newsletter"]["defaultSubscriptionStatus"] == "OPT_OUT"
    assert by_name["offers"]["defaultSubscriptionStatus"] == "OPT_IN"
    assert by_name["offers"]["displayName"] == "Offers"
    assert cl.inputs["tags"] == TAGS


def test_no_contact_list_without_topics_and_children_parented(mocks):
    relay, _ = build(lambda: SesRelay("example-com", _args()))
    assert relay.contact_list_name is None
    assert not mocks.of_type("aws:sesv2/contactList:ContactList")
    comp = _component(mocks)
    children = [r for r in mocks.registered if r is not comp]
    assert len(children) == 6
    assert all(r.parent == comp.urn for r in children)
    assert all(r.name.startswith("example-com-") for r in children)
    taggable = {
        "aws:sesv2/configurationSet:ConfigurationSet",
        "aws:sns/topic:Topic",
        "aws:sesv2/emailIdentity:EmailIdentity",
    }
    assert all(r.inputs.get("tags") == TAGS for r in children if r.type in taggable)
    assert all(r.inputs.get("region") == "eu-west-1" for r in children)
    assert relay.smtp_endpoint == "email-smtp.eu-west-1.amazonaws.com"


def test_two_relays_do_not_collide(pulumi_mocks) -> None:
    build(
        lambda: (
            SesRelay("example-com", _args()),
            SesRelay("example-org", _args(domain="example.org")),
        )
    )
    names = [(r.type, r.name) for r in pulumi_mocks.registered]
    assert len(names) == len(set(names)) == 14
    ses_names = [r.inputs["configurationSetName"] for r in pulumi_mocks.of_type("aws:sesv2/configurationSet:ConfigurationSet")]
    assert sorted(ses_names) == ["example-com", "example-org"]


def test_mail_from_records_builder() -> None:
    records = mail_from_dns_records("bounce.example.com", "eu-west-1")
    assert {r.type for r in records} == {"MX", "TXT"}


@pytest.mark.parametrize(
    ("over", "message"),
    [
        (
            {"domain": "example"},
            "domain: must be a domain name of LDH labels such as example.com (got 'example')",
        ),
        (
            {"region": "EU"},
            "region: must be an AWS region name such as eu-west-1 (got 'EU')",
        ),
        (
            {"kms_key_arn": "alias/mail"},
            "kms_key_arn: must be the KeyStore CMK's ARN (got 'alias/mail')",
        ),
        (
            {"mail_from_subdomain": "bounce.other.com."},
            (
                "mail_from_subdomain: must be a subdomain of example.com (relative, e.g. 'bounce') so SPF aligns"
                " with the From domain (got 'bounce.other.com.')"
            ),
        ),
        (
            {"mail_from_subdomain": "example.com"},
            (
                "mail_from_subdomain: must be a subdomain of example.com (relative, e.g. 'bounce') so SPF aligns"
                " with the From domain (got 'example.com')"
            ),
        ),
        (
            {"mail_from_subdomain": "Bounce"},
            (
                "mail_from_subdomain: must be a subdomain of example.com (relative, e.g. 'bounce') so SPF aligns"
                " with the From domain (got 'Bounce')"
            ),
        ),
        (
            {"max_delivery_seconds": 60},
            "max_delivery_seconds: must be an integer from 300 to 50400 (got 60)",
        ),
        (
            {"max_delivery_seconds": True},
            "max_delivery_seconds: must be an integer from 300 to 50400 (got True)",
        ),
        (
            {"dedicated_ip_pool_scaling_mode": "AUTO"},
            "dedicated_ip_pool_scaling_mode: must be None, STANDARD or MANAGED (got 'AUTO')",
        ),
        (
            {"byodkim": {"selector": "s1", "key": "x"}},
            "byodkim: unknown keys (got ['key'])",
        ),
        (
            {"byodkim": {"selector": "Bad_Sel", "private_key": "x"}},
            "byodkim.selector: must be a DKIM selector (dot-separated labels of letters, digits and inner hyphens) (got 'Bad_Sel')",
        ),
        (
            {"byodkim": {"selector": "s1", "private_key": ""}},
            "byodkim.private_key: must be given (the base64 private key) (got None)",
        ),
        (
            {"contact_topics": ("x",)},
            "contact_topics: must be ContactTopic values (got ('x',))",
        ),
        (
            {"contact_topics": (ContactTopic("a", "A"), ContactTopic("a", "B"))},
            "contact_topics: topic names must be unique (got ['a', 'a'])",
        ),
        (
            {"contact_topics": tuple(ContactTopic(f"t{i}", "T") for i in range(21))},
            "contact_topics: at most 20 topics (SES quota) (got 21)",
        ),
        (
            {"tags": {"": "x"}},
            "tags: must be a mapping of non-empty str keys to str values (got {'': 'x'})",
        ),
    ],
)
def test_args_validation_messages(over: dict[str, Any], message: str) -> None:
    with pytest.raises(RelayArgsError) as err:
        _args(**over)
    assert str(err.value) == message


def test_contact_topic_validation() -> None:
    with pytest.raises(RelayArgsError) as err:
        ContactTopic("news", "News", default_subscription_status="SUBSCRIBED")
    assert str(err.value) == ("contact_topics.default_subscription_status: must be OPT_IN or OPT_OUT (got 'SUBSCRIBED')")
    with pytest.raises(RelayArgsError) as err:
        ContactTopic("news letter", "News")
    assert str(err.value) == "contact_topics.name: must be 1-64 letters, digits, '_' or '-' (got 'news letter')"


def test_byodkim_repr_hides_key() -> None:
    assert "secretbytes" not in repr(ByodkimSigning("s1", "secretbytes"))


def test_relay_rejects_wrong_args_type() -> None:
    with pytest.raises(RelayArgsError) as err:
        SesRelay("x", {"domain": "example.com"})  # type: ignore[arg-type]
    assert str(err.value) == "args: must be SesRelayArgs (got 'dict')"
