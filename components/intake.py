"""ReportIntake: the stack's reports mail domain, receiving DMARC and TLS-RPT reports.

Declares, as children of one ComponentResource:

- the DNS of ``<domain>`` (``reports.<zone>`` by default) in its zone: an MX to SES's
  inbound endpoint of the stack's region (standards/aws.py: receiving regions only),
  a null SPF and a DMARC ``p=reject`` (the domain never sends), and the Easy DKIM
  CNAMEs of its SES identity (SES receives only for verified domains);
- an SESv2 identity for the domain (verification; it never sends, its default
  configuration set is given so anything sent by mistake still requires TLS);
- a private S3 bucket under the CMK (components/buckets.py) whose lifecycle deletes
  reports after ``retention_days``; its policy lets ``ses.amazonaws.com`` put objects
  only for this account and this rule set (``aws:SourceAccount``, ``aws:SourceArn``);
- a receipt rule set, made active, with one rule per report kind: ``dmarc@<domain>``
  stored under ``dmarc/``, ``tls-rpt@<domain>`` under ``tls-rpt/`` (standards/intake.py),
  spam/virus scanning on and TLS required (the big reporters all send over STARTTLS).

SES keeps ONE active receipt rule set per account and region: activating this one
replaces any other (README "Report intake"). Objects are the raw messages (RFC 5322);
``mailinfra reports --bucket`` reads them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
from pulumi import Input, Output, ResourceOptions

from mailinfra.policies.mailinfra_policy.standards import aws as aws_std
from mailinfra.policies.mailinfra_policy.standards import dkim as dkim_std
from mailinfra.policies.mailinfra_policy.standards import intake as intake_std
from mailinfra.policies.mailinfra_policy.standards._common import in_zone, is_hostname
from mailinfra.policies.mailinfra_policy.standards.errors import StandardError

from .buckets import private_bucket
from .dns import AuthRecords, AuthRecordsArgs, DeferredRecord
from .errors import ArgsError
from .records import DnsRecord, null_sender_records

__all__ = ["IntakeArgsError", "ReportIntake", "ReportIntakeArgs", "intake_records", "ses_put_statement"]


class IntakeArgsError(ArgsError):
    """An invalid ReportIntake argument."""


def _ses_name(name: str) -> str:
    return (re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-") or "mailinfra")[:64]


def intake_records(domain: str, region: str, ttl: int = 3600) -> tuple[DnsRecord, ...]:
    """The reports domain's static records: MX to SES inbound, null SPF, DMARC reject."""
    mx = DnsRecord(domain, "MX", (f"10 {aws_std.ses_inbound_smtp_host(region)}",), "mx", ttl)
    return (mx, *null_sender_records(domain, ttl=ttl))


def ses_put_statement(bucket_arn: str, account_id: str, region: str, rule_set: str) -> dict[str, Any]:
    """SES may store messages only for this account's rule set, only under the report prefixes."""
    return {
        "Sid": "SesStoresReports",
        "Effect": "Allow",
        "Principal": {"Service": "ses.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": [f"{bucket_arn}/{p}*" for p in intake_std.PREFIXES.values()],
        "Condition": {
            "StringEquals": {"aws:SourceAccount": account_id},
            "ArnLike": {"aws:SourceArn": f"arn:aws:ses:{region}:{account_id}:receipt-rule-set/{rule_set}:receipt-rule/*"},
        },
    }


@dataclass(frozen=True)
class ReportIntakeArgs:
    domain: str
    zone_name: str
    provider: str
    zone_id: Input[str]
    region: str
    account_id: str
    kms_key_arn: Input[str]
    configuration_set_name: Input[str]
    retention_days: int = 365
    ttl: int = 3600
    tags: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.domain, str) or not is_hostname(self.domain) or self.domain != self.domain.lower():
            raise IntakeArgsError("domain", self.domain, "must be a lowercase domain name")
        if not in_zone(self.domain, self.zone_name) or self.domain == self.zone_name:
            raise IntakeArgsError("domain", self.domain, f"must be a name under the zone {self.zone_name}")
        if not aws_std.is_aws_region(self.region):
            raise IntakeArgsError("region", self.region, "must be an AWS region such as eu-west-1")
        if not aws_std.is_ses_receiving_region(self.region):
            raise IntakeArgsError(
                "region", self.region, f"Amazon SES receives email only in {', '.join(aws_std.SES_RECEIVING_REGIONS)}"
            )
        if not aws_std.is_account_id(self.account_id):
            raise IntakeArgsError("account_id", self.account_id, "must be a 12-digit AWS account id")
        if self.kms_key_arn is None or (isinstance(self.kms_key_arn, str) and not self.kms_key_arn.startswith("arn:")):
            raise IntakeArgsError("kms_key_arn", self.kms_key_arn, "must be the CMK's ARN")
        days = self.retention_days
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 3653:
            raise IntakeArgsError("retention_days", days, "must be an integer from 1 to 3653")
        try:
            intake_records(self.domain, self.region, self.ttl)
        except (StandardError, ValueError) as exc:
            raise IntakeArgsError("domain", self.domain, str(exc)) from None

    @property
    def dmarc_address(self) -> str:
        return intake_std.dmarc_address(self.domain)

    @property
    def tls_rpt_address(self) -> str:
        return intake_std.tls_rpt_address(self.domain)


