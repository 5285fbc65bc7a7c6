"""SMTP access: the SES SigV4 SMTP password, the send-only IAM policy, secret storage."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
from pulumi.runtime import rpc

from tests.helpers import build

from mailinfra.components.smtp import (
    SmtpAccess,
    SmtpAccessArgs,
    SmtpArgsError,
    secret_slug,
    send_policy_document,
    smtp_password_from_secret_key,
)

# terraform-provider-aws internal/service/iam/access_key_test.go,
# TestSESSMTPPasswordFromSecretKeySigV4 (region, secret key, SMTP password).
TF_VECTORS = [
    ("eu-central-1", "some+secret+key", "BMXhUYlu5Z3gSXVQORxlVa7XPaz91aGWdfHxvkOZdWZ2"),
    (
        "eu-central-1",
        "another+secret+key",
        "BBbphbrQmrKMx42d1N6+C7VINYEBGI5v9VsZeTxwskfh",
    ),
    ("us-west-1", "some+secret+key", "BH+jbMzper5WwlwUar9E1ySBqHa9whi0GPo+sJ0mVYJj"),
    ("us-west-1", "another+secret+key", "BKVmjjMDFk/qqw8EROW99bjCS65PF8WKvK5bSr4Y6EqF"),
]

IDENTITY_ARN = "arn:aws:ses:eu-west-1:123456789012:identity/example.com"
CONFIG_SET_ARN = "arn:aws:ses:eu-west-1:123456789012:configuration-set/example-com"
MOCK_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
MOCK_PASSWORD = smtp_password_from_secret_key(MOCK_SECRET, "eu-west-1")
MOCK_SECRET_2 = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"
MOCK_PASSWORD_2 = smtp_password_from_secret_key(MOCK_SECRET_2, "eu-west-1")


@pytest.mark.parametrize(("region", "secret", "expected"), TF_VECTORS)
def test_password_matches_terraform_vectors(region: str, secret: str, expected: str) -> None:
    assert smtp_password_from_secret_key(secret, region) == expected


def test_password_is_region_bound_and_versioned() -> None:
    a = smtp_password_from_secret_key("some+secret+key", "eu-west-1")
    b = smtp_password_from_secret_key("some+secret+key", "eu-central-1")
    assert a != b
    assert a.startswith("B")  # base64 of version byte 0x04
    assert len(a) == 44


def test_password_errors_never_echo_the_key() -> None:
    with pytest.raises(SmtpArgsError) as err:
        smtp_password_from_secret_key("", "eu-west-1")
    assert str(err.value) == "secret_access_key: must be a non-empty str (got '<redacted>')"
    with pytest.raises(SmtpArgsError) as err:
        smtp_password_from_secret_key("some+secret+key", "Europe")
    assert str(err.value) == "region: must be an AWS region name such as eu-west-1 (got 'Europe')"
    assert "some+secret+key" not in str(err.value)


def test_send_policy_document_is_least_privilege() -> None:
    doc = json.loads(send_policy_document("example.com", [IDENTITY_ARN, CONFIG_SET_ARN]))
    assert len(doc["Statement"]) == 1
    stmt = doc["Statement"][0]
    assert stmt["Effect"] == "Allow"
    assert sorted(stmt["Action"]) == ["ses:SendEmail", "ses:SendRawEmail"]
    assert stmt["Resource"] == sorted([IDENTITY_ARN, CONFIG_SET_ARN])
    assert stmt["Condition"] == {"StringLike": {"ses:FromAddress": "*@example.com"}}
    with pytest.raises(SmtpArgsError) as err:
        send_policy_document("example.com", ["*"])
    assert str(err.value) == "resource_arns: must be explicit ARNs without wildcards (got ['*'])"


def test_secret_slug() -> None:
    assert secret_slug("Example.COM-smtp-credentials") == "example-com-smtp-credentials"
    assert len(secret_slug("x" * 200)) == 64


# --- component ----------------------------------------------------------------------


class FakeSecrets:
    """Stand-in for KeyStore.secret: records calls, declares a SecretVersion like the real one."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, pulumi.Output[str], str]] = []
        self.version: aws.secretsmanager.SecretVersion | None = None

    def __call__(self, name: str, value: pulumi.Output[str], description: str) -> pulumi.Output[str]:
        self.calls.append((name, value, description))
        self.version = aws.secretsmanager.SecretVersion(
            f"fake-{name}",
            secret_id=f"fake-{name}",
            secret_string=pulumi.Output.secret(value),
        )
        return pulumi.Output.from_input(f"arn:aws:secretsmanager:eu-west-1:123456789012:secret:{name}")


