"""mailinfra: the stack's config -> one SendingDomain per domain, shared key store,
firewall and DNSSEC per zone -> exports (never a secret value)."""

import pulumi
import pulumi_aws as aws

from components import config
from components.dns import AuthRecords, AuthRecordsArgs
from components.dnssec import Dnssec, DnssecArgs
from components.domain import SendingDomain, SendingDomainArgs
from components.firewall import Firewall, FirewallArgs
from components.keystore import KeyStore, KeyStoreArgs
from components.records import null_sender_records

cfg = config.load()
tags = cfg.tags


def keystore(name: str, alias: str) -> KeyStore:
    return KeyStore(
        name,
        KeyStoreArgs(
            environment=cfg.environment,
            alias_name=alias,
            account_id=cfg.account_id,
            region=cfg.region,
            admin_principals=cfg.keys.admins,
            user_principals=cfg.keys.users,
            rotation_period_days=cfg.keys.rotation_days,
            deletion_window_days=cfg.keys.deletion_window_days,
            secret_recovery_window_days=30 if cfg.is_prod else 7,
            user_services=("secretsmanager", "sns"),
            alert_email=cfg.keys.alert_email,
            ses_event_topics=True,
            tags=tags,
        ),
    )


shared_keys = None if cfg.keys.per_domain else keystore("keys", cfg.keys.alias)

# CloudFront only takes ACM certificates from us-east-1 (MTA-STS hosting on Route53).
us_east_1 = None
if any(d.provider == "route53" and d.mta_sts.enabled for d in cfg.domains):
    us_east_1 = aws.Provider("aws-us-east-1", region="us-east-1", default_tags=aws.ProviderDefaultTagsArgs(tags=tags))

# Stack-wide: SMTP endpoint network rules and Cloudflare zone TLS settings.
cloudflare_zones = {z.name: z.zone_id for z in cfg.zones if z.provider == "cloudflare"}
net = cfg.network
firewall = Firewall(
    "firewall",
    FirewallArgs(
        region=cfg.region,
        vpc_id=net.vpc_id if net else None,
        subnet_ids=net.subnet_ids if net else (),
        allowed_cidrs=net.allowed_cidrs if net else (),
        ports=net.ports if net else (),
        cloudflare_zones=cloudflare_zones,
        tags=tags,
    ),
)

# Bounded retention for the sending infrastructure's logs (compliance).
aws.cloudwatch.LogGroup(
    "ses-events",
    name=f"/mailinfra/{pulumi.get_stack()}/ses-events",
    retention_in_days=cfg.compliance.log_retention_days,
    region=cfg.region,
    tags=tags,
)

zones = {z.name: (z.provider, z.zone_id) for z in cfg.zones}
foreign: dict[str, list] = {z.name: [] for z in cfg.zones}
exports: dict[str, dict] = {}
topics_given = False
for d in cfg.domains:
    keys = shared_keys or keystore(f"keys-{d.slug}", f"{cfg.keys.alias}-{d.slug}")
    give_topics = d.marketing and not topics_given
    topics_given = topics_given or give_topics
    domain = SendingDomain(
        d.slug,
        SendingDomainArgs(
            domain=d,
            stack=cfg,
            keystore=keys,
            certificate_provider=us_east_1,
            contact_topics=d.contact_topics if give_topics else (),
            zones=zones,
        ),
    )
    for zone_name, record in domain.foreign_records:
        foreign[zone_name].append(record)
    exports[d.name] = {
        "provider": d.provider,
        "zone": d.zone.name,
        "records": domain.published,
        "smtpEndpoint": domain.smtp_endpoint,
        "smtpSecretArn": domain.smtp_secret_arn,
        "dkimSecretArns": domain.dkim_secret_arns,
        "configurationSet": domain.relay.configuration_set_name,
        "mtaStsPolicyUrl": domain.mta_sts.policy_url if domain.mta_sts else None,
    }

for name in cfg.non_sending_names:
    zone = max((z for z in zones if name == z or name.endswith("." + z)), key=len)
    foreign[zone].extend(null_sender_records(name))

ds_records = {}
for z in cfg.zones:
    if foreign[z.name]:
        AuthRecords(f"zone-{z.name.replace('.', '-')}", AuthRecordsArgs(provider=z.provider, zone_name=z.name, zone_id=z.zone_id, records=tuple(foreign[z.name]), tags=tags))
    if z.dnssec:
        signing = Dnssec(
            f"dnssec-{z.name.replace('.', '-')}",
            DnssecArgs(environment=cfg.environment, zone_id=z.zone_id, zone_name=z.name, account_id=cfg.account_id, admin_principals=cfg.keys.admins, tags=tags),
        )
        ds_records[z.name] = signing.ds_record

pulumi.export("environment", cfg.environment)
pulumi.export("zones", {z.name: {"provider": z.provider, "zoneId": z.zone_id} for z in cfg.zones})
pulumi.export("domains", exports)
pulumi.export("dsRecords", ds_records)
pulumi.export("senderIps", list(cfg.relay.sender_ips))  # checked by `mailinfra verify` (SPF pass)
if shared_keys is not None:
    pulumi.export("keyAlias", shared_keys.alias_name)
    pulumi.export("keyAlarmTopicArn", shared_keys.topic_arn)
if firewall.vpc_endpoint_id is not None:
    pulumi.export("smtpVpcEndpointId", firewall.vpc_endpoint_id)
