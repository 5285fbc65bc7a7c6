"""Key rules: KMS keys, key policies, the DNSSEC KSK, Secrets Manager."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pulumi_policy import ResourceValidationArgs, Severity

from .common import (
    PROD_ONLY,
    PROD_STAGING,
    allowed_statements,
    as_bool,
    as_int,
    as_list,
    condition_values,
    get,
    grants,
    is_unknown,
    on_property,
    principals,
    resource_policy,
    resource_region,
    statements,
)

KMS_KEY = "aws:kms/key:Key"
KMS_KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
SECRET = "aws:secretsmanager/secret:Secret"

DNSSEC_SPEC = "ECC_NIST_P256"
DNSSEC_USAGE = "SIGN_VERIFY"
DNSSEC_REGION = "us-east-1"
DNSSEC_SERVICE = "dnssec-route53.amazonaws.com"
DNSSEC_ACTIONS = ("kms:DescribeKey", "kms:GetPublicKey", "kms:Sign")
DESTRUCTIVE_ACTIONS = ("kms:DisableKey", "kms:ScheduleKeyDeletion", "kms:DisableKeyRotation")


def key_spec(props: dict[str, Any]) -> Any:
    spec = get(props, "keySpec")
    if spec is None:
        spec = get(props, "customerMasterKeySpec")
    return "SYMMETRIC_DEFAULT" if spec is None else spec


def is_symmetric(props: dict[str, Any]) -> bool | None:
    """True / False, or None when the spec is unknown."""
    spec = key_spec(props)
    if is_unknown(spec):
        return None
    return spec == "SYMMETRIC_DEFAULT"


def is_dnssec_ksk(props: dict[str, Any]) -> bool:
    return key_spec(props) == DNSSEC_SPEC and get(props, "keyUsage") == DNSSEC_USAGE


def has_mfa_condition(statement: dict[str, Any], expect: bool = True) -> bool:
    return any(
        str(expect).lower() in {str(v).lower() for v in as_list(value)}
        for value in condition_values(statement, "aws:multifactorauthpresent", "Bool")
    )


# ---------------------------------------------------------------------- rules


def _rotation(type_: str, props: dict[str, Any], args: ResourceValidationArgs, cfg: dict[str, Any]) -> Iterator[str]:
    if is_symmetric(props) is not True or get(props, "keyUsage") not in (None, "ENCRYPT_DECRYPT"):
        return  # asymmetric (DNSSEC KSK, signing) and HMAC keys are exempt: AWS cannot rotate them
    enabled = get(props, "enableKeyRotation")
    if is_unknown(enabled):
        return
    if as_bool(enabled) is not True:
        yield f"symmetric KMS key must set enableKeyRotation: true (got {enabled!r})"
        return
    days = as_int(get(props, "rotationPeriodInDays"))
    limit = int(cfg["maxRotationDays"])
    if days is not None and days > limit:
        yield f"rotationPeriodInDays is {days}, over the {limit}-day maximum"


def _dnssec(type_: str, props: dict[str, Any], args: ResourceValidationArgs, cfg: dict[str, Any]) -> Iterator[str]:
    if is_symmetric(props) is not False:
        return
    spec, usage = key_spec(props), get(props, "keyUsage")
    if is_unknown(spec) or is_unknown(usage):
        return
    if spec != DNSSEC_SPEC or usage != DNSSEC_USAGE:
        if spec == DNSSEC_SPEC or usage == DNSSEC_USAGE:
            yield (
                f"a DNSSEC KSK key must be {DNSSEC_SPEC} with keyUsage {DNSSEC_USAGE} (got keySpec {spec!r}, keyUsage {usage!r})"
            )
        return
    region = resource_region(props, args.provider)
    if region is not None and not is_unknown(region) and region != DNSSEC_REGION:
        yield f"a Route53 DNSSEC KSK key must live in {DNSSEC_REGION} (got {region!r})"
    document = get(props, "policy")
    if is_unknown(document):
        return
    allowed = {
        a
        for _, statement in allowed_statements(document)
        if DNSSEC_SERVICE in principals(statement)
        for a in DNSSEC_ACTIONS
        if grants(statement, a)
    }
    missing = [a for a in DNSSEC_ACTIONS if a not in allowed]
    if missing:
        yield f"key policy must allow {DNSSEC_SERVICE} {', '.join(missing)}"


@on_property("deletionWindowInDays")
def _deletion_window(value: Any, cfg: dict[str, Any]) -> Iterator[str]:
    days = as_int(value)
    minimum = int(cfg["minDays"])
    if days is not None and days < minimum:  # missing: AWS default 30
        yield f"deletionWindowInDays is {days}, below {minimum}"


def _protected(type_: str, props: dict[str, Any], args: ResourceValidationArgs, cfg: dict[str, Any]) -> Iterator[str]:
    if not getattr(args.opts, "protect", False):
        yield "KMS key is not protected: set ResourceOptions(protect=True)"


@on_property("policy")
def _wildcard_principal(document: Any, cfg: dict[str, Any]) -> Iterator[str]:
    for sid, statement in allowed_statements(document):
        if "*" in principals(statement):
            yield f"key policy statement {sid!r} allows the wildcard principal '*'"


@on_property("policy")
def _mfa(document: Any, cfg: dict[str, Any]) -> Iterator[str]:
    # A Deny of the destructive actions when MFA is absent covers every Allow.
    denied = {
        action
        for s in statements(document)
        if s.get("Effect") == "Deny" and has_mfa_condition(s, expect=False)
        for action in DESTRUCTIVE_ACTIONS
        if grants(s, action)
    }
    for sid, statement in allowed_statements(document):
        if has_mfa_condition(statement):
            continue
        bad = [a for a in DESTRUCTIVE_ACTIONS if grants(statement, a) and a not in denied]
        if bad:
            yield (f"key policy statement {sid!r} allows {', '.join(bad)} without an aws:MultiFactorAuthPresent condition")


@on_property("bypassPolicyLockoutSafetyCheck")
def _lockout(value: Any, cfg: dict[str, Any]) -> Iterator[str]:
    if as_bool(value) is True:
        yield "bypassPolicyLockoutSafetyCheck is true"


@on_property("kmsKeyId")  # unknown: the CMK's ARN, known after create
def _secret_cmk(key: Any, cfg: dict[str, Any]) -> Iterator[str]:
    if not key:
        yield "secret has no kmsKeyId: it would be encrypted with the AWS-managed key aws/secretsmanager"
    elif isinstance(key, str) and key.endswith("alias/aws/secretsmanager"):
        yield "secret uses the AWS-managed key aws/secretsmanager, not a customer-managed key"


POLICIES = [
    resource_policy(
        "kms-symmetric-key-rotation",
        "Symmetric KMS keys rotate automatically, at most every maxRotationDays (365) days.",
        section="keys",
        types=[KMS_KEY],
        check=_rotation,
        severity=Severity.HIGH,
        remediation="Set enableKeyRotation=True and rotationPeriodInDays <= 365 on aws.kms.Key.",
        levels=PROD_STAGING,
        config={"maxRotationDays": {"type": "integer", "default": 365, "minimum": 90, "maximum": 2560}},
    ),
    resource_policy(
        "kms-dnssec-ksk",
        "Asymmetric KMS keys used as Route53 DNSSEC KSKs are ECC_NIST_P256 SIGN_VERIFY, live in "
        "us-east-1 and let dnssec-route53.amazonaws.com DescribeKey, GetPublicKey and Sign. They are "
        "exempt from rotation rules.",
        section="keys",
        types=[KMS_KEY],
        check=_dnssec,
        severity=Severity.HIGH,
        remediation="Create the KSK key with key_spec='ECC_NIST_P256', key_usage='SIGN_VERIFY', through a "
        "us-east-1 provider, and a key policy statement for the dnssec-route53.amazonaws.com service.",
    ),
    resource_policy(
        "kms-deletion-window",
        "KMS keys keep a deletion window of at least minDays (30) days.",
        section="keys",
        types=[KMS_KEY],
        check=_deletion_window,
        severity=Severity.MEDIUM,
        remediation="Set deletionWindowInDays=30 on aws.kms.Key (or leave it unset: AWS defaults to 30).",
        levels=PROD_ONLY,
        config={"minDays": {"type": "integer", "default": 30, "minimum": 7, "maximum": 30}},
    ),
    resource_policy(
        "kms-key-protected",
        "KMS keys are protected against deletion by Pulumi (resource option protect).",
        section="keys",
        types=[KMS_KEY],
        check=_protected,
        severity=Severity.HIGH,
        remediation="Pass opts=ResourceOptions(protect=True) to aws.kms.Key.",
        levels=PROD_ONLY,
    ),
    resource_policy(
        "kms-no-wildcard-principal",
        "KMS key policies never allow the wildcard principal '*'.",
        section="keys",
        types=[KMS_KEY, KMS_KEY_POLICY],
        check=_wildcard_principal,
        severity=Severity.CRITICAL,
        remediation="Name the account root, roles or services in Principal instead of '*'.",
    ),
    resource_policy(
        "kms-destructive-actions-require-mfa",
        "Key policies allow kms:Disable* and kms:ScheduleKeyDeletion only under an "
        "aws:MultiFactorAuthPresent condition (or deny them without MFA).",
        section="keys",
        types=[KMS_KEY, KMS_KEY_POLICY],
        check=_mfa,
        severity=Severity.HIGH,
        remediation="Add Condition {'Bool': {'aws:MultiFactorAuthPresent': 'true'}} to statements that allow "
        "the destructive actions, or a Deny statement for them with BoolIfExists ... 'false'.",
        levels=PROD_STAGING,
    ),
    resource_policy(
        "kms-no-lockout-bypass",
        "KMS keys never set bypassPolicyLockoutSafetyCheck.",
        section="keys",
        types=[KMS_KEY, KMS_KEY_POLICY],
        check=_lockout,
        severity=Severity.HIGH,
        remediation="Remove bypass_policy_lockout_safety_check (default false).",
    ),
    resource_policy(
        "secrets-customer-managed-key",
        "Secrets Manager secrets are encrypted under a customer-managed KMS key.",
        section="keys",
        types=[SECRET],
        check=_secret_cmk,
        severity=Severity.HIGH,
        remediation="Set kms_key_id to the stack's customer-managed KMS key ARN.",
    ),
]
