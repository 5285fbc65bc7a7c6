"""Route53 DNSSEC signing for one hosted zone (optional per domain).

Route53 signs with a key-signing key (KSK) backed by an asymmetric KMS key that must be
ECC_NIST_P256 / SIGN_VERIFY and live in us-east-1, whatever the stack's region: the
component creates its own ``aws.Provider`` for us-east-1 (name derived from the
component's). KMS cannot rotate asymmetric keys automatically, so the key has no
rotation; a KSK is rotated by hand (a second KSK, a new DS record at the parent, then the
old KSK deactivated), see README.md, "DNSSEC (Route53)".

Declares: the us-east-1 provider, the KMS key (protected in prod, 30-day deletion
window in prod) with :func:`dnssec_key_policy`, an alias, ``aws.route53.KeySigningKey``
and ``aws.route53.HostedZoneDnsSec`` (after the KSK). Exports ``ds_record``: the DS
record the parent zone (the registrar) must publish.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from .keystore import (
    KeyStoreError,
    admin_statements,
    validate_environment,
    validate_int,
    validate_principals,
    validate_tags,
)
from .relay import check_domain
from mailinfra.policies.mailinfra_policy.standards import aws as aws_std

__all__ = ["DNSSEC_REGION", "Dnssec", "DnssecArgs", "dnssec_key_policy"]

DNSSEC_REGION = "us-east-1"
DNSSEC_SERVICE = "dnssec-route53.amazonaws.com"
_KSK_NAME = re.compile(r"[A-Za-z0-9_]{3,128}")


@dataclass(frozen=True)
class DnssecArgs:
    """One Route53 hosted zone to sign.

    The us-east-1 provider is explicit, so it does not read the ``aws:`` stack config:
    give ``profile`` / ``assume_role_arn`` when the stack's default provider uses them.
    """

    environment: str
    zone_id: str
    zone_name: str
    account_id: str
    admin_principals: tuple[str, ...]
    deletion_window_days: int = 30
    ksk_name: str | None = None  # default: the zone name with "_" for "." plus "_ksk"
    profile: str | None = None
    assume_role_arn: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate_environment("environment", self.environment)
        if not aws_std.is_route53_zone_id(self.zone_id):
            raise KeyStoreError("zone_id", self.zone_id, "must be a Route53 hosted zone id (Z...)")
        check_domain("zone_name", self.zone_name, KeyStoreError)
        if not aws_std.is_account_id(self.account_id):
            raise KeyStoreError("account_id", self.account_id, "must be a 12-digit AWS account id")
        object.__setattr__(
            self, "admin_principals", validate_principals("admin_principals", self.admin_principals, required=True)
        )
        validate_int("deletion_window_days", self.deletion_window_days, 7, 30)
        if self.environment == "prod" and self.deletion_window_days < 30:
            raise KeyStoreError(
                "deletion_window_days",
                self.deletion_window_days,
                "must be 30 in prod (deleting a signing key breaks resolution of the zone)",
            )
        if self.ksk_name is None:
            object.__setattr__(self, "ksk_name", self.zone_name.replace(".", "_").replace("-", "_") + "_ksk")
        if not isinstance(self.ksk_name, str) or not _KSK_NAME.fullmatch(self.ksk_name):
            raise KeyStoreError("ksk_name", self.ksk_name, "must be 3-128 letters, digits or underscores")
        if self.assume_role_arn is not None and (not aws_std.is_iam_principal_arn(self.assume_role_arn, ("role",))):
            raise KeyStoreError("assume_role_arn", self.assume_role_arn, "must be an IAM role ARN")
        if self.profile is not None and (not isinstance(self.profile, str) or not self.profile):
            raise KeyStoreError("profile", self.profile, "must be a non-empty profile name")
        tags = validate_tags("tags", self.tags)
        tags.setdefault("environment", self.environment)
        object.__setattr__(self, "tags", tags)

    @property
    def protect(self) -> bool:
        return self.environment == "prod"


def dnssec_key_policy(args: DnssecArgs) -> dict[str, Any]:
    """Key policy of the KSK's KMS key: admins (destructive actions with MFA) and Route53 DNSSEC."""
    statements = admin_statements(args.admin_principals)
    statements += [
        {
            "Sid": "Route53DnssecUsesKey",
            "Effect": "Allow",
            "Principal": {"Service": DNSSEC_SERVICE},
            "Action": ["kms:DescribeKey", "kms:GetPublicKey", "kms:Sign"],
            "Resource": "*",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": args.account_id},
                "ArnLike": {"aws:SourceArn": f"arn:aws:route53:::hostedzone/{args.zone_id}"},
            },
        },
        {
            "Sid": "Route53DnssecCreatesGrantForAwsResource",
            "Effect": "Allow",
            "Principal": {"Service": DNSSEC_SERVICE},
            "Action": "kms:CreateGrant",
            "Resource": "*",
            "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
        },
    ]
    return {"Version": "2012-10-17", "Id": f"mailinfra-dnssec-{args.ksk_name}", "Statement": statements}


