"""SesRelay: the SESv2 sending side of one domain.

Declares, as children of one ComponentResource:

- a configuration set: TLS REQUIRE, bounded delivery time, reputation metrics,
  suppression of BOUNCE and COMPLAINT, sending on, optionally a dedicated IP pool;
- an SNS topic encrypted under the KeyStore's CMK, a topic policy letting only this
  configuration set's SES events publish, and an event destination for BOUNCE,
  COMPLAINT, DELIVERY and REJECT;
- the domain's EmailIdentity with the configuration set as its default, DKIM either
  Easy DKIM (RSA 2048) or BYODKIM (private key from the KeyStore, kept secret);
- EmailIdentityMailFromAttributes with an aligned MAIL FROM subdomain and
  REJECT_MESSAGE when its MX is missing;
- optionally the account's SES contact list with topics (SES-managed one-click
  unsubscribe, RFC 8058). SES allows ONE contact list per account and region: give
  topics to one SesRelay per account/region only.

Arguments are validated when `SesRelayArgs` is built, so an invalid value raises
`RelayArgsError` before any resource exists.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
from pulumi import Input, Output, ResourceOptions

from .errors import ArgsError
from .records import DnsRecord, mail_from_records
from mailinfra.policies.mailinfra_policy.standards import aws as aws_std
from mailinfra.policies.mailinfra_policy.standards import dkim as dkim_std
from mailinfra.policies.mailinfra_policy.standards._common import is_hostname, is_ldh_label
from mailinfra.policies.mailinfra_policy.standards.errors import DkimError

__all__ = [
    "EVENT_TYPES",
    "ByodkimSigning",
    "ContactTopic",
    "RelayArgsError",
    "SesRelay",
    "SesRelayArgs",
    "SharedConfigurationSet",
    "SharedConfigurationSetArgs",
    "check_domain",
    "check_region",
    "check_ses_region",
    "check_tags",
    "smtp_endpoint_for",
]

EVENT_TYPES: tuple[str, ...] = ("BOUNCE", "COMPLAINT", "DELIVERY", "REJECT")
SUPPRESSED_REASONS: tuple[str, ...] = ("BOUNCE", "COMPLAINT")
MIN_DELIVERY_SECONDS = 300  # SESv2 bounds for delivery_options.max_delivery_seconds
MAX_DELIVERY_SECONDS = 50400
MAX_CONTACT_TOPICS = 20  # SES list-management quota


ErrorFactory = Callable[[str, object, str], Exception]


class RelayArgsError(ArgsError):
    """An invalid SesRelay argument: `"<argument>: <reason> (got <value!r>)"`."""


# --- shared validators (also used by smtp.py, firewall.py, mtasts_hosting.py) -------


def check_domain(argument: str, value: object, error: ErrorFactory = RelayArgsError) -> str:
    """A lowercase LDH domain name of at least two labels, no trailing dot."""
    if not isinstance(value, str) or not value:
        raise error(argument, value, "must be a non-empty domain name")
    if value != value.lower() or value.endswith(".") or len(value) > 253:
        raise error(
            argument,
            value,
            "must be lowercase, without a trailing dot, at most 253 characters",
        )
    if not is_hostname(value):  # the standards' host name rule
        raise error(argument, value, "must be a domain name of LDH labels such as example.com")
    return value


def check_region(argument: str, value: object, error: ErrorFactory = RelayArgsError) -> str:
    if not isinstance(value, str) or not aws_std.is_aws_region(value):
        raise error(argument, value, "must be an AWS region name such as eu-west-1")
    return value


def check_ses_region(argument: str, value: object, error: ErrorFactory = RelayArgsError) -> str:
    """An AWS region where SES sends (its Easy DKIM domain is known: standards/aws.py)."""
    region = check_region(argument, value, error)
    if not aws_std.is_ses_region(region):
        raise error(argument, value, "Amazon SES is not offered in this region (AWS General Reference, SES endpoints)")
    return region


def check_tags(argument: str, value: object, error: ErrorFactory = RelayArgsError) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(
        # an Output value is a secret tag (from a secure config key), validated where it was read
        isinstance(k, str) and k and isinstance(v, (str, Output))
        for k, v in value.items()
    ):
        raise error(argument, value, "must be a mapping of non-empty str keys to str values")
    return dict(value)


def smtp_endpoint_for(region: str) -> str:
    """The SES SMTP endpoint host of a region (private DNS maps it to the VPC endpoint)."""
    return aws_std.ses_smtp_endpoint(region)


# --- args --------------------------------------------------------------------------


@dataclass(frozen=True)
class ByodkimSigning:
    """Bring-your-own DKIM: the selector and the base64 PKCS#1/PKCS#8 body of the private key.

    `private_key` is normally the KeyStore's secret Output; it is wrapped in
    `Output.secret` again before it reaches the EmailIdentity, and never printed.
    """

    selector: str
    private_key: Input[str]

    def __post_init__(self) -> None:
        try:
            # the DKIM selector rule (standards/dkim.py), as config and the ByoDkim component use it
            object.__setattr__(self, "selector", dkim_std.validate_selector(self.selector))
        except DkimError:
            raise RelayArgsError(
                "byodkim.selector",
                self.selector,
                "must be a DKIM selector (dot-separated labels of letters, digits and inner hyphens)",
            ) from None
        if self.private_key is None or (isinstance(self.private_key, str) and not self.private_key):
            # never echo key material: report only that it is missing
            raise RelayArgsError("byodkim.private_key", None, "must be given (the base64 private key)")

    def __repr__(self) -> str:  # key material never appears in a message
        return f"ByodkimSigning(selector={self.selector!r}, private_key=<secret>)"


@dataclass(frozen=True)
class ContactTopic:
    """A topic of the SES contact list; `default_subscription_status` OPT_IN or OPT_OUT."""

    name: str
    display_name: str
    default_subscription_status: str = "OPT_OUT"
    description: str | None = None

    def __post_init__(self) -> None:
        if not aws_std.is_ses_name(self.name):
            raise RelayArgsError(
                "contact_topics.name",
                self.name,
                "must be 1-64 letters, digits, '_' or '-'",
            )
        if not isinstance(self.display_name, str) or not self.display_name.strip():
            raise RelayArgsError("contact_topics.display_name", self.display_name, "must be non-empty")
        if self.default_subscription_status not in ("OPT_IN", "OPT_OUT"):
            raise RelayArgsError(
                "contact_topics.default_subscription_status",
                self.default_subscription_status,
                "must be OPT_IN or OPT_OUT",
            )


@dataclass(frozen=True)
class SesRelayArgs:
    """Arguments of SesRelay. Validated at construction (RelayArgsError)."""

    domain: str
    region: str
    kms_key_arn: Input[str]
    mail_from_subdomain: str = "bounce"
    max_delivery_seconds: int = 14400
    byodkim: ByodkimSigning | Mapping[str, Any] | None = None
    dedicated_ip_pool_scaling_mode: str | None = None  # None: shared IPs; "STANDARD" | "MANAGED"
    contact_topics: tuple[ContactTopic, ...] = ()
    contact_list_description: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    identity_depends_on: tuple[pulumi.Resource, ...] = ()
    # a configuration set shared by the fleet (SharedConfigurationSet): the identity uses it
    # and this relay declares no set, topic or event destination of its own
    shared: SharedConfigurationSet | None = None

    def __post_init__(self) -> None:
        check_domain("domain", self.domain)
        if self.shared is not None and self.dedicated_ip_pool_scaling_mode is not None:
            raise RelayArgsError(
                "dedicated_ip_pool_scaling_mode",
                self.dedicated_ip_pool_scaling_mode,
                "a dedicated IP pool is a configuration set's: the domain needs its own set",
            )
        check_ses_region("region", self.region)
        if self.kms_key_arn is None or (isinstance(self.kms_key_arn, str) and not self.kms_key_arn.startswith("arn:")):
            raise RelayArgsError("kms_key_arn", self.kms_key_arn, "must be the KeyStore CMK's ARN")
        object.__setattr__(
            self,
            "mail_from_subdomain",
            _mail_from_label(self.mail_from_subdomain, self.domain),
        )
        if (
            isinstance(self.max_delivery_seconds, bool)
            or not isinstance(self.max_delivery_seconds, int)
            or not MIN_DELIVERY_SECONDS <= self.max_delivery_seconds <= MAX_DELIVERY_SECONDS
        ):
            raise RelayArgsError(
                "max_delivery_seconds",
                self.max_delivery_seconds,
                f"must be an integer from {MIN_DELIVERY_SECONDS} to {MAX_DELIVERY_SECONDS}",
            )
        if isinstance(self.byodkim, Mapping):
            unknown = set(self.byodkim) - {
                "selector",
                "private_key",
                "domain_signing_selector",
                "domain_signing_private_key",
            }
            if unknown:
                raise RelayArgsError("byodkim", sorted(unknown), "unknown keys")
            object.__setattr__(
                self,
                "byodkim",
                ByodkimSigning(
                    selector=self.byodkim.get("selector", self.byodkim.get("domain_signing_selector")),  # type: ignore[arg-type]
                    private_key=self.byodkim.get("private_key", self.byodkim.get("domain_signing_private_key")),  # type: ignore[arg-type]
                ),
            )
        elif self.byodkim is not None and not isinstance(self.byodkim, ByodkimSigning):
            raise RelayArgsError(
                "byodkim",
                type(self.byodkim).__name__,
                "must be ByodkimSigning, a mapping or None",
            )
        if self.dedicated_ip_pool_scaling_mode not in (None, "STANDARD", "MANAGED"):
            raise RelayArgsError(
                "dedicated_ip_pool_scaling_mode",
                self.dedicated_ip_pool_scaling_mode,
                "must be None, STANDARD or MANAGED",
            )
        topics = tuple(self.contact_topics)
        if not all(isinstance(t, ContactTopic) for t in topics):
            raise RelayArgsError("contact_topics", topics, "must be ContactTopic values")
        if len(topics) > MAX_CONTACT_TOPICS:
            raise RelayArgsError(
                "contact_topics",
                len(topics),
                f"at most {MAX_CONTACT_TOPICS} topics (SES quota)",
            )
        names = [t.name for t in topics]
        if len(set(names)) != len(names):
            raise RelayArgsError("contact_topics", names, "topic names must be unique")
        object.__setattr__(self, "contact_topics", topics)
        object.__setattr__(self, "tags", check_tags("tags", self.tags))

    @property
    def mail_from_domain(self) -> str:
        return f"{self.mail_from_subdomain}.{self.domain}"

    @property
    def smtp_endpoint(self) -> str:
        return smtp_endpoint_for(self.region)


def _mail_from_label(value: object, domain: str) -> str:
    """Relative MAIL FROM name under `domain` ("bounce" or "bounce.<domain>" both accepted)."""
    reason = f"must be a subdomain of {domain} (relative, e.g. 'bounce') so SPF aligns with the From domain"
    if not isinstance(value, str) or not value:
        raise RelayArgsError("mail_from_subdomain", value, reason)
    rel = value
    if rel == domain or rel.endswith("."):
        raise RelayArgsError("mail_from_subdomain", value, reason)
    if rel.endswith("." + domain):
        rel = rel[: -len(domain) - 1]
    labels = rel.split(".")
    if rel != rel.lower() or not all(is_ldh_label(label) for label in labels):
        raise RelayArgsError("mail_from_subdomain", value, reason)
    if len(f"{rel}.{domain}") > 253:
        raise RelayArgsError("mail_from_subdomain", value, "the MAIL FROM domain exceeds 253 characters")
    return rel


def mail_from_dns_records(mail_from_domain: str, region: str) -> tuple[DnsRecord, ...]:
    """The MX and SPF records SES needs for a custom MAIL FROM domain (the single builder)."""
    return tuple(mail_from_records(mail_from_domain, region))


def _ses_name(name: str) -> str:
    """A physical SES name (letters, digits, '_' and '-', at most 64) derived from `name`."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-") or "mailinfra"
    return cleaned[:64]


