"""AWS facts the records depend on: region names and the SES endpoints of a region.

Sources (keep the tables in step with them):
- Region syntax: the partitions' ``regionRegex`` of the AWS SDKs' endpoint data
  (botocore ``data/partitions.json``): aws, aws-cn, aws-us-gov, aws-iso(-b/-e/-f), aws-eusc.
- SES: AWS General Reference, "Amazon Simple Email Service endpoints and quotas"
  (https://docs.aws.amazon.com/general/latest/gr/ses.html): the "Easy DKIM domains"
  table (#ses_dkim_domains) lists, per SES region, the domain that Easy DKIM CNAMEs
  point at: ``dkim.amazonses.com``, or ``dkim.<region>.amazonses.com`` in the regions
  below. The commercial SES regions are also the SES API's DEED origins
  (``DkimSigningAttributes.DomainSigningAttributesOrigin``, ``AWS_SES_<REGION>``).
- SES custom MAIL FROM: the MX ``feedback-smtp.<region>.amazonses.com`` (SES Developer
  Guide, "Setting up a custom MAIL FROM domain"); the SMTP interface
  ``email-smtp.<region>.amazonaws.com``; email receiving ``inbound-smtp.<region>.amazonaws.com``.

API:
    is_aws_region(region: object) -> bool
    SES_REGIONS: tuple[str, ...]                   # regions where SES sends (Easy DKIM)
    SES_EASY_DKIM_DOMAINS: Mapping[str, str]       # region -> Easy DKIM domain
    DEFAULT_EASY_DKIM_DOMAIN = "dkim.amazonses.com"
    is_ses_region(region: object) -> bool
    easy_dkim_domain(region: str | None) -> str    # AwsError for a bad or non-SES region
    ses_feedback_host(region: str) -> str          # "feedback-smtp.<region>.amazonses.com"
    ses_smtp_endpoint(region: str) -> str          # "email-smtp.<region>.amazonaws.com"
    ses_inbound_smtp_host(region: str) -> str      # "inbound-smtp.<region>.amazonaws.com" (receiving regions only)
    SES_RECEIVING_REGIONS: tuple[str, ...]         # regions where SES receives mail (receipt rules)
    is_ses_receiving_region(region) -> bool
    SES_EVENT_TYPES / SES_TRACKING_EVENT_TYPES     # SESv2 event types (OPEN/CLICK: personal data)
    SES_REVIEW_THRESHOLDS / SES_PAUSE_THRESHOLDS   # bounce / complaint rates (percent) of SES's review and pause
    ses_event_bus_arn(region, account) -> str      # the default bus, the only one SES publishes to
    LOG_RETENTION_DAYS: tuple[int, ...]            # the retentionInDays CloudWatch Logs accepts
    is_account_id(value) -> bool                   # 12 digits
    is_iam_principal_arn(value, kinds=("root", "user", "role")) -> bool   # arn:<partition>:iam::<account>:...
    is_route53_zone_id(value) -> bool              # Z...
    is_ses_name(value) -> bool                     # SES configuration set / contact list / topic names
    is_kms_alias_name(value) -> bool               # a KMS alias without its alias/ prefix
    SES_SEND_ACTIONS = ("ses:SendEmail", "ses:SendRawEmail")   # what SMTP sending needs, nothing more
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from .errors import InputError

__all__ = [
    "DEFAULT_EASY_DKIM_DOMAIN",
    "LOG_RETENTION_DAYS",
    "SES_EASY_DKIM_DOMAINS",
    "SES_CONFIGURATION_SET_DIMENSION",
    "SES_EVENT_TYPES",
    "SES_METRICS_NAMESPACE",
    "SES_PAUSE_THRESHOLDS",
    "SES_RECEIVING_REGIONS",
    "SES_REGIONS",
    "SES_REPUTATION_METRICS",
    "SES_REVIEW_THRESHOLDS",
    "SES_SEND_ACTIONS",
    "SES_TRACKING_EVENT_TYPES",
    "AwsError",
    "easy_dkim_domain",
    "is_account_id",
    "is_aws_region",
    "is_iam_principal_arn",
    "is_kms_alias_name",
    "is_route53_zone_id",
    "is_ses_name",
    "is_ses_receiving_region",
    "is_ses_region",
    "ses_event_bus_arn",
    "ses_feedback_host",
    "ses_inbound_smtp_host",
    "ses_smtp_endpoint",
]


class AwsError(InputError):
    """A value is not a valid AWS region, or SES is not offered there."""


# One alternative per partition (the SDKs' regionRegex, with \w narrowed to letters).
_REGION = re.compile(
    r"(?:(?:us|eu|ap|sa|ca|me|af|il|mx|cn)-[a-z]+"  # aws, aws-cn
    r"|us-gov-[a-z]+"  # aws-us-gov
    r"|us-iso[bf]?-[a-z]+|eu-isoe-[a-z]+"  # aws-iso, -iso-b, -iso-f, -iso-e
    r"|eusc-de-[a-z]+"  # aws-eusc (European Sovereign Cloud)
    r")-\d+\Z"
)

DEFAULT_EASY_DKIM_DOMAIN = "dkim.amazonses.com"

# SES regions whose Easy DKIM domain is regional (General Reference, "Easy DKIM domains").
_REGIONAL_DKIM = (
    "af-south-1",
    "ap-northeast-3",
    "ap-south-2",
    "ap-southeast-3",
    "ap-southeast-5",
    "ca-west-1",
    "eu-central-2",
    "eu-south-1",
    "il-central-1",
    "me-central-1",
    "us-gov-east-1",
)

SES_REGIONS: tuple[str, ...] = (
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "af-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-5",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "sa-east-1",
    "us-gov-east-1",
    "us-gov-west-1",
)

SES_EASY_DKIM_DOMAINS: Mapping[str, str] = MappingProxyType(
    {r: (f"dkim.{r}.amazonses.com" if r in _REGIONAL_DKIM else DEFAULT_EASY_DKIM_DOMAIN) for r in SES_REGIONS}
)


def is_aws_region(region: object) -> bool:
    """True for an AWS region name such as ``eu-west-1``, ``us-gov-west-1`` or ``cn-north-1``."""
    return isinstance(region, str) and bool(_REGION.match(region))


def is_ses_region(region: object) -> bool:
    """True for a region where Amazon SES sends email (and signs with Easy DKIM)."""
    return isinstance(region, str) and region in SES_EASY_DKIM_DOMAINS


def _ses_region(region: object) -> str:
    if not isinstance(region, str) or not is_aws_region(region):
        raise AwsError(f"AWS region {region!r} is not valid")
    if region not in SES_EASY_DKIM_DOMAINS:
        raise AwsError(f"Amazon SES is not offered in AWS region {region!r}")
    return region


def easy_dkim_domain(region: str | None) -> str:
    """The domain SES Easy DKIM CNAMEs point at in ``region``.

    ``None`` (region not known to the caller) gives the global ``dkim.amazonses.com``,
    which is right in most SES regions but not in those with a regional domain.
    """
    if region is None:
        return DEFAULT_EASY_DKIM_DOMAIN
    return SES_EASY_DKIM_DOMAINS[_ses_region(region)]


def ses_feedback_host(region: str) -> str:
    """The MX host of an SES custom MAIL FROM domain in ``region``."""
    return f"feedback-smtp.{_ses_region(region)}.amazonses.com"


def ses_smtp_endpoint(region: str) -> str:
    """The host of the SES SMTP interface in ``region`` (syntax checked, not availability)."""
    if not is_aws_region(region):
        raise AwsError(f"AWS region {region!r} is not valid")
    return f"email-smtp.{region}.amazonaws.com"


# SES email receiving (General Reference, "Email receiving endpoints"; the SES Developer
# Guide's "Regions and Amazon SES"): receipt rules and the inbound MX exist only here.
SES_RECEIVING_REGIONS: tuple[str, ...] = (
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "ap-northeast-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ca-central-1",
    "eu-central-1",
    "eu-west-1",
    "eu-west-2",
)


def is_ses_receiving_region(region: object) -> bool:
    """True for a region where SES receives mail (an MX to ``inbound-smtp.<region>`` works)."""
    return isinstance(region, str) and region in SES_RECEIVING_REGIONS


def ses_inbound_smtp_host(region: str) -> str:
    """The SES email-receiving MX host of ``region``; AwsError where SES does not receive."""
    if _ses_region(region) not in SES_RECEIVING_REGIONS:
        raise AwsError(
            f"Amazon SES does not receive email in AWS region {region!r} (receiving regions: {', '.join(SES_RECEIVING_REGIONS)})"
        )
    return f"inbound-smtp.{region}.amazonaws.com"


# SESv2 event types (API Reference, EventDestinationDefinition.MatchingEventTypes).
# OPEN and CLICK come from a tracking pixel and rewritten links: personal data about the
# recipient's behaviour, so they are opt-in with a recorded consent basis.
SES_TRACKING_EVENT_TYPES: tuple[str, ...] = ("OPEN", "CLICK")
SES_EVENT_TYPES: tuple[str, ...] = (
    "SEND",
    "DELIVERY",
    "BOUNCE",
    "COMPLAINT",
    "REJECT",
    "DELIVERY_DELAY",
    "SUBSCRIPTION",
    "RENDERING_FAILURE",
)

# SES's reputation thresholds (Developer Guide, "Reputation metrics FAQ"; percent of the
# representative volume): the account is placed under review at the first, sending may
# be paused at the second. Gmail's bulk-sender rule (spam rate under 0.3 %, Postmaster
# Tools) is stricter than SES's complaint review in practice: Gmail sends no per-message
# complaints to SES, so SES's complaint rate under-counts what Gmail sees.
SES_REVIEW_THRESHOLDS: Mapping[str, float] = MappingProxyType({"bounce": 5.0, "complaint": 0.1})
SES_PAUSE_THRESHOLDS: Mapping[str, float] = MappingProxyType({"bounce": 10.0, "complaint": 0.5})
# CloudWatch (namespace AWS/SES) metric of each rate, a fraction (0.05 = 5 %); per
# configuration set under the dimension ses:configuration-set when the set enables
# reputation metrics (ConfigurationSet reputationOptions.reputationMetricsEnabled).
SES_REPUTATION_METRICS: Mapping[str, str] = MappingProxyType(
    {"bounce": "Reputation.BounceRate", "complaint": "Reputation.ComplaintRate"}
)
SES_METRICS_NAMESPACE = "AWS/SES"

# CloudFront. What serves content to anyone (the MTA-STS policy): a distribution, or one
# multi-tenant distribution for a fleet; what uses a us-east-1 ACM certificate: those and
# the tenants of a multi-tenant distribution (a certificate per tenant's domain).
CLOUDFRONT_DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
CLOUDFRONT_MULTITENANT_DISTRIBUTION = "aws:cloudfront/multitenantDistribution:MultitenantDistribution"
CLOUDFRONT_DISTRIBUTION_TENANT = "aws:cloudfront/distributionTenant:DistributionTenant"
CLOUDFRONT_SERVING_TYPES = (CLOUDFRONT_DISTRIBUTION, CLOUDFRONT_MULTITENANT_DISTRIBUTION)
CLOUDFRONT_CERTIFICATE_USERS = (*CLOUDFRONT_SERVING_TYPES, CLOUDFRONT_DISTRIBUTION_TENANT)
# Viewer TLS. A behaviour's viewerProtocolPolicy that never serves plain HTTP, and the
# viewer security policies (CloudFront Developer Guide, "Supported protocols and ciphers
# between viewers and CloudFront"): "SSLv3", "TLSv1", "TLSv1_2016", "TLSv1.1_2016",
# "TLSv1.2_2018", "TLSv1.2_2019", "TLSv1.2_2021", "TLSv1.2_2025", "TLSv1.3_2025". With
# CloudFront's default *.cloudfront.net certificate the policy is always TLSv1.
CLOUDFRONT_HTTPS_VIEWER_POLICIES = ("https-only", "redirect-to-https")
CLOUDFRONT_SECURITY_POLICY = "TLSv1.2_2021"  # what this project declares
CLOUDFRONT_MIN_VIEWER_TLS = (1, 2)


def cloudfront_policy_tls(policy: object) -> tuple[int, ...] | None:
    """The lowest TLS version a viewer security policy accepts ("TLSv1.2_2021" -> (1, 2),
    "TLSv1" -> (1, 0), "SSLv3" -> (0,)), or None for a name that is not one."""
    if not isinstance(policy, str):
        return None
    head = policy.split("_", 1)[0]
    if head == "SSLv3":
        return (0,)
    if not head.startswith("TLSv"):
        return None
    parts = head[4:].split(".")
    if not all(p.isdigit() for p in parts) or not parts:
        return None
    version = tuple(int(p) for p in parts)
    return version if len(version) > 1 else (*version, 0)


# The hosted zone of every CloudFront alias target, distributions and connection groups
# alike (AWS General Reference, "Amazon CloudFront endpoints and quotas").
CLOUDFRONT_ALIAS_ZONE_ID = "Z2FDTNDATAQYW2"
SES_CONFIGURATION_SET_DIMENSION = "ses:configuration-set"


def ses_event_bus_arn(region: str, account_id: str) -> str:
    """The default EventBridge bus of an account and region: SES publishes events only there."""
    if not is_aws_region(region):
        raise AwsError(f"AWS region {region!r} is not valid")
    if not is_account_id(account_id):
        raise AwsError(f"AWS account id {account_id!r} is not 12 digits")
    return f"arn:aws:events:{region}:{account_id}:event-bus/default"


# CloudWatch Logs PutRetentionPolicy: retentionInDays takes exactly these values (API
# Reference, "PutRetentionPolicy"; no retention at all is DeleteRetentionPolicy).
LOG_RETENTION_DAYS: tuple[int, ...] = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip


# AWS identifiers the components and config take (one spelling each). ARN partitions are
# those of the region syntax above (botocore partitions.json).
PARTITIONS = ("aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc")
_ACCOUNT_ID = re.compile(r"\d{12}\Z")
_IAM_PRINCIPAL = re.compile(
    r"arn:(?:" + "|".join(map(re.escape, PARTITIONS)) + r"):iam::\d{12}:(?:(?P<root>root)|(?P<kind>user|role)(?:/[\w+=,.@-]+)+)\Z"
)
_ROUTE53_ZONE_ID = re.compile(r"Z[A-Z0-9]{1,31}\Z")
_SES_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")  # SESv2 CreateConfigurationSet / contact list / topic names


def is_account_id(value: object) -> bool:
    """A 12-digit AWS account id."""
    return isinstance(value, str) and bool(_ACCOUNT_ID.match(value))


def is_iam_principal_arn(value: object, kinds: tuple[str, ...] = ("root", "user", "role")) -> bool:
    """An IAM principal ARN of one of ``kinds``: ``arn:<partition>:iam::<account>:root``,
    ``...:user/<path/name>`` or ``...:role/<path/name>`` (no wildcards)."""
    if not isinstance(value, str):
        return False
    found = _IAM_PRINCIPAL.match(value)
    return found is not None and (found.group("root") or found.group("kind")) in kinds


def is_route53_zone_id(value: object) -> bool:
    """A Route53 hosted zone id (``Z`` and up to 31 upper-case letters or digits)."""
    return isinstance(value, str) and bool(_ROUTE53_ZONE_ID.match(value))


def is_ses_name(value: object) -> bool:
    """An SES name (configuration set, contact list, topic): 1..64 letters, digits, ``_`` and ``-``."""
    return isinstance(value, str) and bool(_SES_NAME.match(value))


_KMS_ALIAS_NAME = re.compile(r"[A-Za-z0-9/_-]{1,250}\Z")  # AliasName is alias/<name>, at most 256


def is_kms_alias_name(value: object) -> bool:
    """A KMS alias name without the ``alias/`` prefix; ``aws/`` names are AWS managed keys'."""
    return isinstance(value, str) and bool(_KMS_ALIAS_NAME.match(value)) and not value.startswith(("alias/", "aws/"))


