"""SendingDomain with Pulumi mocks: what one domain declares, and in what order."""

from __future__ import annotations

import pulumi
import pytest
from pulumi.runtime import rpc

from mailinfra.components.config import parse_config
from mailinfra.components.domain import SendingDomain, SendingDomainArgs
from mailinfra.components.keystore import KeyStore, KeyStoreArgs
from mailinfra.components.relay import RelayArgsError, SesRelayArgs
from mailinfra.components.wiring import static_records
from tests.test_config import stack_raw


def _cfg(stack: str = "prod", region: str | None = None):
    raw, stack_region = stack_raw(stack)
    if region is not None:
        raw["compliance"]["allowedRegions"] = [region]
        raw.pop("reports", None)  # SES receives mail in few regions (af-south-1 is not one): no intake there
    return parse_config(raw, stack=stack, region=region or stack_region)


def _keystore(cfg) -> KeyStore:
    return KeyStore(
        "keys",
        KeyStoreArgs(
            environment=cfg.environment,
            alias_name="t",
            account_id=cfg.account_id,
            region=cfg.region,
            admin_principals=cfg.keys.admins,
            tags=cfg.tags,
        ),
    )


def _domain(cfg, name: str, **kw) -> SendingDomain:
    d = next(x for x in cfg.domains if x.name == name)
    zones = {z.name: (z.provider, z.zone_id) for z in cfg.zones}
    return SendingDomain(d.slug, SendingDomainArgs(domain=d, stack=cfg, keystore=_keystore(cfg), zones=zones, **kw))


def _settled(dom: SendingDomain) -> pulumi.Output:
    """An Output that resolves once every DNS record of the domain is registered."""
    names = list(dom.records.names.values())
    if dom.dkim_records is not None:
        names += list(dom.dkim_records.names.values())
    return pulumi.Output.all(dom.smtp_secret_arn, dom.relay.identity_arn, *names)


def test_static_records_cover_every_standard():
    cfg = _cfg()
    d = next(x for x in cfg.domains if x.name == "mail.example.com")
    records, sts = static_records(d, cfg.region)
    purposes = {r.purpose for r in records}
    assert purposes == {"spf", "dmarc", "mta-sts", "tls-rpt", "bimi", "mail-from-mx", "mail-from-spf"}
    assert sts is not None and f"id={sts.policy_id}" in next(r for r in records if r.purpose == "mta-sts").values[0]
    assert "mode: enforce" in sts.policy_text  # prod preset


@pulumi.runtime.test
def test_easy_dkim_domain(pulumi_mocks):
    cfg = _cfg()
    dom = _domain(cfg, "mail.example.com", contact_topics=("newsletter",))

    def check(_):
        recs = [r for r in pulumi_mocks.of_type("aws:route53/record:Record") if "records" in r.name]
        cnames = [r for r in recs if r.inputs["type"] == "CNAME"]
        assert len(cnames) == 3
        assert all(r.inputs["records"][0].endswith(".dkim.amazonses.com") for r in cnames)
        assert all(r.inputs["name"].endswith("._domainkey.mail.example.com") for r in cnames)
        (ident,) = pulumi_mocks.of_type("aws:sesv2/emailIdentity:EmailIdentity")
        assert ident.inputs["dkimSigningAttributes"]["nextSigningKeyLength"] == "RSA_2048_BIT"
        (cs,) = pulumi_mocks.of_type("aws:sesv2/configurationSet:ConfigurationSet")
        assert ident.inputs["configurationSetName"] == cs.inputs["configurationSetName"]
        assert cs.inputs["deliveryOptions"]["tlsPolicy"] == "REQUIRE"
        (mf,) = pulumi_mocks.of_type("aws:sesv2/emailIdentityMailFromAttributes:EmailIdentityMailFromAttributes")
        assert mf.inputs["mailFromDomain"] == "bounce.mail.example.com"
        names = {(r.inputs["name"], r.inputs["type"]) for r in recs}
        assert ("bounce.mail.example.com", "MX") in names and ("bounce.mail.example.com", "TXT") in names
        assert len(pulumi_mocks.of_type("aws:sesv2/contactList:ContactList")) == 1
        # the report destination in example.org is handed back for that zone
        assert [(z, r.name) for z, r in dom.foreign_records] == [("example.org", "mail.example.com._report._dmarc.example.org")]

    return _settled(dom).apply(check)