class ReportIntake(pulumi.ComponentResource):
    """See the module docstring."""

    bucket_name: Output[str]
    rule_set_name: str

    def __init__(self, name: str, args: ReportIntakeArgs, opts: ResourceOptions | None = None) -> None:
        if not isinstance(args, ReportIntakeArgs):
            raise IntakeArgsError("args", type(args).__name__, "must be ReportIntakeArgs")
        static = intake_records(args.domain, args.region, args.ttl)
        super().__init__("mailinfra:intake:ReportIntake", name, None, opts)
        child = ResourceOptions(parent=self)
        tags, region, acct = dict(args.tags), args.region, args.account_id
        rule_set = _ses_name(f"{name}-rules")

        bucket = private_bucket(
            f"{name}-bucket",
            parent=self,
            kms_key_arn=args.kms_key_arn,
            retention_days=args.retention_days,
            region=region,
            tags=tags,
            statements=lambda arn: [ses_put_statement(arn, acct, region, rule_set)],
        )

        identity = aws.sesv2.EmailIdentity(
            f"{name}-identity",
            email_identity=args.domain,
            configuration_set_name=args.configuration_set_name,
            dkim_signing_attributes=aws.sesv2.EmailIdentityDkimSigningAttributesArgs(next_signing_key_length="RSA_2048_BIT"),
            region=region,
            tags=tags,
            opts=child,
        )
        tokens = identity.dkim_signing_attributes.apply(_tokens)
        deferred = []
        for i in range(3):
            cname = tokens.apply(functools.partial(_easy_dkim_cname, i, args.domain, region))
            deferred.append(
                DeferredRecord(
                    key=f"easy-dkim-{i + 1}",
                    name=cname.apply(lambda c: c[0]),
                    type="CNAME",
                    values=cname.apply(lambda c: [c[2]]),
                    purpose="easy-dkim",
                    ttl=args.ttl,
                )
            )
        records = AuthRecords(
            f"{name}-records",
            AuthRecordsArgs(
                provider=args.provider,
                zone_name=args.zone_name,
                zone_id=args.zone_id,
                records=(*static, *deferred),
                tags=tags,
            ),
            opts=child,
        )

        rules = aws.ses.ReceiptRuleSet(f"{name}-rule-set", rule_set_name=rule_set, region=region, opts=child)
        previous: aws.ses.ReceiptRule | None = None
        for kind, address in (("dmarc", args.dmarc_address), ("tls-rpt", args.tls_rpt_address)):
            previous = aws.ses.ReceiptRule(
                f"{name}-{kind}",
                name=_ses_name(f"{name}-{kind}"),
                rule_set_name=rules.rule_set_name,
                recipients=[address],
                enabled=True,
                scan_enabled=True,
                tls_policy="Require",
                after=previous.name if previous is not None else None,
                s3_actions=[
                    aws.ses.ReceiptRuleS3ActionArgs(
                        bucket_name=bucket.name, object_key_prefix=intake_std.PREFIXES[kind], position=1
                    )
                ],
                region=region,
                # SES checks that it may write when the rule is created
                opts=ResourceOptions(parent=self, depends_on=[bucket.policy, bucket.encryption]),
            )
        aws.ses.ActiveReceiptRuleSet(
            f"{name}-active",
            rule_set_name=rules.rule_set_name,
            region=region,
            opts=ResourceOptions(parent=self, depends_on=[previous, records] if previous else [records]),
        )

        self.bucket_name = bucket.name
        self.rule_set_name = rule_set
        self.domain = args.domain
        self.published = {r.name + "/" + r.type: list(r.values) for r in static}
        self.register_outputs({"bucket_name": self.bucket_name, "domain": args.domain, "records": self.published})


def _tokens(attrs: Any) -> list[str]:
    if attrs is None:
        return []
    tokens = attrs.get("tokens") if isinstance(attrs, Mapping) else getattr(attrs, "tokens", None)
    return list(tokens or [])


def _easy_dkim_cname(i: int, domain: str, region: str, tokens: list[str]) -> tuple[str, str, str]:
    return dkim_std.easy_dkim_cname(domain, tokens[i], region)