# The IAM actions of sending through SES (the SMTP interface signs as ses:SendRawEmail):
# the component grants exactly these, the least-privilege policy allows no other ses: action.
SES_SEND_ACTIONS: tuple[str, ...] = ("ses:SendEmail", "ses:SendRawEmail")


# --------------------------------------------------------------- account security
# The audit / detection / operator controls (components/audit.py, detection.py,
# operators.py) and the rules that check them (policies/mailinfra_policy/audit.py) read
# these; sources are named on each.

# The IAM condition keys that bind a credential to where it is used (IAM User Guide,
# "AWS global condition context keys"): the interface endpoint a request came through,
# or the public source address of a request that did not come through one.
SOURCE_CONDITION_KEYS: tuple[str, ...] = ("aws:SourceVpce", "aws:SourceIp")

# IAM User Guide, "AWS: Allows MFA-authenticated IAM users to manage their own MFA
# device" (DenyAllExceptListedIfNoMFA): without MFA a user may only do these.
MFA_SELF_SERVICE_ACTIONS: tuple[str, ...] = (
    "iam:CreateVirtualMFADevice",
    "iam:EnableMFADevice",
    "iam:GetUser",
    "iam:ChangePassword",
    "iam:ListMFADevices",
    "iam:ListVirtualMFADevices",
    "iam:ResyncMFADevice",
    "sts:GetSessionToken",
)
MFA_CONDITION_KEY = "aws:MultiFactorAuthPresent"