# --- component ---------------------------------------------------------------------


class SesRelay(pulumi.ComponentResource):
    """The SESv2 configuration set, identity, MAIL FROM and event publishing of one domain."""

    configuration_set_name: Output[str]
    configuration_set_arn: Output[str]
    identity_arn: Output[str]
    dkim_tokens: Output[list[str]]
    mail_from_domain: str
    mail_from_records: tuple[DnsRecord, ...]
    smtp_endpoint: str
    events_topic_arn: Output[str]
    contact_list_name: Output[str] | None
    dedicated_ip_pool_name: Output[str] | None

    def __init__(self, name: str, args: SesRelayArgs, opts: ResourceOptions | None = None) -> None:
        if not isinstance(args, SesRelayArgs):
            raise RelayArgsError("args", type(args).__name__, "must be SesRelayArgs")
        super().__init__("mailinfra:relay:SesRelay", name, None, opts)
        child = ResourceOptions(parent=self)
        tags = dict(args.tags)
        region = args.region

        pool_name: Output[str] | None = None
        config_set_name: Output[str]
        config_set_arn: Output[str]
        topic_arn: Output[str]
        if args.shared is not None:
            config_set_name, config_set_arn, topic_arn = (
                args.shared.configuration_set_name,
                args.shared.configuration_set_arn,
                args.shared.events_topic_arn,
            )
        elif args.dedicated_ip_pool_scaling_mode is not None:
            pool = aws.sesv2.DedicatedIpPool(
                f"{name}-ip-pool",
                pool_name=_ses_name(f"{name}-pool"),
                scaling_mode=args.dedicated_ip_pool_scaling_mode,
                region=region,
                tags=tags,
                opts=child,
            )
            pool_name = pool.pool_name
        if args.shared is None:
            config_set, topic = _configuration_set(name, args, pool_name, child)
            config_set_name, config_set_arn, topic_arn = config_set.configuration_set_name, config_set.arn, topic.arn

        if args.byodkim is not None:
            assert isinstance(args.byodkim, ByodkimSigning)  # normalised by SesRelayArgs
            dkim = aws.sesv2.EmailIdentityDkimSigningAttributesArgs(
                domain_signing_selector=args.byodkim.selector,
                domain_signing_private_key=Output.secret(args.byodkim.private_key),
            )
        else:
            dkim = aws.sesv2.EmailIdentityDkimSigningAttributesArgs(next_signing_key_length="RSA_2048_BIT")
        identity = aws.sesv2.EmailIdentity(
            f"{name}-identity",
            email_identity=args.domain,
            configuration_set_name=config_set_name,
            dkim_signing_attributes=dkim,
            region=region,
            tags=tags,
            # BYODKIM: the selector's TXT record exists before SES signs with it.
            opts=ResourceOptions(parent=self, depends_on=list(args.identity_depends_on)),
        )

        aws.sesv2.EmailIdentityMailFromAttributes(
            f"{name}-mail-from",
            email_identity=identity.email_identity,
            mail_from_domain=args.mail_from_domain,
            behavior_on_mx_failure="REJECT_MESSAGE",
            region=region,
            opts=child,
        )

        contact_list_name: Output[str] | None = None
        if args.contact_topics:
            contact_list = aws.sesv2.ContactList(
                f"{name}-contacts",
                contact_list_name=_ses_name(f"{name}-contacts"),
                description=args.contact_list_description,
                topics=[
                    aws.sesv2.ContactListTopicArgs(
                        topic_name=t.name,
                        display_name=t.display_name,
                        default_subscription_status=t.default_subscription_status,
                        description=t.description,
                    )
                    for t in args.contact_topics
                ],
                region=region,
                tags=tags,
                opts=child,
            )
            contact_list_name = contact_list.contact_list_name

        self.configuration_set_name = config_set_name
        self.configuration_set_arn = config_set_arn
        self.identity_arn = identity.arn
        self.dkim_tokens = identity.dkim_signing_attributes.apply(_tokens)
        self.mail_from_domain = args.mail_from_domain
        self.mail_from_records = mail_from_dns_records(args.mail_from_domain, region)
        self.smtp_endpoint = args.smtp_endpoint
        self.events_topic_arn = topic_arn
        self.contact_list_name = contact_list_name
        self.dedicated_ip_pool_name = pool_name
        self.register_outputs(
            {
                "configuration_set_name": self.configuration_set_name,
                "configuration_set_arn": self.configuration_set_arn,
                "identity_arn": self.identity_arn,
                "dkim_tokens": self.dkim_tokens,
                "mail_from_domain": self.mail_from_domain,
                "smtp_endpoint": self.smtp_endpoint,
                "events_topic_arn": self.events_topic_arn,
            }
        )