class Dnssec(pulumi.ComponentResource):
    """DNSSEC signing of one Route53 zone; ``ds_record`` goes to the parent zone."""

    ds_record: pulumi.Output[str]
    dnskey_record: pulumi.Output[str]
    key_arn: pulumi.Output[str]

    def __init__(self, name: str, args: DnssecArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        if not isinstance(args, DnssecArgs):
            raise KeyStoreError("args", type(args).__name__, "must be a DnssecArgs")
        policy = json.dumps(dnssec_key_policy(args), sort_keys=True)
        super().__init__("mailinfra:dnssec:Dnssec", name, None, opts)
        tags = dict(args.tags)
        self.provider = aws.Provider(
            f"{name}-{DNSSEC_REGION}",
            region=DNSSEC_REGION,
            allowed_account_ids=[args.account_id],
            profile=args.profile,
            assume_roles=[aws.ProviderAssumeRoleArgs(role_arn=args.assume_role_arn)] if args.assume_role_arn else None,
            default_tags=aws.ProviderDefaultTagsArgs(tags=tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        child = pulumi.ResourceOptions(parent=self, provider=self.provider)
        keep = pulumi.ResourceOptions(parent=self, provider=self.provider, protect=True) if args.protect else child
        self.key = aws.kms.Key(
            f"{name}-ksk-key",
            description=f"mailinfra: DNSSEC key-signing key of {args.zone_name}",
            customer_master_key_spec="ECC_NIST_P256",
            key_usage="SIGN_VERIFY",
            # Asymmetric keys cannot rotate in KMS; KSK rotation is a manual procedure.
            enable_key_rotation=False,
            deletion_window_in_days=args.deletion_window_days,
            bypass_policy_lockout_safety_check=False,
            multi_region=False,
            policy=policy,
            tags=tags,
            opts=keep,
        )
        ksk_name = str(args.ksk_name)  # set by DnssecArgs.__post_init__
        self.alias = aws.kms.Alias(
            f"{name}-ksk-alias",
            name=f"alias/mailinfra-dnssec-{ksk_name.lower().replace('_', '-')}",
            target_key_id=self.key.arn,
            opts=child,
        )
        self.ksk = aws.route53.KeySigningKey(
            f"{name}-ksk",
            hosted_zone_id=args.zone_id,
            key_management_service_arn=self.key.arn,
            name=ksk_name,
            status="ACTIVE",
            opts=keep,
        )
        self.signing = aws.route53.HostedZoneDnsSec(
            f"{name}-signing",
            hosted_zone_id=args.zone_id,
            signing_status="SIGNING",
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider, depends_on=[self.ksk]),
        )
        self.ds_record = self.ksk.ds_record
        self.dnskey_record = self.ksk.dnskey_record
        self.key_arn = self.key.arn
        self.register_outputs({"ds_record": self.ds_record, "dnskey_record": self.dnskey_record, "key_arn": self.key_arn})
