"""MailStack: the whole sending infrastructure of one stack, composed from its config.

- the KeyStore (one per stack, or one per domain when ``keys.perDomain``);
- the Firewall (SES SMTP endpoint rules, Cloudflare zone TLS settings);
- the bounded-retention log group of the SES events;
- the shared configuration set and event topic of the domains with ``configurationSet:
  shared`` (SharedConfigurationSet); the others keep their own;
- one SendingDomain per domain;
- SMTP credentials per sending system (``smtp.system``), shared by its domains; a domain
  without one keeps its own (SendingDomain's SmtpAccess);
- the records this stack owns in its zones for others: DMARC report authorisations
  handed back by the domains and the null sender records (SPF ``-all``, DMARC reject)
  of ``nonSendingNames``, one AuthRecords per zone;
- DNSSEC per zone that asks for it;
- the feedback loop: SesEvents (every SES event to an encrypted queue and archive),
  ReputationAlarms (bounce / complaint rates) and, with ``reports.enabled``, the
  ReportIntake (DMARC and TLS-RPT reports received into an encrypted bucket).

In a sharded fleet (``mailinfra:fleet``, components/fleet.py) the core stack holds the
key store, the firewall, the security alerts, audit trail, detection, posture and
operators, the non-sending names' records and DNSSEC; a shard holds its domains, their
SMTP systems, shared configuration set and feedback loop, and reads the core's key,
alarm topic and SMTP endpoint through a StackReference.

``__main__.py`` loads the config, builds one MailStack and exports ``exports``.
MailStack is the program's root component: its children keep the stack-wide names
(``keys``, ``firewall``, ``ses-events``, the domain slugs), so the physical names a
deployment already has do not change; only the URNs carry the parent's type.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from mailinfra.policies.mailinfra_policy.standards._common import zone_for

from . import wiring
from .config import StackConfig
from .alerts import SecurityAlerts
from .audit import AuditTrail
from .detection import Detection
from .dns import AuthRecords, AuthRecordsArgs
from .dnssec import Dnssec
from .events import SesEvents
from .intake import ReportIntake
from .domain import SendingDomain, SendingDomainArgs
from .firewall import Firewall
from .fleet import CoreKeys, CoreReference
from .keystore import KeyStore
from .mtasts_hosting import MtaStsTenancy
from .operators import Operators
from .posture import Posture
from .records import DnsRecord, null_sender_records
from .relay import SharedConfigurationSet
from .reputation import ReputationAlarms
from .smtp import SmtpAccess

__all__ = ["TYPE", "MailStack"]

TYPE = "mailinfra:stack:MailStack"


class MailStack(pulumi.ComponentResource):
    """Every resource of the stack; ``exports`` are the stack outputs (``mailinfra verify`` reads them)."""

    exports: dict[str, Any]

    def __init__(self, name: str, cfg: StackConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        wiring.preflight(cfg)  # every component's arguments are valid before the first resource
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = cfg.tags

        role = cfg.fleet.role if cfg.fleet is not None else None
        core_ref = CoreReference(cfg.fleet.core, opts=child) if cfg.fleet is not None and cfg.fleet.core else None
        shared_keys: KeyStore | CoreKeys | None
        if core_ref is not None:  # a shard: its secrets under the core's key
            shared_keys = CoreKeys("keys", wiring.keystore_args(cfg, wiring.keystore_alias(cfg, None)), core_ref, opts=child)
        elif cfg.keys.per_domain:
            shared_keys = None
        else:
            shared_keys = KeyStore("keys", wiring.keystore_args(cfg, wiring.keystore_alias(cfg, None), audit=True), opts=child)

        # MTA-STS for Route53 domains through one shared multi-tenant distribution
        # (mtaStsHosting: shared): declared here, or in a fleet's core and read by its shards.
        tenancy_args = wiring.tenancy_args(cfg)
        tenancy = MtaStsTenancy("mta-sts", tenancy_args, opts=child) if tenancy_args is not None else None
        tenancy_ref = tenancy.ref if tenancy is not None else None
        if core_ref is not None and cfg.mta_sts_hosting == "shared":
            tenancy_ref = core_ref.mta_sts_tenancy()

        # CloudFront only takes ACM certificates from us-east-1 (MTA-STS hosting on Route53).
        us_east_1 = None
        if any(d.provider == "route53" and d.mta_sts.enabled for d in cfg.domains):
            us_east_1 = aws.Provider(
                "aws-us-east-1", region="us-east-1", default_tags=aws.ProviderDefaultTagsArgs(tags=tags), opts=child
            )

        # Stack-wide: the SES SMTP endpoint's network rules and Cloudflare zone TLS settings
        # (a shard uses the core's endpoint).
        firewall = Firewall("firewall", wiring.firewall_args(cfg), opts=child) if core_ref is None else None
        vpc_endpoint_id = core_ref.vpc_endpoint_id if core_ref is not None else firewall.vpc_endpoint_id if firewall else None

        # Bounded retention for the sending infrastructure's logs (compliance); a fleet core sends nothing.
        ses_log = (
            None
            if role == "core"
            else aws.cloudwatch.LogGroup(
                "ses-events",
                name=f"/mailinfra/{pulumi.get_stack()}/ses-events",
                retention_in_days=cfg.compliance.log_retention_days,
                region=cfg.region,
                tags=tags,
                opts=child,
            )
        )

        # Stack-wide resources (the feedback loop, the shared configuration set, sending systems'
        # SMTP credentials) are under the stack's key; one is made for them when keys are per domain.
        feedback_keys = shared_keys or KeyStore(
            "keys", wiring.keystore_args(cfg, wiring.keystore_alias(cfg, None), audit=True), opts=child
        )
        shared_args = wiring.shared_configuration_set_args(cfg, kms_key_arn=feedback_keys.key_arn)
        shared_set = SharedConfigurationSet(wiring.SHARED_RELAY, shared_args, opts=child) if shared_args is not None else None

        zones = {z.name: (z.provider, z.zone_id) for z in cfg.zones}
        foreign: dict[str, list[DnsRecord]] = {z.name: [] for z in cfg.zones}
        topics = wiring.topics_by_domain(cfg)
        domains: dict[str, dict[str, Any]] = {}
        built: dict[str, SendingDomain] = {}
        for d in cfg.domains:
            keys = shared_keys or KeyStore(f"keys-{d.slug}", wiring.keystore_args(cfg, wiring.keystore_alias(cfg, d)), opts=child)
            domain = SendingDomain(
                d.slug,
                SendingDomainArgs(
                    domain=d,
                    stack=cfg,
                    keystore=keys,
                    certificate_provider=us_east_1,
                    contact_topics=topics.get(d.name, ()),
                    zones=zones,
                    shared_configuration_set=shared_set,
                    smtp_source_vpce=vpc_endpoint_id,
                    mta_sts_tenancy=tenancy_ref,
                ),
                opts=child,
            )
            built[d.name] = domain
            for zone_name, record in domain.foreign_records:
                foreign[zone_name].append(record)
            domains[d.name] = {
                "provider": d.provider,
                "zone": d.zone.name,
                "records": domain.published,
                "smtpEndpoint": domain.smtp_endpoint,
                "smtpSecretArn": domain.smtp_secret_arn,
                "dkimSecretArns": domain.dkim_secret_arns,
                "configurationSet": domain.relay.configuration_set_name,
                "mtaStsPolicyUrl": domain.mta_sts.policy_url if domain.mta_sts else None,
                # creation times (`mailinfra verify --outputs` reports keys older than keyMaxAgeDays):
                # SMTP access keys by generation; BYODKIM keys are generated when their selector is published
                "keyCreated": {
                    "smtp": domain.smtp.key_created if domain.smtp else {},  # a system's: set below
                    "dkim": {s.name: s.published.isoformat() for s in d.dkim.selectors if s.published is not None}
                    if d.dkim.mode == "byodkim"
                    else {},
                },
            }

        # The feedback loop (SES events queued and archived, reputation alarms, the report
        # intake) is stack-wide, notifying through the key store's encrypted alarm topic.
        # SMTP credentials per sending system (domains with smtp.system), under the stack's key.
        relays = {d.name: built[d.name].relay for d in cfg.domains}
        for system in wiring.smtp_systems(cfg):
            access = SmtpAccess(
                system.name,
                wiring.system_smtp_args(
                    system,
                    cfg,
                    identity_arns={n: r.identity_arn for n, r in relays.items()},
                    configuration_set_arns={n: r.configuration_set_arn for n, r in relays.items()},
                    secret_factory=lambda n, v, desc: feedback_keys.secret(n, v, desc).arn,
                    source_vpce=vpc_endpoint_id,
                ),
                opts=child,
            )
            for member in system.domains:
                domains[member.name]["smtpSecretArn"] = access.secret_arn
                domains[member.name]["keyCreated"]["smtp"] = access.key_created
        events = intake = None
        if ses_log is not None:
            sets = wiring.configuration_sets(cfg, {name: info["configurationSet"] for name, info in domains.items()})
            events = SesEvents(
                "events",
                wiring.events_args(
                    cfg,
                    kms_key_arn=feedback_keys.key_arn,
                    configuration_sets=sets,
                    log_group_name=ses_log.name,
                    alarm_topic_arn=feedback_keys.topic_arn,
                ),
                opts=child,
            )
            ReputationAlarms(
                "reputation",
                wiring.reputation_args(cfg, configuration_sets=sets, alarm_topic_arn=feedback_keys.topic_arn),
                opts=child,
            )
            intake_args = wiring.intake_args(cfg, kms_key_arn=feedback_keys.key_arn, configuration_set_name=sets[0][1])
            intake = ReportIntake("reports", intake_args, opts=child) if intake_args is not None else None

        # Watching the account: the audit trail, intrusion detection, the continuous audit and
        # MFA for operators, all notifying through one encrypted security topic (a fleet's core).
        stack = pulumi.get_stack()
        alerts = trail = detection = None
        if role != "shard":
            alerts = SecurityAlerts("security-alerts", wiring.alerts_args(cfg, kms_key_arn=feedback_keys.key_arn), opts=child)
            watched = ([events.archive_bucket] if events is not None else []) + (
                [intake.bucket_name] if intake is not None else []
            )
            trail_args = wiring.audit_args(
                cfg,
                stack,
                kms_key_arn=feedback_keys.key_arn,
                alarm_topic_arn=alerts.topic_arn,
                data_event_buckets=tuple(pulumi.Output.concat("arn:aws:s3:::", b) for b in watched),
            )
            trail = AuditTrail("audit", trail_args, opts=child) if trail_args is not None else None
            detection = Detection("detection", wiring.detection_args(cfg, stack), alerts, opts=child)
            posture_args = wiring.posture_args(
                cfg, stack, bucket_name=trail.bucket_name if trail else None, kms_key_arn=feedback_keys.key_arn
            )
            if posture_args is not None:
                Posture("posture", posture_args, alerts, opts=child)
            operators_args = wiring.operators_args(cfg, stack, kms_key_arn=feedback_keys.key_arn)
            if operators_args is not None:
                Operators("operators", operators_args, opts=child)
            alerts.seal()

        for nonsending in cfg.non_sending_names:
            zone = zone_for(nonsending, zones)
            if zone is None:  # config guarantees a zone; never publish outside the stack's zones
                raise ValueError(f"non-sending name {nonsending!r} is in no zone of this stack")
            foreign[zone].extend(null_sender_records(nonsending))

        ds_records: dict[str, pulumi.Output[str]] = {}
        for z in cfg.zones:
            slug = z.name.replace(".", "-")
            if foreign[z.name]:
                AuthRecords(
                    f"zone-{slug}",
                    AuthRecordsArgs(
                        provider=z.provider, zone_name=z.name, zone_id=z.zone_id, records=tuple(foreign[z.name]), tags=tags
                    ),
                    opts=child,
                )
            if z.dnssec:
                ds_records[z.name] = Dnssec(f"dnssec-{slug}", wiring.dnssec_args(cfg, z), opts=child).ds_record

        self.keystore = shared_keys
        self.firewall = firewall
        self.exports = {
            "environment": cfg.environment,
            "zones": {z.name: {"provider": z.provider, "zoneId": z.zone_id} for z in cfg.zones},
            "domains": domains,
            "dsRecords": ds_records,
            "senderIps": list(cfg.relay.sender_ips),  # checked by `mailinfra verify` (SPF pass)
            "heloName": cfg.relay.helo_name,  # `mailinfra verify`: FCrDNS of senderIps must give it
            "dnsbls": list(cfg.relay.dnsbls),  # `mailinfra verify`: senderIps must be listed in none
        }
        if isinstance(shared_keys, KeyStore):
            self.exports["keyAlias"] = shared_keys.alias_name
        if shared_keys is not None:
            self.exports["keyAlarmTopicArn"] = shared_keys.topic_arn
        if role == "core":  # what the shards read (fleet.CORE_OUTPUTS)
            self.exports["keyArn"] = feedback_keys.key_arn
        if tenancy is not None:  # a fleet's shards read these (CoreReference.mta_sts_tenancy)
            self.exports.update(
                {
                    "mtaStsBucket": tenancy.bucket_name,
                    "mtaStsDistributionId": tenancy.distribution_id,
                    "mtaStsConnectionGroupId": tenancy.connection_group_id,
                    "mtaStsRoutingEndpoint": tenancy.routing_endpoint,
                }
            )
        if core_ref is not None:
            self.exports["fleetCore"] = core_ref.name
        if events is not None:
            self.exports["sesEvents"] = {"queueUrl": events.queue_url, "archiveBucket": events.archive_bucket}
        if intake is not None and cfg.reports is not None:
            self.exports["reports"] = {
                "domain": cfg.reports.domain,
                "bucket": intake.bucket_name,
                "dmarcAddress": cfg.reports.dmarc_address,
                "tlsRptAddress": cfg.reports.tls_rpt_address,
                "records": intake.published,
            }
        if firewall is not None and firewall.vpc_endpoint_id is not None:
            self.exports["smtpVpcEndpointId"] = firewall.vpc_endpoint_id
        if alerts is not None and detection is not None:
            self.exports["audit"] = {
                "trailArn": trail.trail_arn if trail else cfg.audit.organization_trail_arn,
                "bucket": trail.bucket_name if trail else None,
                "securityTopicArn": alerts.topic_arn,
                "guardDutyDetectorId": detection.detector_id,
            }
        self.exports["keyMaxAgeDays"] = cfg.keys.max_age_days  # `mailinfra verify --outputs`: keys past or near it
        self.register_outputs(self.exports)
