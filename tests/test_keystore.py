"""KeyStore: args validation, key policy (pure), and the resources it declares (mocks)."""

from __future__ import annotations

import json
import logging

import pulumi
import pytest

from mailinfra.components.keystore import (
    ADMIN_ACTIONS,
    DESTRUCTIVE_ACTIONS,
    KeyStore,
    KeyStoreArgs,
    KeyStoreError,
    alarm_event_pattern,
    key_policy,
)

ACCOUNT = "123456789012"
ADMIN = f"arn:aws:iam::{ACCOUNT}:role/mailinfra-deployer"
ADMIN2 = f"arn:aws:iam::{ACCOUNT}:role/security-breakglass"
USER = f"arn:aws:iam::{ACCOUNT}:role/mailinfra-relay"
TAGS = {"owner": "mail-team", "data-classification": "confidential"}


def make_args(**over: object) -> KeyStoreArgs:
    base: dict[str, object] = {
        "environment": "prod",
        "alias_name": "mailinfra-prod",
        "account_id": ACCOUNT,
        "region": "eu-west-1",
        "admin_principals": (ADMIN, ADMIN2),
        "user_principals": (USER,),
        "alert_email": "security@example.com",
        "tags": TAGS,
    }
    base.update(over)
    return KeyStoreArgs(**base)  # type: ignore[arg-type]


def statements(policy: dict) -> dict[str, dict]:
    return {s["Sid"]: s for s in policy["Statement"]}


# --- args validation ---------------------------------------------------------------


def test_defaults() -> None:
    a = make_args()
    assert a.rotation_period_days == 365
    assert a.deletion_window_days == 30
    assert a.secret_recovery_window_days == 30
    assert a.alias == "alias/mailinfra-prod"
    assert a.protect is True
    assert a.tags["environment"] == "prod" and a.tags["owner"] == "mail-team"


@pytest.mark.parametrize(
    ("over", "argument"),
    [
        ({"deletion_window_days": 7}, "deletion_window_days"),
        ({"deletion_window_days": 29}, "deletion_window_days"),
        ({"deletion_window_days": 31, "environment": "dev"}, "deletion_window_days"),
        ({"deletion_window_days": 6, "environment": "dev"}, "deletion_window_days"),
        ({"rotation_period_days": 366}, "rotation_period_days"),
        ({"rotation_period_days": 89}, "rotation_period_days"),
        ({"rotation_period_days": True}, "rotation_period_days"),
        ({"secret_recovery_window_days": 7}, "secret_recovery_window_days"),
        ({"environment": "production"}, "environment"),
        ({"admin_principals": ()}, "admin_principals"),
        ({"admin_principals": ("*",)}, "admin_principals[0]"),
        ({"admin_principals": (f"arn:aws:iam::{ACCOUNT}:role/*",)}, "admin_principals[0]"),
        ({"admin_principals": ("arn:aws:iam::12:role/x",)}, "admin_principals[0]"),
        ({"admin_principals": ADMIN}, "admin_principals"),
        ({"admin_principals": (ADMIN, ADMIN)}, "admin_principals"),
        ({"user_principals": (ADMIN, "*")}, "user_principals[1]"),
        ({"account_id": "1234"}, "account_id"),
        ({"region": "Europe"}, "region"),
        ({"alias_name": "alias/x"}, "alias_name"),
        ({"alias_name": "aws/x"}, "alias_name"),
        ({"alias_name": "bad name"}, "alias_name"),
        ({"alert_email": "not-an-email"}, "alert_email"),
        ({"alert_https_endpoint": "http://hooks.example.com/x"}, "alert_https_endpoint"),
        ({"user_services": ("ec2",)}, "user_services[0]"),
        ({"user_services": ()}, "user_services"),
        ({"tags": {"aws:x": "y"}}, "tags.aws:x"),
        ({"tags": {"environment": "dev"}}, "tags.environment"),
    ],
)
def test_invalid_args_name_the_argument(over: dict, argument: str) -> None:
    with pytest.raises(KeyStoreError) as e:
        make_args(**over)
    assert e.value.argument == argument
    assert str(e.value).startswith(f"{argument}: ")
    assert "(got " in str(e.value)
    assert isinstance(e.value, ValueError)


def test_dev_may_use_short_windows() -> None:
    a = make_args(environment="dev", deletion_window_days=7, secret_recovery_window_days=7)
    assert a.deletion_window_days == 7 and a.protect is False


# --- key policy ----------------------------------------------------------------------


