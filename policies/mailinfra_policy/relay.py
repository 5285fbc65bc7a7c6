"""Relay rules: SESv2 configuration sets and identities, least-privilege SES send access."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pulumi_policy import ResourceValidationArgs, Severity, StackValidationArgs

from .common import (
    PROD_ONLY,
    PROD_STAGING,
    allowed_statements,
    as_bool,
    as_list,
    condition_values,
    get,
    grants,
    is_unknown,
    on_property,
    StackView,
    resource_policy,
    resource_region,
    stack_policy,
    strings,
)
from .standards import aws

CONFIGURATION_SET = "aws:sesv2/configurationSet:ConfigurationSet"
EMAIL_IDENTITY = "aws:sesv2/emailIdentity:EmailIdentity"
ACCOUNT_SUPPRESSION = "aws:sesv2/accountSuppressionAttributes:AccountSuppressionAttributes"
IAM_POLICY_TYPES = (
    "aws:iam/policy:Policy",
    "aws:iam/userPolicy:UserPolicy",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/groupPolicy:GroupPolicy",
)
SEND_ACTIONS = aws.SES_SEND_ACTIONS  # the actions the SmtpAccess component grants
# Actions whose grant means "this statement gives SES access".
_SES_PROBES = (
    "ses:SendRawEmail",
    "ses:SendEmail",
    "ses:SendBulkEmail",
    "ses:SendTemplatedEmail",
    "ses:CreateEmailIdentity",
    "ses:DeleteEmailIdentity",
    "ses:PutAccountDetails",
)


@on_property("deliveryOptions", "tlsPolicy")
def _tls(policy: Any, cfg: dict[str, Any]) -> Iterator[str]:
    if policy != "REQUIRE":
        shown = "missing (OPTIONAL)" if policy is None else repr(policy)
        yield f"deliveryOptions.tlsPolicy must be REQUIRE, got {shown}"


@on_property("configurationSetName")
def _default_set(name: Any, cfg: dict[str, Any]) -> Iterator[str]:
    if name is None or name == "":
        yield "email identity names no default configuration set (configurationSetName)"


def _easy_dkim(type_: str, props: dict[str, Any], args: ResourceValidationArgs, cfg: dict[str, Any]) -> Iterator[str]:
    identity = get(props, "emailIdentity")
    if isinstance(identity, str) and "@" in identity:
        return  # an address identity signs with its domain's keys
    attributes = get(props, "dkimSigningAttributes")
    if is_unknown(attributes):
        return
    if get(attributes, "domainSigningPrivateKey") is not None:
        return  # BYODKIM: the published key is judged by dkim-key-strength
    length = get(attributes, "nextSigningKeyLength")
    if is_unknown(length):
        return
    if length != "RSA_2048_BIT":
        shown = "missing" if length is None else repr(length)
        yield f"Easy DKIM dkimSigningAttributes.nextSigningKeyLength must be RSA_2048_BIT, got {shown}"


def _suppression(type_: str, props: dict[str, Any], args: ResourceValidationArgs, cfg: dict[str, Any]) -> Iterator[str]:
    if type_ == ACCOUNT_SUPPRESSION:
        reasons = get(props, "suppressedReasons")
    else:
        reasons = get(props, "suppressionOptions", "suppressedReasons")
    if is_unknown(reasons):
        return
    have = set(strings(reasons))
    missing = [r for r in ("BOUNCE", "COMPLAINT") if r not in have]
    if missing:
        yield f"suppression must cover BOUNCE and COMPLAINT; missing {', '.join(missing)}"


@on_property("reputationOptions", "reputationMetricsEnabled")
def _reputation(enabled: Any, cfg: dict[str, Any]) -> Iterator[str]:
    if as_bool(enabled) is not True:
        yield f"reputationOptions.reputationMetricsEnabled must be true, got {enabled!r}"


def _is_identity_arn(resource: Any) -> bool:
    if is_unknown(resource):
        return True  # an identity's ARN, known after create
    return (
        isinstance(resource, str)
        and resource.startswith("arn:")
        and ":identity/" in resource
        and not resource.endswith(":identity/*")
    )


@on_property("policy")
def _iam_ses(document: Any, cfg: dict[str, Any]) -> Iterator[str]:
    for sid, statement in allowed_statements(document):
        if not any(grants(statement, probe) for probe in _SES_PROBES):
            continue
        if "NotAction" in statement:
            yield f"statement {sid!r} grants SES through NotAction; list ses:SendRawEmail/ses:SendEmail instead"
            continue
        extra = [
            a
            for a in strings(statement.get("Action"))
            if a.lower() not in {s.lower() for s in SEND_ACTIONS} and (a.lower().startswith("ses:") or a == "*")
        ]
        if extra:
            yield f"statement {sid!r} grants {', '.join(extra)}; only ses:SendRawEmail and ses:SendEmail are allowed"
        resources = as_list(statement.get("Resource"))
        if "NotResource" in statement or not resources or not all(_is_identity_arn(r) for r in resources):
            yield f"statement {sid!r} must name SES identity ARNs in Resource, not {statement.get('Resource', statement.get('NotResource'))!r}"
        if not any(True for _ in condition_values(statement, "ses:fromaddress")):
            yield f"statement {sid!r} has no ses:FromAddress condition"


def _identity_once(args: StackValidationArgs, cfg: dict[str, Any]) -> Iterator[tuple[str, str | None]]:
    """One SES identity per domain and region: the second is refused by SES (AlreadyExists), and
    in a sharded fleet it is a domain planned into two shards."""
    view = StackView.of(args)
    seen: dict[tuple[str, str], str] = {}
    for resource in view.of_type(EMAIL_IDENTITY):
        props = view.props[resource.urn]
        name, region = get(props, "emailIdentity"), resource_region(props, resource.provider)
        if not isinstance(name, str) or not isinstance(region, str):
            continue  # unknown: cannot tell
        key = (name.rstrip(".").lower(), region)
        if key in seen:
            yield (
                f"SES identity {key[0]} is declared twice in {region} (also {seen[key]}): a domain belongs to one stack "
                "(in a sharded fleet, one shard)",
                resource.urn,
            )
        else:
            seen[key] = resource.urn


POLICIES = [
    stack_policy(
        "ses-identity-once",
        "Each SES identity (domain) is declared once per region: in a sharded fleet, a domain is in one shard.",
        section="domains",
        check=_identity_once,
        severity=Severity.HIGH,
        remediation="Keep the domain in one stack: with mailinfra:fleet.select list, remove it from all but one "
        "shard's mailinfra:domains (README 'Moving a domain between shards').",
    ),
    resource_policy(
        "ses-configuration-set-tls-required",
        "Every SESv2 configuration set requires TLS to receiving servers (deliveryOptions.tlsPolicy REQUIRE; "
        "missing means OPTIONAL).",
        section="relay",
        types=[CONFIGURATION_SET],
        check=_tls,
        severity=Severity.HIGH,
        remediation="Set delivery_options={'tls_policy': 'REQUIRE'} on aws.sesv2.ConfigurationSet.",
    ),
    resource_policy(
        "ses-identity-default-configuration-set",
        "Every SESv2 email identity names a default configuration set, so its mail gets the set's TLS, suppression and metrics.",
        section="relay",
        types=[EMAIL_IDENTITY],
        check=_default_set,
        severity=Severity.HIGH,
        remediation="Set configuration_set_name on aws.sesv2.EmailIdentity.",
    ),
    resource_policy(
        "ses-easy-dkim-rsa-2048",
        "Easy DKIM domain identities sign with 2048-bit RSA keys (nextSigningKeyLength RSA_2048_BIT).",
        section="relay",
        types=[EMAIL_IDENTITY],
        check=_easy_dkim,
        severity=Severity.MEDIUM,
        remediation="Set dkim_signing_attributes={'next_signing_key_length': 'RSA_2048_BIT'}.",
        levels=PROD_STAGING,
    ),
    resource_policy(
        "ses-suppression-bounce-complaint",
        "Suppression lists cover both BOUNCE and COMPLAINT.",
        section="relay",
        types=[CONFIGURATION_SET, ACCOUNT_SUPPRESSION],
        check=_suppression,
        severity=Severity.MEDIUM,
        remediation="Set suppression_options={'suppressed_reasons': ['BOUNCE', 'COMPLAINT']}.",
        levels=PROD_STAGING,
    ),
    resource_policy(
        "ses-reputation-metrics",
        "Configuration sets publish reputation metrics (bounce and complaint rates).",
        section="relay",
        types=[CONFIGURATION_SET],
        check=_reputation,
        severity=Severity.LOW,
        remediation="Set reputation_options={'reputation_metrics_enabled': True}.",
        levels=PROD_ONLY,
    ),
    resource_policy(
        "iam-ses-send-least-privilege",
        "IAM policies that grant SES access grant only ses:SendRawEmail/ses:SendEmail, on identity ARNs "
        "(not '*'), under a ses:FromAddress condition; never ses:*.",
        section="relay",
        types=IAM_POLICY_TYPES,
        check=_iam_ses,
        severity=Severity.CRITICAL,
        remediation="Use one statement: Action [ses:SendRawEmail, ses:SendEmail], Resource the identity ARNs, "
        "Condition {'StringLike': {'ses:FromAddress': '*@<domain>'}}.",
    ),
]