# Account password policy: the CIS AWS Foundations Benchmark v3.0 controls 1.8 (length
# >= 14) and 1.9 (reuse prevention 24); AWS FSBP IAM.7 checks the same shape.
PASSWORD_MIN_LENGTH = 14
PASSWORD_REUSE_PREVENTION = 24
PASSWORD_MAX_AGE_DAYS = 90

# GuardDuty severities (GuardDuty User Guide, "Severity levels of GuardDuty findings"):
# low 1.0-3.9, medium 4.0-6.9, high 7.0-8.9, critical 9.0-10.0. Medium and above alert.
GUARDDUTY_ALERT_SEVERITY = 4
# Detector features (API DetectorFeatureConfiguration names). S3 Protection watches the
# audit, archive and report buckets; the others protect EKS, EC2/EBS, RDS, Lambda and
# runtime agents this footprint does not run (and are billed only when those exist).
GUARDDUTY_FEATURES: tuple[str, ...] = ("S3_DATA_EVENTS",)
GUARDDUTY_FINDING_FREQUENCY = "FIFTEEN_MINUTES"

# Route53 public-zone query logging writes only to a log group in us-east-1 whose name
# starts with /aws/route53/ (Route53 Developer Guide, "Logging DNS queries").
ROUTE53_QUERY_LOG_REGION = "us-east-1"
ROUTE53_QUERY_LOG_PREFIX = "/aws/route53/"