@dataclass(frozen=True)
class SharedConfigurationSetArgs:
    """One configuration set (and event topic) for the domains of a fleet that ask for no isolation."""

    region: str
    kms_key_arn: Input[str]
    max_delivery_seconds: int = 14400
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_ses_region("region", self.region)
        if self.kms_key_arn is None or (isinstance(self.kms_key_arn, str) and not self.kms_key_arn.startswith("arn:")):
            raise RelayArgsError("kms_key_arn", self.kms_key_arn, "must be the KeyStore CMK's ARN")
        if not MIN_DELIVERY_SECONDS <= self.max_delivery_seconds <= MAX_DELIVERY_SECONDS:
            raise RelayArgsError(
                "max_delivery_seconds",
                self.max_delivery_seconds,
                f"must be an integer from {MIN_DELIVERY_SECONDS} to {MAX_DELIVERY_SECONDS}",
            )
        object.__setattr__(self, "tags", check_tags("tags", self.tags))


class SharedConfigurationSet(pulumi.ComponentResource):
    """The configuration set (TLS REQUIRE, suppression, reputation metrics) and the encrypted
    SNS event topic that the fleet's shared SesRelays use as their identities' default: the
    same settings as a relay's own set, declared once instead of once per domain."""

    configuration_set_name: Output[str]
    configuration_set_arn: Output[str]
    events_topic_arn: Output[str]

    def __init__(self, name: str, args: SharedConfigurationSetArgs, opts: ResourceOptions | None = None) -> None:
        super().__init__("mailinfra:relay:SharedConfigurationSet", name, None, opts)
        config_set, topic = _configuration_set(name, args, None, ResourceOptions(parent=self))
        self.configuration_set_name = config_set.configuration_set_name
        self.configuration_set_arn = config_set.arn
        self.events_topic_arn = topic.arn
        self.register_outputs(
            {
                "configuration_set_name": self.configuration_set_name,
                "configuration_set_arn": self.configuration_set_arn,
                "events_topic_arn": self.events_topic_arn,
            }
        )