def _args(factory: Any = None, **over: Any) -> SmtpAccessArgs:
    base: dict[str, Any] = {
        "domain": "example.com",
        "region": "eu-west-1",
        "identity_arn": IDENTITY_ARN,
        "configuration_set_arn": CONFIG_SET_ARN,
        "secret_factory": factory or FakeSecrets(),
        "tags": {
            "owner": "mail",
            "environment": "dev",
            "data-classification": "internal",
        },
    }
    base.update(over)
    return SmtpAccessArgs(**base)


@pytest.fixture
def mocks(pulumi_mocks):
    """The shared recorder, returning a realistic `secret` for access keys."""
    original = pulumi_mocks.new_resource

    def new_resource(args):
        rid, state = original(args)
        if args.typ == "aws:iam/accessKey:AccessKey":
            gen = args.name.rsplit("-", 1)[-1]
            state = {**state, "secret": MOCK_SECRET if gen == "1" else MOCK_SECRET_2}
            rid = f"AKIAMOCKACCESSKEY00{gen}"
        return rid, state

    pulumi_mocks.new_resource = new_resource
    return pulumi_mocks


def _plain_strings(value: Any):
    """Every string in a deserialized input that is NOT inside a secret."""
    if rpc.is_rpc_secret(value):
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _plain_strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _plain_strings(v)


def test_smtp_access_declares_send_only_user(mocks):
    secrets = FakeSecrets()
    # build() asserts after every registration: the policy waits on an apply of its inputs
    build(lambda: SmtpAccess("example-com-smtp", _args(secrets)), username=lambda a: a.username)
    (user,) = mocks.of_type("aws:iam/user:User")
    assert user.inputs["path"] == "/mailinfra/"
    assert user.inputs["tags"]["owner"] == "mail"
    (policy,) = mocks.of_type("aws:iam/userPolicy:UserPolicy")
    doc = json.loads(policy.inputs["policy"])
    (stmt,) = doc["Statement"]
    assert sorted(stmt["Action"]) == ["ses:SendEmail", "ses:SendRawEmail"]
    assert "*" not in stmt["Resource"] and stmt["Resource"] == sorted([IDENTITY_ARN, CONFIG_SET_ARN])
    assert stmt["Condition"]["StringLike"]["ses:FromAddress"] == "*@example.com"
    (key,) = mocks.of_type("aws:iam/accessKey:AccessKey")
    comp = next(r for r in mocks.registered if r.type == "mailinfra:smtp:SmtpAccess")
    for child in (user, policy, key):
        assert child.parent == comp.urn
        assert child.name.startswith("example-com-smtp-")
    assert "secret" in key.additional_secret_outputs
    assert len(secrets.calls) == 1
    name, _, description = secrets.calls[0]
    assert name == "example-com-smtp-credentials"
    assert "example.com" in description


@pulumi.runtime.test
def test_smtp_outputs_are_only_username_arn_endpoint(mocks):
    access = SmtpAccess("example-com-smtp", _args())

    def check(values):
        username, arn = values
        assert username == "AKIAMOCKACCESSKEY001"
        assert arn.endswith(":secret:example-com-smtp-credentials")
        assert access.smtp_endpoint == "email-smtp.eu-west-1.amazonaws.com"
        public = {k for k in vars(access) if not k.startswith("_")}
        assert not {"password", "secret", "credentials"} & public

    return pulumi.Output.all(access.username, access.secret_arn).apply(check)


@pulumi.runtime.test
def test_stored_credentials_are_secret_json(mocks):
    secrets = FakeSecrets()
    SmtpAccess("example-com-smtp", _args(secrets))
    _, value, _ = secrets.calls[0]

    def check(pair):
        is_secret, text = pair
        assert is_secret is True
        assert json.loads(text) == {
            "username": "AKIAMOCKACCESSKEY001",
            "password": MOCK_PASSWORD,
            "endpoint": "email-smtp.eu-west-1.amazonaws.com",
            "port": 587,
        }

    return pulumi.Output.all(pulumi.Output.from_input(value.is_secret()), value).apply(check)