# Key and credential lifetime: SMTP access keys and BYODKIM keys older than this are
# reported by `mailinfra verify --outputs` (config keys.maxAgeDays); CIS 1.14 and AWS
# FSBP IAM.3 rotate access keys every 90 days.
KEY_MAX_AGE_DAYS = 90
KEY_AGE_WARNING_DAYS = 14  # "near" the maximum age: this many days before it

# AWS Config managed rules (AWS Config Developer Guide, "List of AWS Config Managed
# Rules"), by source identifier; the stack declares these.
CONFIG_MANAGED_RULES: tuple[str, ...] = (
    "CLOUD_TRAIL_ENABLED",
    "MULTI_REGION_CLOUD_TRAIL_ENABLED",
    "CLOUD_TRAIL_LOG_FILE_VALIDATION_ENABLED",
    "CLOUD_TRAIL_ENCRYPTION_ENABLED",
    "GUARDDUTY_ENABLED_CENTRALIZED",
    "IAM_PASSWORD_POLICY",
    "ROOT_ACCOUNT_MFA_ENABLED",
    "MFA_ENABLED_FOR_IAM_CONSOLE_ACCESS",
    "ACCESS_KEYS_ROTATED",
    "CMK_BACKING_KEY_ROTATION_ENABLED",
    "S3_BUCKET_PUBLIC_READ_PROHIBITED",
    "S3_BUCKET_SSL_REQUESTS_ONLY",
    "S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED",
    "VPC_FLOW_LOGS_ENABLED",
    "RESTRICTED_INCOMING_TRAFFIC",
    "INCOMING_SSH_DISABLED",
)
# The resource types the recorder records (the stack's own; each item is billed).
CONFIG_RECORDED_TYPES: tuple[str, ...] = (
    "AWS::CloudTrail::Trail",
    "AWS::S3::Bucket",
    "AWS::KMS::Key",
    "AWS::IAM::User",
    "AWS::IAM::Role",
    "AWS::IAM::Group",
    "AWS::IAM::Policy",
    "AWS::EC2::SecurityGroup",
    "AWS::EC2::VPC",
    "AWS::EC2::VPCEndpoint",
    "AWS::SecretsManager::Secret",
    "AWS::SNS::Topic",
    "AWS::SQS::Queue",
)
# Ports that never open to anyone (administration goes through SSM Session Manager).
ADMIN_PORTS: tuple[int, ...] = (22, 3389)

_TRAIL_ARN = re.compile(
    r"arn:(?:" + "|".join(map(re.escape, PARTITIONS)) + r"):cloudtrail:[a-z0-9-]+:\d{12}:trail/[A-Za-z0-9._-]{3,128}\Z"
)


def is_cloudtrail_arn(value: object) -> bool:
    """A CloudTrail trail ARN (``arn:aws:cloudtrail:<region>:<account>:trail/<name>``)."""
    return isinstance(value, str) and bool(_TRAIL_ARN.match(value))
