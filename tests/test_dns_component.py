"""AuthRecords with Pulumi mocks: Route53 and Cloudflare forms, names, no duplicates."""

from __future__ import annotations

import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pulumi
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from mailinfra.components import records as rec
from mailinfra.components.dns import AuthRecords, AuthRecordsArgs, AuthRecordsError, DeferredRecord
from mailinfra.policies.mailinfra_policy.standards import txt


def _dkim_2048() -> rec.DnsRecord:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return rec.dkim_record("mail.example.com", "s1", key.public_key(), "rsa")


def _records() -> tuple[rec.DnsRecord, ...]:
    dmarc = rec.dmarc_record("mail.example.com", "reject", rua=["mailto:d@example.com"])
    return (
        rec.spf_record("mail.example.com", includes=["amazonses.com"]),
        dmarc,
        _dkim_2048(),
        rec.tls_rpt_record("mail.example.com", ["mailto:tls@example.com"]),
        *rec.mail_from_records("bounce.mail.example.com", "eu-west-1"),
    )


@pulumi.runtime.test
def test_route53_records_split_long_txt(pulumi_mocks):
    comp = AuthRecords("mail", AuthRecordsArgs(provider="route53", zone_name="example.com", zone_id="Z123", records=_records()))

    def check(_):
        recs = pulumi_mocks.of_type("aws:route53/record:Record")
        assert len(recs) == 6
        by_name = {(r.inputs["name"], r.inputs["type"]): r for r in recs}
        dkim = by_name[("s1._domainkey.mail.example.com", "TXT")]
        (value,) = dkim.inputs["records"]
        assert '""' in value  # 2048-bit key: split for Route53
        parts = txt.parse_route53_txt(value)
        assert len(parts) == 2 and all(len(p.encode()) <= 255 for p in parts)
        dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, txt.to_rdata_text(txt.join_txt(parts)))
        mx = by_name[("bounce.mail.example.com", "MX")]
        assert mx.inputs["records"] == ["10 feedback-smtp.eu-west-1.amazonses.com"]
        assert all(r.inputs["zoneId"] == "Z123" and r.inputs["allowOverwrite"] is False for r in recs)
        # children derive their names from the component's and are parented to it
        assert all(r.name.startswith("mail-") for r in recs)
        assert all(r.parent.endswith("mailinfra:dns:AuthRecords::mail") for r in recs)
        assert by_name[("mail.example.com", "TXT")].name == "mail-spf-mail"

    return pulumi.Output.all(*comp.names.values()).apply(check)


@pulumi.runtime.test
def test_cloudflare_records_take_one_content(pulumi_mocks):
    comp = AuthRecords("news", AuthRecordsArgs(provider="cloudflare", zone_name="example.com", zone_id="abc", records=_records()))

    def check(_):
        recs = pulumi_mocks.of_type("cloudflare:index/dnsRecord:DnsRecord")
        assert len(recs) == 6
        dkim = next(r for r in recs if r.inputs["name"].startswith("s1._domainkey"))
        assert '""' not in dkim.inputs["content"] and len(dkim.inputs["content"]) > 255
        mx = next(r for r in recs if r.inputs["type"] == "MX")
        assert mx.inputs["content"] == "feedback-smtp.eu-west-1.amazonses.com" and mx.inputs["priority"] == 10
        assert all(r.inputs["proxied"] is False and r.inputs["ttl"] == 3600 for r in recs)

    return pulumi.Output.all(*comp.names.values()).apply(check)


@pulumi.runtime.test
def test_deferred_records_are_declared_up_front(pulumi_mocks):
    token = pulumi.Output.from_input("tok1")
    deferred = DeferredRecord(
        key="easy-dkim-1",
        name=pulumi.Output.concat(token, "._domainkey.mail.example.com"),
        type="CNAME",
        values=token.apply(lambda t: [f"{t}.dkim.amazonses.com"]),
        purpose="easy-dkim",
    )
    comp = AuthRecords("m", AuthRecordsArgs(provider="route53", zone_name="example.com", zone_id="Z1", records=(deferred,)))

    def check(_):
        (r,) = pulumi_mocks.of_type("aws:route53/record:Record")
        assert r.name == "m-easy-dkim-1"
        assert r.inputs["name"] == "tok1._domainkey.mail.example.com"
        assert r.inputs["records"] == ["tok1.dkim.amazonses.com"]

    return comp.names["easy-dkim-1"].apply(check)


def test_two_spf_records_at_one_name_are_refused():
    spf1 = rec.spf_record("mail.example.com", includes=["amazonses.com"])
    spf2 = rec.spf_record("mail.example.com", includes=["_spf.google.com"])
    with pytest.raises(AuthRecordsError, match=r"two TXT records at mail\.example\.com \(spf and spf\)"):
        AuthRecordsArgs(provider="route53", zone_name="example.com", zone_id="Z1", records=(spf1, spf2))


def test_record_outside_zone_and_bad_provider():
    with pytest.raises(AuthRecordsError, match=r"mail\.example\.com is outside the zone example\.org"):
        AuthRecordsArgs(provider="route53", zone_name="example.org", zone_id="Z1", records=(rec.spf_record("mail.example.com"),))
    with pytest.raises(AuthRecordsError, match=r"provider: must be one of route53, cloudflare \(got 'gandi'\)"):
        AuthRecordsArgs(provider="gandi", zone_name="example.com", zone_id="Z1")
