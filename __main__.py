"""mailinfra: the stack's config -> one SendingDomain per domain, shared key store,
firewall and DNSSEC per zone -> exports (never a secret value)."""

import pulumi
import pulumi_aws as aws

from components import config, wiring
from components.dns import AuthRecords, AuthRecordsArgs
from components.dnssec import Dnssec
from components.domain import SendingDomain, SendingDomainArgs
from components.firewall import Firewall
from components.keystore import KeyStore
from components.records import null_sender_records

cfg = config.load()
wiring.preflight(cfg)  # every component's arguments are valid before the first resource
tags = cfg.tags

shared_keys = None if cfg.keys.per_domain else KeyStore("keys", wiring.keystore_args(cfg, wiring.keystore_alias(cfg, None)))

# CloudFront only takes ACM certificates from us-east-1 (MTA-STS hosting on Route53).
us_east_1 = None
if any(d.provider == "route53" and d.mta_sts.enabled for d in cfg.domains):
    us_east_1 = aws.Provider("aws-us-east-1", region="us-east-1", default_tags=aws.ProviderDefaultTagsArgs(tags=tags))

# Stack-wide: the SES SMTP endpoint's network rules and Cloudflare zone TLS settings.
firewall = Firewall("firewall", wiring.firewall_args(cfg))

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
topics = wiring.topics_by_domain(cfg)
exports: dict[str, dict] = {}
for d in cfg.domains:
    keys = shared_keys or KeyStore(f"keys-{d.slug}", wiring.keystore_args(cfg, wiring.keystore_alias(cfg, d)))
    domain = SendingDomain(
        d.slug,
        SendingDomainArgs(domain=d, stack=cfg, keystore=keys, certificate_provider=us_east_1, contact_topics=topics.get(d.name, ()), zones=zones),
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
        ds_records[z.name] = Dnssec(f"dnssec-{z.name.replace('.', '-')}", wiring.dnssec_args(cfg, z)).ds_record

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