def _configuration_set(
    name: str, args: SesRelayArgs | SharedConfigurationSetArgs, pool_name: Output[str] | None, child: ResourceOptions
) -> tuple[aws.sesv2.ConfigurationSet, aws.sns.Topic]:
    """The TLS-REQUIRE configuration set and its encrypted SNS event topic (one relay's or a fleet's)."""
    region, tags = args.region, dict(args.tags)
    config_set = aws.sesv2.ConfigurationSet(
        f"{name}-config-set",
        configuration_set_name=_ses_name(name),
        delivery_options=aws.sesv2.ConfigurationSetDeliveryOptionsArgs(
            tls_policy="REQUIRE",
            max_delivery_seconds=args.max_delivery_seconds,
            sending_pool_name=pool_name,
        ),
        reputation_options=aws.sesv2.ConfigurationSetReputationOptionsArgs(reputation_metrics_enabled=True),
        suppression_options=aws.sesv2.ConfigurationSetSuppressionOptionsArgs(suppressed_reasons=list(SUPPRESSED_REASONS)),
        sending_options=aws.sesv2.ConfigurationSetSendingOptionsArgs(sending_enabled=True),
        region=region,
        tags=tags,
        opts=child,
    )

    topic = aws.sns.Topic(
        f"{name}-events",
        kms_master_key_id=args.kms_key_arn,
        region=region,
        tags=tags,
        opts=child,
    )
    aws.sns.TopicPolicy(
        f"{name}-events-policy",
        arn=topic.arn,
        policy=Output.all(topic.arn, config_set.arn).apply(lambda a: _topic_policy(a[0], a[1])),
        region=region,
        opts=child,
    )
    aws.sesv2.ConfigurationSetEventDestination(
        f"{name}-event-destination",
        configuration_set_name=config_set.configuration_set_name,
        event_destination_name=_ses_name(f"{name}-sns"),
        event_destination=aws.sesv2.ConfigurationSetEventDestinationEventDestinationArgs(
            enabled=True,
            matching_event_types=list(EVENT_TYPES),
            sns_destination=aws.sesv2.ConfigurationSetEventDestinationEventDestinationSnsDestinationArgs(topic_arn=topic.arn),
        ),
        region=region,
        opts=child,
    )

    return config_set, topic


def _tokens(attrs: Any) -> list[str]:
    """Easy DKIM tokens (one CNAME `<token>._domainkey.<domain>` each); [] until known."""
    if attrs is None:
        return []
    tokens = attrs.get("tokens") if isinstance(attrs, Mapping) else getattr(attrs, "tokens", None)
    return list(tokens or [])


def _topic_policy(topic_arn: str, config_set_arn: str) -> str:
    """Only SES, publishing for this configuration set in this account, may publish."""
    account = config_set_arn.split(":")[4] if config_set_arn.count(":") >= 5 else None
    condition: dict[str, Any] = {"ArnEquals": {"aws:SourceArn": config_set_arn}}
    if account:
        condition["StringEquals"] = {"aws:SourceAccount": account}
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AllowSesEventPublishing",
                    "Effect": "Allow",
                    "Principal": {"Service": "ses.amazonaws.com"},
                    "Action": "sns:Publish",
                    "Resource": topic_arn,
                    "Condition": condition,
                }
            ],
        },
        sort_keys=True,
    )