def _principals(policy: dict) -> list[str]:
    out: list[str] = []
    for s in policy["Statement"]:
        p = s["Principal"]
        assert p != "*"
        for v in p.values():
            out.extend(v if isinstance(v, list) else [v])
    return out


def test_policy_has_no_wildcard_principal_and_no_root() -> None:
    policy = key_policy(make_args())
    principals = _principals(policy)
    assert "*" not in principals
    assert all("*" not in p for p in principals)
    assert not any(p.endswith(":root") for p in principals)
    assert all(s["Effect"] == "Allow" for s in policy["Statement"])
    json.dumps(policy)  # serializable


def test_policy_admin_statement() -> None:
    s = statements(key_policy(make_args()))["KeyAdministration"]
    assert s["Principal"] == {"AWS": sorted([ADMIN, ADMIN2])}
    assert s["Action"] == list(ADMIN_ACTIONS)
    assert set(s["Action"]) == {
        "kms:Create*",
        "kms:Describe*",
        "kms:Enable*",
        "kms:List*",
        "kms:Put*",
        "kms:Update*",
        "kms:Revoke*",
        "kms:Get*",
        "kms:TagResource",
        "kms:UntagResource",
        "kms:RotateKeyOnDemand",
    }
    assert "Condition" not in s
    # no destructive or wildcard action without MFA anywhere
    for st in key_policy(make_args())["Statement"]:
        if st["Sid"] != "KeyAdministrationDestructiveWithMfa":
            actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            assert not {
                "kms:*",
                "*",
                "kms:Disable*",
                "kms:DisableKey",
                "kms:ScheduleKeyDeletion",
                "kms:CancelKeyDeletion",
                "kms:Delete*",
            } & set(actions)


