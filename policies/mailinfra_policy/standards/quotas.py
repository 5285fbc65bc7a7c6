"""The default AWS quotas a sending fleet can hit: each with its value, where it applies
and the AWS documentation it comes from.

A quota is counted over what a stack declares: resources of ``types``, grouped by
``scope`` (the whole account, a region, one Route53 hosted zone, one IAM user). The
policy ``aws-quota-budget`` (policies/mailinfra_policy/compliance.py) fails the plan
when a count exceeds the quota, or the value ``mailinfra:quotas.<key>`` states for an
account whose quota AWS has raised; ``components/config.py`` validates those values
with :func:`check_value`. Adjustable quotas can be raised as code with
``aws.servicequotas.ServiceQuota(service_code=..., quota_code=..., value=...)`` (the
README's "AWS quotas" section); the codes below are the Service Quotas codes.

Sources (the pages named in ``url``; keep the values in step with them). Read for this
table in December 2026; CloudFront's page lists 500 distributions per account (the
older default, still quoted in many places, was 200).

API:
    Quota                                   # key, name, default, scope, types, url, adjustable, codes
    QUOTAS: tuple[Quota, ...]
    BY_KEY: Mapping[str, Quota]             # config key (mailinfra:quotas.<key>) -> Quota
    KEYS: tuple[str, ...]                   # the config keys, in table order
    check_value(key, value) -> int          # QuotaError for an unknown key, a non-adjustable quota or a bad value
    limit(quota, stated) -> int             # the stated (raised) value, else the default
    over(counts, limit) -> list[(scope, count)]
    count_by(scopes) -> dict[scope, count]      # None scopes (unknown to the plan) are not counted
    ROUTE53_ZONE_RECORDS_OVERHEAD = 2       # the SOA and NS records every hosted zone has
    IAM_USER_INLINE_POLICY_CHARS = 2048     # a user's inline policies, whitespace not counted
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from . import aws
from .errors import InputError

__all__ = [
    "ACCOUNT",
    "BY_KEY",
    "HOSTED_ZONE",
    "IAM_USER_INLINE_POLICY_CHARS",
    "IAM_USER",
    "KEYS",
    "MAX_STATED",
    "QUOTAS",
    "REGION",
    "ROUTE53_ZONE_RECORDS_OVERHEAD",
    "Quota",
    "QuotaError",
    "check_value",
    "count_by",
    "limit",
    "over",
]

# Where a quota applies; the policy groups the declared resources by it.
ACCOUNT = "account"
REGION = "region"
HOSTED_ZONE = "hosted zone"
IAM_USER = "IAM user"
SCOPES = (ACCOUNT, REGION, HOSTED_ZONE, IAM_USER)

MAX_STATED = 10**9  # a sanity bound on a stated quota, far above anything AWS grants
ROUTE53_ZONE_RECORDS_OVERHEAD = 2  # every hosted zone holds its SOA and NS record sets, which count
# IAM: the inline policies of one user, together, at most 2,048 characters (whitespace not
# counted; the IAM quotas page, "IAM and AWS STS quotas"): bounds how many domains one
# sending system's SMTP user can send for.
IAM_USER_INLINE_POLICY_CHARS = 2_048

_CLOUDFRONT = "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html"
_ROUTE53 = "https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DNSLimitations.html"
_IAM = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html"
_ACM = "https://docs.aws.amazon.com/acm/latest/userguide/acm-limits.html"
_SES = "https://docs.aws.amazon.com/ses/latest/dg/quotas.html"
_SNS = "https://docs.aws.amazon.com/general/latest/gr/sns.html"
_S3 = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/BucketRestrictions.html"


class QuotaError(InputError):
    """A stated quota value is invalid: names the key and the value."""


@dataclass(frozen=True)
class Quota:
    """One AWS quota. ``types``: the resource type tokens that count against it."""

    key: str  # mailinfra:quotas.<key>
    name: str  # as AWS names it
    default: int
    scope: str  # one of SCOPES
    types: tuple[str, ...]
    url: str
    adjustable: bool = True
    service_code: str | None = None  # Service Quotas service and quota code (aws.servicequotas.ServiceQuota)
    quota_code: str | None = None
    global_quota: bool = False  # Service Quotas manages it in us-east-1 only

    def __post_init__(self) -> None:
        if self.scope not in SCOPES:
            raise ValueError(f"{self.key}: unknown scope {self.scope!r}")


QUOTAS: tuple[Quota, ...] = (
    Quota(
        "cloudfrontDistributions",
        "CloudFront distributions per AWS account",
        500,
        ACCOUNT,
        aws.CLOUDFRONT_SERVING_TYPES,
        _CLOUDFRONT,
        service_code="cloudfront",
        quota_code="L-24B04930",
        global_quota=True,
    ),
    Quota(
        "cloudfrontDistributionTenants",
        "CloudFront distribution tenants per AWS account",
        10_000,
        ACCOUNT,
        (aws.CLOUDFRONT_DISTRIBUTION_TENANT,),
        _CLOUDFRONT,
        service_code="cloudfront",
        global_quota=True,
    ),
    Quota(
        "cloudfrontOriginAccessControls",
        "CloudFront origin access controls per AWS account",
        100,
        ACCOUNT,
        ("aws:cloudfront/originAccessControl:OriginAccessControl",),
        _CLOUDFRONT,
        service_code="cloudfront",
        global_quota=True,
    ),
    Quota(
        "route53RecordsPerHostedZone",
        "Route 53 records per hosted zone",
        10_000,
        HOSTED_ZONE,
        ("aws:route53/record:Record",),
        _ROUTE53,
        service_code="route53",
        quota_code="L-E209CC9F",
        global_quota=True,
    ),
    Quota(
        "route53HostedZones",
        "Route 53 hosted zones per AWS account",
        500,
        ACCOUNT,
        ("aws:route53/zone:Zone",),  # and every zone id the stack's records are written to
        _ROUTE53,
        service_code="route53",
        quota_code="L-4EA4796A",
        global_quota=True,
    ),
    Quota(
        "iamUsers",
        "IAM users per AWS account",
        5_000,
        ACCOUNT,
        ("aws:iam/user:User",),
        _IAM,
        service_code="iam",
        quota_code="L-F55AF5E4",
        global_quota=True,
    ),
    Quota(
        "iamAccessKeysPerUser",
        "IAM access keys per user",
        2,
        IAM_USER,
        ("aws:iam/accessKey:AccessKey",),
        _IAM,
        adjustable=False,
    ),
    Quota(
        "acmCertificates",
        "ACM certificates per AWS Region",
        2_500,
        REGION,
        ("aws:acm/certificate:Certificate",),
        _ACM,
        service_code="acm",
        quota_code="L-F141DD1D",
    ),
    Quota(
        "sesIdentities",
        "SES identities per AWS Region",
        10_000,
        REGION,
        ("aws:sesv2/emailIdentity:EmailIdentity", "aws:ses/domainIdentity:DomainIdentity", "aws:ses/emailIdentity:EmailIdentity"),
        _SES,
    ),
    Quota(
        "sesConfigurationSets",
        "SES configuration sets per AWS Region",
        10_000,
        REGION,
        ("aws:sesv2/configurationSet:ConfigurationSet", "aws:ses/configurationSet:ConfigurationSet"),
        _SES,
    ),
    Quota(
        "snsTopics",
        "SNS standard topics per AWS Region",
        100_000,
        REGION,
        ("aws:sns/topic:Topic",),
        _SNS,
    ),
    Quota(
        "s3Buckets",
        "S3 general purpose buckets per AWS account",
        10_000,
        ACCOUNT,
        ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"),
        _S3,
        service_code="s3",
        quota_code="L-DC2B2D3D",
        global_quota=True,
    ),
)

BY_KEY: Mapping[str, Quota] = MappingProxyType({q.key: q for q in QUOTAS})
KEYS: tuple[str, ...] = tuple(BY_KEY)


def check_value(key: str, value: object) -> int:
    """A quota value stated for ``key`` (what AWS granted the account), as an int."""
    quota = BY_KEY.get(key)
    if quota is None:
        raise QuotaError(f"unknown quota {key!r}; known: {', '.join(KEYS)}")
    if not quota.adjustable:
        raise QuotaError(f"{quota.name} is fixed at {quota.default} and cannot be raised ({quota.url}) (got {value!r})")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_STATED:
        raise QuotaError(f"{quota.name} must be a whole number from 1 to {MAX_STATED} (got {value!r})")
    return value


def limit(quota: Quota, stated: Mapping[str, Any] | None) -> int:
    """The value a stack states for ``quota`` (``mailinfra:quotas``), else AWS's default.

    The pack reads what the program validated; a value that is not a valid statement
    (or one for a fixed quota) falls back to the default rather than lifting the budget.
    """
    value = (stated or {}).get(quota.key)
    try:
        return check_value(quota.key, value) if value is not None else quota.default
    except QuotaError:
        return quota.default


def over(counts: Mapping[str, int], quota_limit: int) -> list[tuple[str, int]]:
    """(scope, count) of every scope whose count exceeds ``quota_limit``, sorted by scope."""
    return sorted((scope, n) for scope, n in counts.items() if n > quota_limit)


def count_by(items: Iterable[str | None]) -> dict[str, int]:
    """How many of ``items`` fall in each scope (None: a scope the plan cannot tell; not counted)."""
    out: dict[str, int] = {}
    for scope in items:
        if scope is not None:
            out[scope] = out.get(scope, 0) + 1
    return out