def test_no_password_in_any_plain_input(mocks):
    secrets = FakeSecrets()
    build(lambda: SmtpAccess("example-com-smtp", _args(secrets)), arn=lambda a: a.secret_arn)
    assert mocks.of_type("aws:iam/userPolicy:UserPolicy")
    for r in mocks.registered:
        for text in _plain_strings(r.inputs):
            assert MOCK_PASSWORD not in text, f"{r.type} {r.name} carries the SMTP password in clear"
            assert MOCK_SECRET not in text, f"{r.type} {r.name} carries the secret key in clear"
    # the SecretVersion input itself arrives wrapped as a secret
    (version,) = mocks.of_type("aws:secretsmanager/secretVersion:SecretVersion")
    assert rpc.is_rpc_secret(version.inputs["secretString"])


@pulumi.runtime.test
def test_secret_factory_may_return_a_resource(mocks):
    captured: list[aws.secretsmanager.Secret] = []

    def factory(name, value, description):
        res = aws.secretsmanager.Secret(name, description=description)
        captured.append(res)
        return res  # like KeyStore.secret

    access = SmtpAccess("s", _args(factory))

    def check(values):
        assert values[0] == values[1]

    return pulumi.Output.all(access.secret_arn, captured[0].arn).apply(check)


@pytest.mark.parametrize(
    ("generations", "active", "user", "password"),
    [
        (("1",), None, "AKIAMOCKACCESSKEY001", MOCK_PASSWORD),
        (("1", "2"), "1", "AKIAMOCKACCESSKEY001", MOCK_PASSWORD),  # step 1: add
        (("1", "2"), "2", "AKIAMOCKACCESSKEY002", MOCK_PASSWORD_2),  # step 2: swap
        (("2",), None, "AKIAMOCKACCESSKEY002", MOCK_PASSWORD_2),  # step 3: delete
    ],
)
def test_rotation_two_keys_swap_delete(mocks, generations, active, user, password):
    secrets = FakeSecrets()
    holder: dict[str, Any] = {}

    @pulumi.runtime.test
    def run():
        access = SmtpAccess(
            "example-com-smtp",
            _args(secrets, key_generations=generations, active_key=active),
        )
        _, value, _ = secrets.calls[0]
        return pulumi.Output.all(access.username, value).apply(lambda v: holder.update(v=v))

    run()
    username, text = holder["v"]
    assert username == user
    assert json.loads(text)["password"] == password
    assert json.loads(text)["username"] == user
    keys = sorted(r.name for r in mocks.of_type("aws:iam/accessKey:AccessKey"))
    assert keys == [f"example-com-smtp-key-{g}" for g in sorted(generations)]
    assert len(secrets.calls) == 1  # one secret, always the active key's credentials


@pytest.mark.parametrize(
    ("over", "message"),
    [
        (
            {"domain": "Example.com"},
            "domain: must be lowercase, without a trailing dot, at most 253 characters (got 'Example.com')",
        ),
        (
            {"region": "mars-1"},
            "region: must be an AWS region name such as eu-west-1 (got 'mars-1')",
        ),
        (
            {"identity_arn": "*"},
            "identity_arn: must be an explicit ARN without wildcards (got '*')",
        ),
        (
            {"configuration_set_arn": "arn:aws:ses:*"},
            "configuration_set_arn: must be an explicit ARN without wildcards (got 'arn:aws:ses:*')",
        ),
        (
            {"secret_factory": "nope"},
            "secret_factory: must be callable (name, value, description) (got 'nope')",
        ),
        ({"port": 8025}, "port: must be one of [25, 465, 587, 2465, 2587] (got 8025)"),
        (
            {"key_generations": ("1", "2", "3")},
            ("key_generations: must be 1 or 2 distinct short slugs (IAM allows two access keys per user) (got ('1', '2', '3'))"),
        ),
        (
            {"key_generations": ("1", "1")},
            ("key_generations: must be 1 or 2 distinct short slugs (IAM allows two access keys per user) (got ('1', '1'))"),
        ),
        (
            {"key_generations": "12"},
            ("key_generations: must be 1 or 2 distinct short slugs (IAM allows two access keys per user) (got '12')"),
        ),
        ({"active_key": "3"}, "active_key: must be one of ['1'] (got '3')"),
        (
            {"tags": {"owner": 1}},
            "tags: must be a mapping of non-empty str keys to str values (got {'owner': 1})",
        ),
    ],
)
def test_args_validation_messages(over: dict[str, Any], message: str) -> None:
    with pytest.raises(SmtpArgsError) as err:
        _args(**over)
    assert str(err.value) == message
    assert isinstance(err.value, ValueError)
