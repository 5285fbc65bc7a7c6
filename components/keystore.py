"""KeyStore: a customer-managed KMS key, its alias, its monitors and the secrets under it.

One KeyStore per stack (or per domain) holds:

- a symmetric CMK (SYMMETRIC_DEFAULT / ENCRYPT_DECRYPT) with automatic rotation every
  ``rotation_period_days`` (90..365), a deletion window of 30 days by default (never
  below 30 in prod) and ``protect=True`` in prod;
- a least-privilege key policy (:func:`key_policy`, pure and unit-tested): explicit
  administrators, destructive actions only with MFA, key users only through the AWS
  services that need the key (``kms:ViaService``), EventBridge allowed to publish to the
  encrypted alarm topic, no wildcard principal, no lockout-check bypass;
- ``alias/<alias_name>``;
- an EventBridge rule on DisableKey / ScheduleKeyDeletion / DisableKeyRotation and on
  failed or denied uses of the key, sent to an SNS topic encrypted under the key;
- :meth:`KeyStore.secret`: Secrets Manager secrets under the key, values always secret.

Every child is parented to the component, named after it and tagged. Arguments are
validated before any child exists; :class:`KeyStoreError` names the argument and value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from mailinfra.policies.mailinfra_policy.standards._common import ENVIRONMENTS
from mailinfra.policies.mailinfra_policy.standards._uris import address_domain, https_host
from mailinfra.policies.mailinfra_policy.standards import aws as aws_std
from mailinfra.policies.mailinfra_policy.standards.aws import is_aws_region

from .errors import ArgsError

__all__ = [
    "ADMIN_ACTIONS",
    "DESTRUCTIVE_ACTIONS",
    "KEY_USER_ACTIONS",
    "KeyStore",
    "KeyStoreArgs",
    "KeyStoreError",
    "admin_statements",
    "alarm_event_pattern",
    "key_policy",
    "validate_principals",
]

# Key administration without the destructive actions (AWS "key administrators" set,
# narrowed: no kms:Delete*, no kms:Disable*, no ScheduleKeyDeletion).
ADMIN_ACTIONS: tuple[str, ...] = (
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
)
# Anything that can make the key (and every secret under it) unusable: MFA only.
DESTRUCTIVE_ACTIONS: tuple[str, ...] = (
    "kms:Disable*",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
)
KEY_USER_ACTIONS: tuple[str, ...] = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:GenerateDataKey*",
    "kms:DescribeKey",
)
# What EventBridge needs to publish to an SNS topic encrypted under the key.
EVENTS_KEY_ACTIONS: tuple[str, ...] = ("kms:GenerateDataKey*", "kms:Decrypt")

USER_SERVICES = ("secretsmanager", "sns", "ses", "sqs", "s3")

# KMS CloudTrail events that the alarm rule reports.
DESTRUCTIVE_EVENTS: tuple[str, ...] = ("DisableKey", "ScheduleKeyDeletion", "DisableKeyRotation")
KEY_USE_EVENTS: tuple[str, ...] = (
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncrypt",
)

_SECRET_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")


class KeyStoreError(ArgsError):
    """An argument of a key component is invalid: ``"<argument>: <reason> (got <value>)"``."""


def validate_principals(argument: str, principals: Sequence[str], *, required: bool) -> tuple[str, ...]:
    """Explicit IAM user/role/account-root ARNs only: never ``*`` nor a wildcard in an ARN."""
    if isinstance(principals, str) or not isinstance(principals, Sequence):
        raise KeyStoreError(argument, principals, "must be a list of IAM ARNs")
    if required and not principals:
        raise KeyStoreError(argument, list(principals), "needs at least one IAM principal")
    for i, p in enumerate(principals):
        if not isinstance(p, str) or "*" in p or "?" in p:
            raise KeyStoreError(f"{argument}[{i}]", p, "wildcard principals are refused; list IAM ARNs explicitly")
        if not aws_std.is_iam_principal_arn(p):
            raise KeyStoreError(f"{argument}[{i}]", p, "must be an IAM user, role or account-root ARN")
    if len(set(principals)) != len(principals):
        raise KeyStoreError(argument, list(principals), "lists a principal twice")
    return tuple(principals)


def validate_tags(argument: str, tags: Mapping[str, str]) -> dict[str, str]:
    if not isinstance(tags, Mapping):
        raise KeyStoreError(argument, tags, "must be a mapping of tag names to values")
    for k, v in tags.items():
        if not isinstance(k, str) or not 1 <= len(k) <= 128 or k.lower().startswith("aws:"):
            raise KeyStoreError(f"{argument}.{k}", k, "tag names are 1-128 characters and may not start with aws:")
        if isinstance(v, pulumi.Output):
            continue  # a secret tag (from a secure config key), validated where it was read
        if not isinstance(v, str) or len(v) > 256:
            raise KeyStoreError(f"{argument}.{k}", v, "tag values are strings of at most 256 characters")
    return dict(tags)


def validate_environment(argument: str, value: Any) -> str:
    if value not in ENVIRONMENTS:
        raise KeyStoreError(argument, value, f"must be one of {', '.join(ENVIRONMENTS)}")
    return str(value)


def validate_int(argument: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise KeyStoreError(argument, value, f"must be an integer from {low} to {high}")
    return value


@dataclass(frozen=True)
class KeyStoreArgs:
    """Everything a KeyStore needs; validated on construction (before any resource exists).

    ``alias_name`` is without the ``alias/`` prefix. ``admin_principals`` must include the
    role that runs ``pulumi up``: the policy has no account-root statement, so KMS's
    lockout safety check refuses a policy that would lock the deployer out.
    """

    environment: str
    alias_name: str
    account_id: str
    region: str
    admin_principals: tuple[str, ...]
    user_principals: tuple[str, ...] = ()
    rotation_period_days: int = 365
    deletion_window_days: int = 30
    secret_recovery_window_days: int = 30
    user_services: tuple[str, ...] = ("secretsmanager",)
    alert_email: str | None = None
    alert_https_endpoint: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    description: str = "mailinfra: secrets of the sending infrastructure"
    ses_event_topics: bool = False  # let SES publish to SNS topics encrypted under the key
    cloudwatch_alarms: bool = False  # let this account's CloudWatch alarms publish to the alarm topic
    audit_services: bool = False  # CloudTrail, AWS Config and CloudWatch Logs encrypt the audit record under the key

    def __post_init__(self) -> None:
        validate_environment("environment", self.environment)
        if isinstance(self.alias_name, str) and self.alias_name.startswith(("alias/", "aws/")):
            raise KeyStoreError(
                "alias_name", self.alias_name, "give the name without alias/; aws/ is reserved for AWS managed keys"
            )
        if not aws_std.is_kms_alias_name(self.alias_name):
            raise KeyStoreError(
                "alias_name", self.alias_name, "must be a KMS alias name (letters, digits, / _ -) without the alias/ prefix"
            )
        if not aws_std.is_account_id(self.account_id):
            raise KeyStoreError("account_id", self.account_id, "must be a 12-digit AWS account id")
        if not is_aws_region(self.region):
            raise KeyStoreError("region", self.region, "must be an AWS region such as eu-west-1")
        object.__setattr__(
            self, "admin_principals", validate_principals("admin_principals", self.admin_principals, required=True)
        )
        object.__setattr__(self, "user_principals", validate_principals("user_principals", self.user_principals, required=False))
        validate_int("rotation_period_days", self.rotation_period_days, 90, 365)
        validate_int("deletion_window_days", self.deletion_window_days, 7, 30)
        if self.environment == "prod" and self.deletion_window_days < 30:
            raise KeyStoreError(
                "deletion_window_days", self.deletion_window_days, "must be 30 in prod (a deleted key is unrecoverable)"
            )
        validate_int("secret_recovery_window_days", self.secret_recovery_window_days, 7, 30)
        if self.environment == "prod" and self.secret_recovery_window_days < 30:
            raise KeyStoreError("secret_recovery_window_days", self.secret_recovery_window_days, "must be 30 in prod")
        services = tuple(self.user_services)
        for i, s in enumerate(services):
            if s not in USER_SERVICES:
                raise KeyStoreError(f"user_services[{i}]", s, f"must be one of {', '.join(USER_SERVICES)}")
        if not services:
            raise KeyStoreError(
                "user_services", list(services), "needs at least one service (key users only act through services)"
            )
        object.__setattr__(self, "user_services", services)
        if self.alert_email is not None and address_domain(self.alert_email) is None:  # the standards' address rule
            raise KeyStoreError("alert_email", self.alert_email, "must be an email address")
        if self.alert_https_endpoint is not None and (
            not isinstance(self.alert_https_endpoint, str) or https_host(self.alert_https_endpoint) is None
        ):
            raise KeyStoreError("alert_https_endpoint", self.alert_https_endpoint, "must be an https:// URL")
        tags = validate_tags("tags", self.tags)
        if tags.get("environment", self.environment) != self.environment:
            raise KeyStoreError("tags.environment", tags["environment"], f"contradicts environment {self.environment!r}")
        tags.setdefault("environment", self.environment)
        object.__setattr__(self, "tags", tags)

    @property
    def alias(self) -> str:
        return f"alias/{self.alias_name}"

    @property
    def protect(self) -> bool:
        return self.environment == "prod"


# ---------------------------------------------------------------------------------
# Key policy (pure)
# ---------------------------------------------------------------------------------


def admin_statements(admin_principals: Sequence[str]) -> list[dict[str, Any]]:
    """Key administration by the listed principals; destructive actions need MFA."""
    admins = sorted(admin_principals)
    return [
        {
            "Sid": "KeyAdministration",
            "Effect": "Allow",
            "Principal": {"AWS": admins},
            "Action": list(ADMIN_ACTIONS),
            "Resource": "*",
        },
        {
            "Sid": "KeyAdministrationDestructiveWithMfa",
            "Effect": "Allow",
            "Principal": {"AWS": admins},
            "Action": list(DESTRUCTIVE_ACTIONS),
            "Resource": "*",
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
        },
    ]


def key_policy(args: KeyStoreArgs) -> dict[str, Any]:
    """The key policy of a KeyStore's CMK.

    No account-root statement: ``arn:aws:iam::<account>:root`` with ``kms:*`` would let
    any IAM principal with kms permissions disable or delete the key without MFA, so
    administration is granted to the listed principals only (list at least two roles
    so that losing one does not orphan the key).
    """
    statements = admin_statements(args.admin_principals)
    if args.user_principals:
        statements.append(
            {
                "Sid": "KeyUseThroughServices",
                "Effect": "Allow",
                "Principal": {"AWS": sorted(args.user_principals)},
                "Action": list(KEY_USER_ACTIONS),
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        "kms:ViaService": [f"{s}.{args.region}.amazonaws.com" for s in args.user_services],
                        "kms:CallerAccount": args.account_id,
                    }
                },
            }
        )
    statements.append(
        {
            "Sid": "EventBridgePublishesToEncryptedAlarmTopic",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": list(EVENTS_KEY_ACTIONS),
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": args.account_id}},
        }
    )
    if args.cloudwatch_alarms:
        # ReputationAlarms and the event pipeline's alarms notify through the alarm topic.
        statements.append(
            {
                "Sid": "CloudWatchAlarmsPublishToEncryptedAlarmTopic",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": list(EVENTS_KEY_ACTIONS),
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceAccount": args.account_id}},
            }
        )
    if args.ses_event_topics:
        # SesRelay's event destination publishes to an SNS topic encrypted under this key.
        statements.append(
            {
                "Sid": "SesPublishesToEncryptedEventTopics",
                "Effect": "Allow",
                "Principal": {"Service": "ses.amazonaws.com"},
                "Action": list(EVENTS_KEY_ACTIONS),
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceAccount": args.account_id}},
            }
        )
    if args.audit_services:
        statements.extend(audit_statements(args.account_id, args.region))
    return {"Version": "2012-10-17", "Id": f"mailinfra-{args.alias_name.replace('/', '-')}", "Statement": statements}


def audit_statements(account_id: str, region: str) -> list[dict[str, Any]]:
    """What the audit record needs of the key (components/audit.py).

    CloudTrail encrypts log files only for trails of this account (the encryption
    context names the trail: CloudTrail User Guide, "Configure AWS KMS key policies for
    CloudTrail"); AWS Config writes its snapshots to the audit bucket, whose default
    encryption is this key; CloudWatch Logs encrypts the audit log groups of this region
    (CloudWatch Logs User Guide, "Encrypt log data in CloudWatch Logs using AWS KMS").
    """
    trails = f"arn:aws:cloudtrail:*:{account_id}:trail/*"
    return [
        {
            "Sid": "CloudTrailEncryptsLogFiles",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "kms:GenerateDataKey*",
            "Resource": "*",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account_id},
                "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": trails},
            },
        },
        {
            "Sid": "CloudTrailDescribesKey",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "kms:DescribeKey",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        },
        {
            "Sid": "ConfigWritesEncryptedSnapshots",
            "Effect": "Allow",
            "Principal": {"Service": "config.amazonaws.com"},
            "Action": list(EVENTS_KEY_ACTIONS),
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        },
        {
            "Sid": "CloudWatchLogsEncryptsAuditLogs",
            "Effect": "Allow",
            "Principal": {"Service": f"logs.{region}.amazonaws.com"},
            "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            "Resource": "*",
            "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{region}:{account_id}:log-group:*"}},
        },
    ]


def alarm_event_pattern(key_arn: str) -> dict[str, Any]:
    """EventBridge pattern: destructive KMS calls on the key, and failed or denied uses of it."""
    return {
        "source": ["aws.kms"],
        "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {
            "eventSource": ["kms.amazonaws.com"],
            "resources": {"ARN": [key_arn]},
            "$or": [
                {"eventName": list(DESTRUCTIVE_EVENTS)},
                {"eventName": list(KEY_USE_EVENTS), "errorCode": [{"exists": True}]},
            ],
        },
    }


def topic_policy(topic_arn: str, rule_arn: str, account_id: str, *, cloudwatch_alarms: bool = False) -> dict[str, Any]:
    alarms = [
        {
            "Sid": "CloudWatchAlarms",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": topic_arn,
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        }
    ]
    return {
        "Version": "2012-10-17",
        "Statement": (alarms if cloudwatch_alarms else [])
        + [
            {
                "Sid": "EventBridgeKeyAlarms",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id}, "ArnEquals": {"aws:SourceArn": rule_arn}},
            }
        ],
    }


# ---------------------------------------------------------------------------------
# Component
# ---------------------------------------------------------------------------------


class SecretStore(pulumi.ComponentResource):
    """What a domain uses of a key store: the key, its alarm topic and secrets under it.
    KeyStore is one; a fleet shard's CoreKeys (components/fleet.py) holds the core's."""

    key_arn: pulumi.Output[str]
    topic_arn: pulumi.Output[str]

    def secret(
        self, name: str, value: pulumi.Input[str], description: str, *, opts: pulumi.ResourceOptions | None = None
    ) -> aws.secretsmanager.Secret:
        raise NotImplementedError


class KeyStore(SecretStore):
    """A KMS CMK with alias, monitors and secrets; see the module docstring."""

    key: aws.kms.Key
    key_arn: pulumi.Output[str]
    key_id: pulumi.Output[str]
    alias_name: pulumi.Output[str]
    topic_arn: pulumi.Output[str]

    def __init__(self, name: str, args: KeyStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        if not isinstance(args, KeyStoreArgs):
            raise KeyStoreError("args", type(args).__name__, "must be a KeyStoreArgs")
        policy = json.dumps(key_policy(args), sort_keys=True)  # before any child exists
        super().__init__("mailinfra:keystore:KeyStore", name, None, opts)
        self._name = name
        self.args = args
        self._secrets: dict[str, aws.secretsmanager.Secret] = {}
        self.secret_versions: dict[str, aws.secretsmanager.SecretVersion] = {}
        tags = dict(args.tags)
        child = pulumi.ResourceOptions(parent=self)
        keep = pulumi.ResourceOptions(parent=self, protect=True) if args.protect else child

        self.key = aws.kms.Key(
            f"{name}-key",
            description=args.description,
            customer_master_key_spec="SYMMETRIC_DEFAULT",
            key_usage="ENCRYPT_DECRYPT",
            enable_key_rotation=True,
            rotation_period_in_days=args.rotation_period_days,
            deletion_window_in_days=args.deletion_window_days,
            bypass_policy_lockout_safety_check=False,
            multi_region=False,
            is_enabled=True,
            policy=policy,
            tags=tags,
            opts=keep,
        )
        self.alias = aws.kms.Alias(f"{name}-alias", name=args.alias, target_key_id=self.key.arn, opts=child)

        self.topic = aws.sns.Topic(f"{name}-key-alarms", kms_master_key_id=self.key.arn, tags=tags, opts=child)
        self.rule = aws.cloudwatch.EventRule(
            f"{name}-key-events",
            description=f"KMS key {args.alias}: disable, scheduled deletion, failed or denied use",
            event_pattern=self.key.arn.apply(lambda arn: json.dumps(alarm_event_pattern(arn), sort_keys=True)),
            # Read-only calls (Decrypt, GenerateDataKey) reach EventBridge only in this state.
            state="ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS",
            tags=tags,
            opts=child,
        )
        self.topic_policy = aws.sns.TopicPolicy(
            f"{name}-key-alarms-policy",
            arn=self.topic.arn,
            policy=pulumi.Output.all(self.topic.arn, self.rule.arn).apply(
                lambda a: json.dumps(
                    topic_policy(a[0], a[1], args.account_id, cloudwatch_alarms=args.cloudwatch_alarms), sort_keys=True
                )
            ),
            opts=child,
        )
        self.target = aws.cloudwatch.EventTarget(
            f"{name}-key-events-target",
            rule=self.rule.name,
            arn=self.topic.arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.topic_policy]),
        )
        self.subscriptions: list[aws.sns.TopicSubscription] = []
        if args.alert_email:
            self.subscriptions.append(
                aws.sns.TopicSubscription(
                    f"{name}-key-alarms-email", topic=self.topic.arn, protocol="email", endpoint=args.alert_email, opts=child
                )
            )
        if args.alert_https_endpoint:
            self.subscriptions.append(
                aws.sns.TopicSubscription(
                    f"{name}-key-alarms-https",
                    topic=self.topic.arn,
                    protocol="https",
                    endpoint=args.alert_https_endpoint,
                    opts=child,
                )
            )

        self.key_arn = self.key.arn
        self.key_id = self.key.key_id
        self.alias_name = self.alias.name
        self.topic_arn = self.topic.arn
        self.register_outputs(
            {"key_arn": self.key_arn, "key_id": self.key_id, "alias_name": self.alias_name, "topic_arn": self.topic_arn}
        )

    def secret(
        self,
        name: str,
        value: pulumi.Input[str],
        description: str,
        *,
        opts: pulumi.ResourceOptions | None = None,
    ) -> aws.secretsmanager.Secret:
        """A Secrets Manager secret encrypted under this key, holding ``value`` as a Pulumi secret.

        Call it while constructing (never inside ``apply``). ``name`` is a short slug,
        unique within this KeyStore; the resources are ``<keystore>-<name>`` and
        ``<keystore>-<name>-version``, children of the KeyStore. The AWS secret name is
        auto-generated from the resource name, so a replacement never collides with a
        secret still inside its recovery window.
        """
        return make_secret(
            self, self._name, self.key.arn, self.args, self._secrets, self.secret_versions, name, value, description, opts
        )


def make_secret(
    owner: pulumi.Resource,
    prefix: str,
    kms_key_arn: pulumi.Input[str],
    args: KeyStoreArgs,
    secrets: dict[str, aws.secretsmanager.Secret],
    versions: dict[str, aws.secretsmanager.SecretVersion],
    name: str,
    value: pulumi.Input[str],
    description: str,
    opts: pulumi.ResourceOptions | None = None,
) -> aws.secretsmanager.Secret:
    """KeyStore.secret's body, shared with a shard's CoreKeys (components/fleet.py): the
    secret and its version are children of ``owner``, named ``<prefix>-<name>``."""
    if not isinstance(name, str) or not _SECRET_NAME.fullmatch(name):
        raise KeyStoreError("name", name, "must be a slug of lowercase letters, digits and hyphens (1-64)")
    if name in secrets:
        raise KeyStoreError("name", name, "is already a secret of this KeyStore")
    if not isinstance(description, str) or not description or len(description) > 2048:
        raise KeyStoreError("description", description, "must be a non-empty text of at most 2048 characters")
    # Not protected: a deleted secret stays recoverable for the recovery window, and
    # retiring a DKIM selector must be able to delete its secret. Parent is always
    # this KeyStore; caller options (depends_on, ...) are merged in.
    base = pulumi.ResourceOptions(parent=owner)
    secret_opts = pulumi.ResourceOptions.merge(opts, base) if opts else base
    secret = aws.secretsmanager.Secret(
        f"{prefix}-{name}",
        description=description,
        kms_key_id=kms_key_arn,
        recovery_window_in_days=args.secret_recovery_window_days,
        tags=dict(args.tags),
        opts=secret_opts,
    )
    versions[name] = aws.secretsmanager.SecretVersion(
        f"{prefix}-{name}-version",
        secret_id=secret.id,
        secret_string=pulumi.Output.secret(value),
        opts=pulumi.ResourceOptions(parent=owner),  # pulumi-aws marks secretString secret itself
    )
    secrets[name] = secret
    return secret
