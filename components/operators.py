"""Operators: MFA for people, and remote access without open ports.

- an IAM group ``mailinfra-<stack>-operators`` whose policy (:func:`mfa_policy`, the
  IAM User Guide's "Allows MFA-authenticated IAM users to manage their own MFA device")
  denies every action except managing one's own MFA device and password unless the
  request carries ``aws:MultiFactorAuthPresent``, and lets members assume the key
  administrator roles (``keys.admins``) only with MFA: key administrators are roles,
  reached from an MFA session, never long-lived user keys;
- the account password policy (:data:`standards.aws.PASSWORD_MIN_LENGTH` and friends);
- remote access: AWS Systems Manager Session Manager. The stack's security groups open
  no 22 or 3389 (the pack's ``network-no-world-admin-ports``); the Session Manager
  preferences document (``SSM-SessionManagerRunShell``, the name Session Manager reads
  its defaults from) encrypts sessions under the CMK and logs every session to a
  CloudWatch Logs group with bounded retention.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
from pulumi import Input, ResourceOptions

from mailinfra.policies.mailinfra_policy.standards import aws as aws_std

from .errors import ArgsError

__all__ = ["Operators", "OperatorsArgs", "OperatorsArgsError", "mfa_policy", "session_preferences"]

SESSION_DOCUMENT = "SSM-SessionManagerRunShell"


class OperatorsArgsError(ArgsError):
    """An invalid Operators argument."""


def mfa_policy(admin_roles: Sequence[str]) -> dict[str, Any]:
    """The operators' policy: MFA self-service, and nothing else (not even assuming a
    role) without MFA; with MFA, assuming the key administrator roles."""
    mfa = aws_std.MFA_CONDITION_KEY
    user = "arn:aws:iam::*:user/${aws:username}"
    statements: list[dict[str, Any]] = [
        {
            "Sid": "AllowViewAccountInfo",
            "Effect": "Allow",
            "Action": ["iam:GetAccountPasswordPolicy", "iam:ListVirtualMFADevices"],
            "Resource": "*",
        },
        {
            "Sid": "AllowManageOwnPasswordsAndMfa",
            "Effect": "Allow",
            "Action": [
                "iam:ChangePassword",
                "iam:GetUser",
                "iam:CreateVirtualMFADevice",
                "iam:EnableMFADevice",
                "iam:ListMFADevices",
                "iam:ResyncMFADevice",
            ],
            "Resource": [user, "arn:aws:iam::*:mfa/*"],
        },
        {
            "Sid": "DenyAllExceptListedIfNoMFA",
            "Effect": "Deny",
            "NotAction": list(aws_std.MFA_SELF_SERVICE_ACTIONS),
            "Resource": "*",
            "Condition": {"BoolIfExists": {mfa: "false"}},
        },
    ]
    if admin_roles:
        statements.append(
            {
                "Sid": "AssumeKeyAdministratorRolesWithMfa",
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Resource": sorted(admin_roles),
                "Condition": {"Bool": {mfa: "true"}},
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def session_preferences(log_group_name: str, kms_key_id: str) -> dict[str, Any]:
    """Session Manager preferences: KMS-encrypted sessions, every session logged."""
    return {
        "schemaVersion": "1.0",
        "description": "mailinfra: Session Manager preferences (encrypted, logged sessions)",
        "sessionType": "Standard_Stream",
        "inputs": {
            "kmsKeyId": kms_key_id,
            "cloudWatchLogGroupName": log_group_name,
            "cloudWatchEncryptionEnabled": True,
            "cloudWatchStreamingEnabled": True,
            "s3BucketName": "",
            "runAsEnabled": False,
            "idleSessionTimeout": "20",
            "maxSessionDuration": "60",
        },
    }


@dataclass(frozen=True)
class OperatorsArgs:
    stack: str
    region: str
    kms_key_arn: Input[str]
    retention_days: int
    admin_roles: Sequence[str] = ()
    tags: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not aws_std.is_aws_region(self.region):
            raise OperatorsArgsError("region", self.region, "must be an AWS region such as eu-west-1")
        if self.retention_days not in aws_std.LOG_RETENTION_DAYS:
            raise OperatorsArgsError("retention_days", self.retention_days, "must be a retention CloudWatch Logs accepts")
        roles = tuple(self.admin_roles)
        for i, role in enumerate(roles):
            if not aws_std.is_iam_principal_arn(role, kinds=("role",)):
                raise OperatorsArgsError(
                    f"admin_principals[{i}]", role, "key administrators must be IAM roles (assumed with MFA), not users"
                )
        object.__setattr__(self, "admin_roles", roles)


class Operators(pulumi.ComponentResource):
    """See the module docstring."""

    def __init__(self, name: str, args: OperatorsArgs, opts: ResourceOptions | None = None) -> None:
        if not isinstance(args, OperatorsArgs):
            raise OperatorsArgsError("args", type(args).__name__, "must be OperatorsArgs")
        super().__init__("mailinfra:operators:Operators", name, None, opts)
        child = ResourceOptions(parent=self)
        group = aws.iam.Group(f"{name}-group", name=f"mailinfra-{args.stack}-operators", path="/mailinfra/", opts=child)
        aws.iam.GroupPolicy(
            f"{name}-mfa",
            group=group.name,
            policy=json.dumps(mfa_policy(args.admin_roles), sort_keys=True),
            opts=child,
        )
        aws.iam.AccountPasswordPolicy(
            f"{name}-password-policy",
            minimum_password_length=aws_std.PASSWORD_MIN_LENGTH,
            require_lowercase_characters=True,
            require_uppercase_characters=True,
            require_numbers=True,
            require_symbols=True,
            allow_users_to_change_password=True,
            max_password_age=aws_std.PASSWORD_MAX_AGE_DAYS,
            password_reuse_prevention=aws_std.PASSWORD_REUSE_PREVENTION,
            opts=child,
        )
        sessions = aws.cloudwatch.LogGroup(
            f"{name}-sessions",
            name=f"/mailinfra/{args.stack}/ssm-sessions",
            retention_in_days=args.retention_days,
            kms_key_id=args.kms_key_arn,
            region=args.region,
            tags=dict(args.tags),
            opts=child,
        )
        aws.ssm.Document(
            f"{name}-session-preferences",
            name=SESSION_DOCUMENT,
            document_type="Session",
            document_format="JSON",
            content=pulumi.Output.all(sessions.name, args.kms_key_arn).apply(
                lambda a: json.dumps(session_preferences(a[0], a[1]), sort_keys=True)
            ),
            region=args.region,
            tags=dict(args.tags),
            opts=child,
        )
        self.group_name = group.name
        self.register_outputs({"group": self.group_name})
