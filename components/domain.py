"""SendingDomain: everything one From domain needs, composed.

- AuthRecords: SPF, DKIM (Easy DKIM CNAMEs or BYODKIM TXT), DMARC, MTA-STS TXT,
  TLS-RPT, BIMI, and the custom MAIL FROM MX + SPF, all in the domain's zone;
- SesRelay: identity, TLS-REQUIRE configuration set as its default, MAIL FROM;
- SmtpAccess: send-only IAM credentials, stored under the KeyStore's key;
- MtaStsHosting: the policy served at https://mta-sts.<domain>/.well-known/mta-sts.txt,
  the very text whose hash is the TXT ``id``;
- ByoDkim when the domain brings its own keys.

The KeyStore and the Firewall are shared per stack (or the KeyStore per domain, as
config says) and passed in: one SES SMTP interface endpoint serves a whole VPC, and
private DNS allows only one per service and VPC.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import pulumi

from mailinfra.policies.mailinfra_policy.standards import aws as aws_std
from mailinfra.policies.mailinfra_policy.standards import dkim as dkim_std
from mailinfra.policies.mailinfra_policy.standards._common import zone_for

from . import wiring
from .config import DomainConfig, StackConfig
from .dkim import ByoDkim
from .dns import AuthRecords, AuthRecordsArgs, DeferredRecord
from .keystore import SecretStore
from .mtasts_hosting import MtaStsHosting, MtaStsTenancyRef
from .records import DnsRecord
from .relay import ByodkimSigning, SesRelay, SharedConfigurationSet
from .smtp import SmtpAccess


@dataclass(frozen=True)
class SendingDomainArgs:
    domain: DomainConfig
    stack: StackConfig
    keystore: SecretStore
    certificate_provider: pulumi.ProviderResource | None = None  # us-east-1, for CloudFront's ACM certificate
    contact_topics: tuple[str, ...] = ()  # SES allows one contact list per account and region
    # names of zones this stack manages -> (provider, zone id): report-authorisation
    # records for destinations in them are handed back as ``foreign_records``
    zones: dict[str, tuple[str, str]] = field(default_factory=dict)
    shared_configuration_set: SharedConfigurationSet | None = None  # for configurationSet: shared
    smtp_source_vpce: pulumi.Input[str] | None = None  # the SMTP interface endpoint the credentials are bound to
    mta_sts_tenancy: MtaStsTenancyRef | None = None  # mtaStsHosting: shared (Route53 domains)


class SendingDomain(pulumi.ComponentResource):
    def __init__(self, name: str, args: SendingDomainArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        d, s = args.domain, args.stack
        # Everything that can be wrong is computed before the first child exists.
        records, sts = wiring.static_records(d, s.region)
        own_zone_auth: list[DnsRecord] = []
        self.foreign_records: list[tuple[str, DnsRecord]] = []
        for r in wiring.report_auth_records(d):
            zone = zone_for(r.name, args.zones)
            if zone == d.zone.name:
                own_zone_auth.append(r)
            elif zone is not None:
                self.foreign_records.append((zone, r))
            else:
                pulumi.log.info(
                    f'{d.name}: the DMARC report destination must publish {r.name} TXT "v=DMARC1" (not in a zone of this stack)'
                )
        byo_args = wiring.byodkim_args(d)
        if byo_args is None:
            aws_std.easy_dkim_domain(s.region)  # the CNAME targets' region: refused now, not in apply

        super().__init__("mailinfra:domain:SendingDomain", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = s.tags

        deferred: list[DeferredRecord] = []
        byo = None
        dkim_records: tuple[pulumi.Resource, ...] = ()
        if byo_args is not None:
            byo = ByoDkim(f"{name}-dkim", byo_args, args.keystore, opts=child)
            selector_records = tuple(
                DeferredRecord(
                    key=f"dkim-{rname.split('._domainkey.')[0].replace('.', '-')}",
                    name=rname,
                    type="TXT",
                    values=value.apply(lambda v: [v]),
                    purpose="dkim",
                    ttl=d.ttl,
                )
                for rname, value in byo.records
            )
            # Published first: SES switches to a selector only once its record is declared.
            dkim_records = (
                AuthRecords(
                    f"{name}-dkim-records",
                    AuthRecordsArgs(
                        provider=d.provider, zone_name=d.zone.name, zone_id=d.zone.zone_id, records=selector_records, tags=tags
                    ),
                    opts=child,
                ),
            )

        relay = SesRelay(
            f"{name}-relay",
            wiring.relay_args(
                d,
                s,
                kms_key_arn=args.keystore.key_arn,
                byodkim=ByodkimSigning(selector=byo.signing_selector, private_key=byo.signing_private_key) if byo else None,
                topics=args.contact_topics,
                identity_depends_on=dkim_records,
                shared=args.shared_configuration_set,
            ),
            opts=child,
        )
        if byo is None:
            # Easy DKIM: three CNAMEs built from SES tokens (known after deploy) by the one
            # rule (standards.dkim.easy_dkim_cname: the region's Easy DKIM domain). Only
            # the values are computed in apply; the record resources are declared here.
            tokens = relay.dkim_tokens
            for i in range(3):
                cname = tokens.apply(functools.partial(_easy_dkim_cname, i, d.name, s.region))
                deferred.append(
                    DeferredRecord(
                        key=f"easy-dkim-{i + 1}",
                        name=cname.apply(lambda c: c[0]),
                        type="CNAME",
                        values=cname.apply(lambda c: [c[2]]),
                        purpose="easy-dkim",
                        ttl=d.ttl,
                    )
                )

        self.records = AuthRecords(
            f"{name}-records",
            AuthRecordsArgs(
                provider=d.provider,
                zone_name=d.zone.name,
                zone_id=d.zone.zone_id,
                records=(*records, *own_zone_auth, *deferred),
                tags=tags,
            ),
            opts=child,
        )
        # A domain of a sending system (smtp.system) shares that system's credentials, which
        # MailStack declares once the system's identities exist.
        smtp = None
        if d.smtp.system is None:
            smtp = SmtpAccess(
                f"{name}-smtp",
                wiring.smtp_args(
                    d,
                    s,
                    identity_arn=relay.identity_arn,
                    configuration_set_arn=relay.configuration_set_arn,
                    secret_factory=lambda n, v, desc: args.keystore.secret(n, v, desc).arn,
                    source_vpce=args.smtp_source_vpce,
                ),
                opts=child,
            )
        hosting = None
        if sts is not None:
            hosting = MtaStsHosting(
                f"{name}-mta-sts", wiring.hosting_args(d, s, sts, args.certificate_provider, args.mta_sts_tenancy), opts=child
            )

        self.relay = relay
        self.dkim_records = dkim_records[0] if dkim_records else None
        self.smtp = smtp
        self.hosting = hosting
        self.byodkim = byo
        self.mta_sts = sts
        self.published = {r.name + "/" + r.type: list(r.values) for r in records + own_zone_auth}
        self.smtp_endpoint = relay.smtp_endpoint
        self.smtp_secret_arn: pulumi.Output[str] | None = smtp.secret_arn if smtp else None
        self.dkim_secret_arns = {sel: sec.arn for sel, sec in (byo.secrets.items() if byo else [])}
        self.register_outputs(
            {
                "records": self.published,
                "configuration_set": relay.configuration_set_name,
                "smtp_endpoint": self.smtp_endpoint,
                "smtp_secret_arn": self.smtp_secret_arn,
            }
        )


def _easy_dkim_cname(i: int, domain: str, region: str, tokens: list[str]) -> tuple[str, str, str]:
    return dkim_std.easy_dkim_cname(domain, tokens[i], region)