def test_policy_destructive_actions_need_mfa() -> None:
    s = statements(key_policy(make_args()))["KeyAdministrationDestructiveWithMfa"]
    assert s["Principal"] == {"AWS": sorted([ADMIN, ADMIN2])}
    assert set(s["Action"]) == set(DESTRUCTIVE_ACTIONS) == {"kms:Disable*", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion"}
    assert s["Condition"] == {"Bool": {"aws:MultiFactorAuthPresent": "true"}}


def test_policy_key_users_only_through_services() -> None:
    s = statements(key_policy(make_args(user_services=("secretsmanager", "sns"))))["KeyUseThroughServices"]
    assert s["Principal"] == {"AWS": [USER]}
    assert set(s["Action"]) == {"kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"}
    assert s["Condition"]["StringEquals"]["kms:ViaService"] == [
        "secretsmanager.eu-west-1.amazonaws.com",
        "sns.eu-west-1.amazonaws.com",
    ]
    assert s["Condition"]["StringEquals"]["kms:CallerAccount"] == ACCOUNT


def test_policy_without_users_has_no_user_statement() -> None:
    assert "KeyUseThroughServices" not in statements(key_policy(make_args(user_principals=())))


def test_policy_eventbridge_for_alarm_topic() -> None:
    s = statements(key_policy(make_args()))["EventBridgePublishesToEncryptedAlarmTopic"]
    assert s["Principal"] == {"Service": "events.amazonaws.com"}
    assert set(s["Action"]) == {"kms:GenerateDataKey*", "kms:Decrypt"}
    assert s["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


def test_policy_lets_ses_publish_to_encrypted_event_topics_only_when_asked() -> None:
    assert "SesPublishesToEncryptedEventTopics" not in statements(key_policy(make_args()))
    s = statements(key_policy(make_args(ses_event_topics=True)))["SesPublishesToEncryptedEventTopics"]
    assert s["Principal"] == {"Service": "ses.amazonaws.com"}
    assert set(s["Action"]) == {"kms:GenerateDataKey*", "kms:Decrypt"}
    assert s["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


def test_event_pattern() -> None:
    arn = "arn:aws:kms:eu-west-1:123456789012:key/abc"
    p = alarm_event_pattern(arn)
    assert p["source"] == ["aws.kms"]
    assert p["detail"]["resources"] == {"ARN": [arn]}
    destructive, failed = p["detail"]["$or"]
    assert {"DisableKey", "ScheduleKeyDeletion"} <= set(destructive["eventName"])
    assert {"Decrypt", "Encrypt", "GenerateDataKey"} <= set(failed["eventName"])
    assert failed["errorCode"] == [{"exists": True}]


# --- component (mocks) -----------------------------------------------------------------


def build(recorder, args: KeyStoreArgs, secret_value: str | None = None, opts=None):
    box: dict = {}

    @pulumi.runtime.test
    def run():
        ks = KeyStore("mail", args, opts=opts)
        box["ks"] = ks
        outs = [ks.key_arn, ks.alias_name, ks.topic_arn]  # key_id is computed by AWS, None in mocks
        if secret_value is not None:
            value = pulumi.Output.from_input(secret_value)
            box["secret"] = ks.secret("smtp-password", value, "SMTP password of the relay user")

        def check(values):
            assert all(values)
            return True

        return pulumi.Output.all(*outs).apply(check)

    run()
    return box


def one(recorder, type_: str):
    found = recorder.of_type(type_)
    assert len(found) == 1, [r.name for r in found]
    return found[0]


def test_prod_key(pulumi_mocks) -> None:
    build(pulumi_mocks, make_args())
    comp = one(pulumi_mocks, "mailinfra:keystore:KeyStore")
    key = one(pulumi_mocks, "aws:kms/key:Key")
    i = key.inputs
    assert key.name == "mail-key"
    assert i["enableKeyRotation"] is True
    assert i["rotationPeriodInDays"] == 365
    assert i["deletionWindowInDays"] == 30
    assert i["customerMasterKeySpec"] == "SYMMETRIC_DEFAULT"
    assert i["keyUsage"] == "ENCRYPT_DECRYPT"
    assert i.get("bypassPolicyLockoutSafetyCheck", False) is False
    assert key.protect is True
    assert key.parent == comp.urn
    assert json.loads(i["policy"]) == json.loads(json.dumps(key_policy(make_args())))
    assert i["tags"]["owner"] == "mail-team" and i["tags"]["environment"] == "prod"


def test_dev_key_not_protected_and_custom_period(pulumi_mocks) -> None:
    build(pulumi_mocks, make_args(environment="dev", rotation_period_days=90, deletion_window_days=7))
    key = one(pulumi_mocks, "aws:kms/key:Key")
    assert key.protect is False
    assert key.inputs["rotationPeriodInDays"] == 90
    assert key.inputs["deletionWindowInDays"] == 7


def test_caller_protect_is_kept_in_dev(pulumi_mocks) -> None:
    build(pulumi_mocks, make_args(environment="dev"), opts=pulumi.ResourceOptions(protect=True))
    assert one(pulumi_mocks, "aws:kms/key:Key").protect is True
    assert one(pulumi_mocks, "mailinfra:keystore:KeyStore").protect is True


def test_alias_and_monitoring(pulumi_mocks) -> None:
    build(pulumi_mocks, make_args(alert_https_endpoint="https://hooks.example.com/kms"))
    comp = one(pulumi_mocks, "mailinfra:keystore:KeyStore")
    key = one(pulumi_mocks, "aws:kms/key:Key")
    alias = one(pulumi_mocks, "aws:kms/alias:Alias")
    assert alias.inputs["name"] == "alias/mailinfra-prod"
    assert alias.inputs["targetKeyId"].endswith(":key/mail-key")  # the key's ARN (keyId is AWS-computed)
    assert alias.parent == key.parent
    topic = one(pulumi_mocks, "aws:sns/topic:Topic")
    assert topic.inputs["kmsMasterKeyId"].endswith("/mail-key")  # the CMK's ARN
    assert topic.inputs["tags"]["owner"] == "mail-team"
    rule = one(pulumi_mocks, "aws:cloudwatch/eventRule:EventRule")
    assert rule.inputs["state"] == "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
    pattern = json.loads(rule.inputs["eventPattern"])
    assert pattern == alarm_event_pattern(topic.inputs["kmsMasterKeyId"])
    target = one(pulumi_mocks, "aws:cloudwatch/eventTarget:EventTarget")
    assert target.inputs["arn"].endswith("/mail-key-alarms")
    policy = json.loads(one(pulumi_mocks, "aws:sns/topicPolicy:TopicPolicy").inputs["policy"])
    (st,) = policy["Statement"]
    assert st["Principal"] == {"Service": "events.amazonaws.com"} and st["Action"] == "sns:Publish"
    assert st["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
    assert st["Condition"]["ArnEquals"]["aws:SourceArn"].endswith("/mail-key-events")
    subs = {
        s.inputs["protocol"]: s.inputs["endpoint"] for s in pulumi_mocks.of_type("aws:sns/topicSubscription:TopicSubscription")
    }
    assert subs == {"email": "security@example.com", "https": "https://hooks.example.com/kms"}
    # every child parented and named after the component; every taggable one tagged
    for r in pulumi_mocks.registered:
        if r.type.startswith("aws:"):
            assert r.parent == comp.urn and r.name.startswith("mail-"), r.name
        if r.type in ("aws:kms/key:Key", "aws:sns/topic:Topic", "aws:cloudwatch/eventRule:EventRule"):
            assert r.inputs["tags"]["environment"] == "prod"


def test_no_subscription_without_endpoint(pulumi_mocks) -> None:
    build(pulumi_mocks, make_args(alert_email=None))
    assert pulumi_mocks.of_type("aws:sns/topicSubscription:TopicSubscription") == []


SECRET_TEXT = "s3cr3t-SMTP-p4ssw0rd-do-not-leak"


def test_secret_under_the_key_is_secret(pulumi_mocks, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    box: dict = {}

    @pulumi.runtime.test
    def run():
        ks = KeyStore("mail", make_args())
        secret = ks.secret("smtp-password", pulumi.Output.from_input(SECRET_TEXT), "SMTP password")
        box["secret"] = secret
        versions = []
        return pulumi.Output.all(secret.arn, *versions)

    run()
    sec = one(pulumi_mocks, "aws:secretsmanager/secret:Secret")
    ver = one(pulumi_mocks, "aws:secretsmanager/secretVersion:SecretVersion")
    comp = one(pulumi_mocks, "mailinfra:keystore:KeyStore")
    assert sec.name == "mail-smtp-password" and ver.name == "mail-smtp-password-version"
    assert sec.parent == comp.urn and ver.parent == comp.urn
    assert sec.inputs["kmsKeyId"].endswith("/mail-key")
    assert sec.inputs["recoveryWindowInDays"] == 30
    assert sec.inputs["tags"]["owner"] == "mail-team"
    # the raw wire value of secretString is a secret wrapper, never the plain text
    raw = ver.raw_inputs.fields["secretString"]
    assert raw.WhichOneof("kind") == "struct_value"
    assert raw.struct_value.fields["4dabf18193072939515e22adb298388d"].string_value == "1b47061264138c4ac30d75fd1eb44270"
    assert "secretString" in ver.additional_secret_outputs
    _assert_not_in_plain_inputs(pulumi_mocks, SECRET_TEXT)
    assert SECRET_TEXT not in caplog.text


def test_secret_output_is_secret(pulumi_mocks) -> None:
    @pulumi.runtime.test
    def run():
        ks = KeyStore("mail", make_args(environment="dev", secret_recovery_window_days=7))
        ks.secret("smtp-password", SECRET_TEXT, "SMTP password")  # a plain str in: still a secret out
        version = ks.secret_versions["smtp-password"]
        return assert_secret(version.secret_string)

    run()
    sec = one(pulumi_mocks, "aws:secretsmanager/secret:Secret")
    assert sec.inputs["recoveryWindowInDays"] == 7
    assert sec.protect is False


def assert_secret(output: pulumi.Output) -> pulumi.Output:
    """An Output that fails the test unless ``output`` is a secret (``is_secret`` is async)."""

    async def check() -> bool:
        assert await output.is_secret() is True
        return True

    return pulumi.Output.from_input(check())


def test_secret_names_validated(pulumi_mocks) -> None:
    @pulumi.runtime.test
    def run():
        ks = KeyStore("mail", make_args())
        ks.secret("one", "x", "first")
        with pytest.raises(KeyStoreError, match="^name: is already"):
            ks.secret("one", "y", "again")
        with pytest.raises(KeyStoreError, match="^name: "):
            ks.secret("Bad_Name", "y", "bad")
        with pytest.raises(KeyStoreError, match="^description: "):
            ks.secret("two", "y", "")
        return ks.key_arn

    run()
    assert len(pulumi_mocks.of_type("aws:secretsmanager/secret:Secret")) == 1


def test_invalid_args_create_nothing(pulumi_mocks) -> None:
    @pulumi.runtime.test
    def run():
        with pytest.raises(KeyStoreError):
            KeyStore("mail", "not args")  # type: ignore[arg-type]
        return pulumi.Output.from_input(1)

    run()
    assert pulumi_mocks.registered == []


def _walk(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _walk(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _walk(v)
    else:
        yield value


def _assert_not_in_plain_inputs(recorder, needle: str) -> None:
    """``needle`` never appears in a registered input that is not a secret on the wire."""
    for r in recorder.registered:
        for name, raw in r.raw_inputs.fields.items():
            if raw.WhichOneof("kind") == "struct_value" and "4dabf18193072939515e22adb298388d" in raw.struct_value.fields:
                continue  # a secret
            assert needle not in str(raw), f"{needle[:12]}... leaked in {r.type} {r.name}.{name}"