@pulumi.runtime.test
def test_byodkim_identity_waits_for_the_selector_record(pulumi_mocks):
    cfg = _cfg()
    dom = _domain(cfg, "news.example.org")

    def check(_):
        (txt,) = [
            r
            for r in pulumi_mocks.of_type("cloudflare:index/dnsRecord:DnsRecord")
            if r.name.endswith("-dkim-records-dkim-s2026a")
        ]
        assert txt.inputs["name"] == "s2026a._domainkey.news.example.org"
        (ident,) = pulumi_mocks.of_type("aws:sesv2/emailIdentity:EmailIdentity")
        assert txt.urn in ident.dependencies
        attrs = ident.inputs["dkimSigningAttributes"]
        assert rpc.is_rpc_secret(attrs)  # it carries the private key: the whole object is secret
        assert rpc.unwrap_rpc_secret(attrs)["domainSigningSelector"] == "s2026a"
        assert not any(r.inputs["type"] == "CNAME" for r in pulumi_mocks.of_type("cloudflare:index/dnsRecord:DnsRecord"))
        assert pulumi_mocks.of_type("aws:sesv2/contactList:ContactList") == []  # topics given to one domain only

    return _settled(dom).apply(check)


@pulumi.runtime.test
def test_smtp_key_rotation_settings_reach_the_access_keys(pulumi_mocks):
    raw, region = stack_raw("prod")
    raw["domains"][0]["smtp"] = {"keyGenerations": ["1", "2"], "activeKey": "2"}
    cfg = parse_config(raw, stack="prod", region=region)
    dom = _domain(cfg, "mail.example.com")

    def check(_):
        keys = pulumi_mocks.of_type("aws:iam/accessKey:AccessKey")
        assert len(keys) == 2

    return _settled(dom).apply(check)


@pulumi.runtime.test
def test_easy_dkim_cnames_use_the_regional_dkim_domain(pulumi_mocks):
    # af-south-1 is one of the SES regions whose Easy DKIM domain is dkim.<region>.amazonses.com
    # (AWS General Reference, SES endpoints): the CNAMEs must point there, not at dkim.amazonses.com.
    cfg = _cfg(region="af-south-1")
    dom = _domain(cfg, "mail.example.com")

    def check(_):
        (ident,) = pulumi_mocks.of_type("aws:sesv2/emailIdentity:EmailIdentity")
        ident_tokens = [f"{''.join(c for c in ident.name if c.isalnum())}tok{i}" for i in range(1, 4)]
        cnames = sorted(
            (r.inputs["name"], r.inputs["records"][0])
            for r in pulumi_mocks.of_type("aws:route53/record:Record")
            if r.inputs.get("type") == "CNAME" and "._domainkey." in r.inputs["name"]
        )
        assert cnames == sorted((f"{t}._domainkey.mail.example.com", f"{t}.dkim.af-south-1.amazonses.com") for t in ident_tokens)

    return _settled(dom).apply(check)


def test_a_region_without_ses_is_refused_by_the_relay_args():
    # ap-east-1 is a valid AWS region where SES is not offered: no Easy DKIM domain to point at.
    with pytest.raises(RelayArgsError) as err:
        SesRelayArgs(domain="example.com", region="ap-east-1", kms_key_arn="arn:aws:kms:ap-east-1:123456789012:key/k")
    assert str(err.value) == (
        "region: Amazon SES is not offered in this region (AWS General Reference, SES endpoints) (got 'ap-east-1')"
    )
