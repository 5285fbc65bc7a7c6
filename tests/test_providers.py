"""DNS provider adapters: both directions for Route53 and Cloudflare, and nothing else."""

from __future__ import annotations

import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from cryptography.hazmat.primitives.asymmetric import rsa

from mailinfra.components import records as rec
from mailinfra.components.dns import AuthRecordsArgs, AuthRecordsError
from mailinfra.dnsplan import declared_records
from mailinfra.zone import zone_files
from mailinfra.policies.mailinfra_policy import providers
from mailinfra.policies.mailinfra_policy.standards import txt
from mailinfra.policies.mailinfra_policy.standards._common import ZoneSet, in_zone, zone_for
from mailinfra.policies.mailinfra_policy.standards.errors import InputError

CF = providers.adapter("cloudflare")
R53 = providers.adapter("route53")


def _dkim() -> rec.DnsRecord:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return rec.dkim_record("example.org", "s1", key.public_key(), "rsa")


def test_unknown_provider_is_an_error_never_cloudflare() -> None:
    with pytest.raises(providers.UnknownProviderError) as err:
        providers.adapter("gandi")
    assert str(err.value) == "must be one of route53, cloudflare (got 'gandi')"
    assert isinstance(err.value, InputError)  # exit 2, one line
    with pytest.raises(providers.UnknownProviderError, match="no DNS provider adapter for resource type"):
        providers.adapter_for_type("gcp:dns/recordSet:RecordSet")
    with pytest.raises(providers.UnknownProviderError):
        providers.read("cloudflare:index/record:Record", {"name": "x.example.org", "type": "TXT", "content": "x"})
    with pytest.raises(AuthRecordsError, match=r"provider: must be one of route53, cloudflare \(got 'Cloudflare'\)"):
        AuthRecordsArgs(provider="Cloudflare", zone_name="example.com", zone_id="Z1")


def test_adapters_name_their_resource_types() -> None:
    assert providers.NAMES == ("route53", "cloudflare")
    assert providers.adapter_for_type("aws:route53/record:Record") is R53
    assert providers.adapter_for_type("cloudflare:index/dnsRecord:DnsRecord") is CF
    assert set(providers.ZONE_TYPES) == {"aws:route53/zone:Zone", "cloudflare:index/zone:Zone"}


def test_cloudflare_txt_content_is_quoted_255_byte_strings() -> None:
    """Defect 9: Cloudflare documents TXT content as quoted RFC 1035 character-strings of at
    most 255 bytes (longer ones split automatically); the old form was the raw value."""
    record = _dkim()
    (value,) = record.values
    inputs = CF.resource_inputs(record, "zone-1", comment="mailinfra dkim")
    content = inputs["content"]
    assert content == f'"{value[:255]}" "{value[255:]}"'
    # what Cloudflare serves: exactly these character-strings (content is RFC 1035 text)
    served = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, content)
    assert [s.decode() for s in served.strings] == [value[:255], value[255:]]
    assert inputs == {
        "zone_id": "zone-1",
        "name": "s1._domainkey.example.org",
        "type": "TXT",
        "ttl": 3600,
        "content": content,
        "priority": None,
        "proxied": False,
        "comment": "mailinfra dkim",
    }
    # read back: the quoted form and a raw value both give the logical value
    for form in (content, value, f'"{value}"'):
        read = CF.read({"name": "s1._domainkey.example.org", "type": "TXT", "content": form, "ttl": 1})
        assert read.values == (value,) and read.ttl == 300  # ttl 1: Cloudflare's automatic
    assert CF.check_txt(content, "s1._domainkey.example.org") == []
    assert CF.check_txt(value, "s1._domainkey.example.org") == []  # raw: Cloudflare splits it


def test_cloudflare_quotes_and_backslashes_survive_the_round_trip() -> None:
    value = 'v=spf1 exp=%{d}."q" -all \\ end'
    content = txt.cloudflare_txt(value)
    assert content == '"v=spf1 exp=%{d}.\\"q\\" -all \\\\ end"'
    assert CF.read({"name": "a.example.org", "type": "TXT", "content": content}).values == (value,)
    served = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, content)
    assert b"".join(served.strings).decode() == value


def test_route53_both_directions() -> None:
    record = _dkim()
    (value,) = record.values
    inputs = R53.resource_inputs(record, "Z1")
    assert inputs == {
        "zone_id": "Z1",
        "name": "s1._domainkey.example.org",
        "type": "TXT",
        "ttl": 3600,
        "records": [value[:255] + '""' + value[255:]],
        "allow_overwrite": False,
    }
    assert R53.read({"name": "s1._domainkey.example.org", "type": "TXT", "records": inputs["records"]}).values == (value,)
    quoted = f'"{value[:255]}" "{value[255:]}"'  # the API's fully quoted form
    assert R53.read({"name": "s1._domainkey.example.org.", "type": "txt", "records": [quoted]}).values == (value,)
    assert R53.check_txt(value) != [] and R53.check_txt(inputs["records"][0]) == []


def test_mx_and_unknowns_in_both_directions() -> None:
    mx, _ = rec.mail_from_records("bounce.example.org", "eu-west-1")
    cf = CF.resource_inputs(mx, "zone-1")
    assert (cf["content"], cf["priority"]) == ("feedback-smtp.eu-west-1.amazonses.com", 10)
    assert R53.resource_inputs(mx, "Z1")["records"] == ["10 feedback-smtp.eu-west-1.amazonses.com"]
    assert (
        CF.read(
            {"name": "bounce.example.org", "type": "MX", "content": "Feedback-SMTP.eu-west-1.amazonses.com.", "priority": 10}
        ).values
        == mx.values
    )
    assert (
        R53.read({"name": "bounce.example.org", "type": "MX", "records": ["10 feedback-smtp.eu-west-1.amazonses.com."]}).values
        == mx.values
    )
    # a priority only known after deploy makes the value unknown, not "10 host"
    assert (
        CF.read({"name": "b.example.org", "type": "MX", "content": "mx.example.org", "priority": "[unknown]"}).known_values
        is None
    )
    unknown = R53.read({"name": "[unknown]", "type": "TXT", "records": "[unknown]"})
    assert (unknown.name, unknown.values, unknown.known_values) == (None, (None,), None)
    alias = R53.read({"name": "mta-sts.example.com", "type": "A", "aliases": [{"name": "d.cloudfront.net"}]})
    assert alias.values == () and alias.known_values is None
    with pytest.raises(providers.ProviderError, match="Cloudflare takes one per record"):
        CF.resource_inputs(rec.DnsRecord("example.org", "TXT", ("a", "b"), "spf"), "zone-1")


def test_relative_names_and_zone_for() -> None:
    read = CF.read({"name": "@", "type": "TXT", "content": '"v=spf1 -all"'})
    assert read.absolute("example.org") == "example.org"
    assert (
        R53.read({"name": "_dmarc", "type": "TXT", "records": ["v=DMARC1; p=reject"]}).absolute("example.com")
        == "_dmarc.example.com"
    )
    assert zone_for("a.mail.example.com", ["example.com", "mail.example.com", "ample.com"]) == "mail.example.com"
    assert zone_for("notexample.com", ["example.com"]) is None


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(["a", "b", "mail", "example", "com", "Example"]), min_size=1, max_size=4),
    st.lists(st.lists(st.sampled_from(["a", "mail", "example", "com", "COM"]), min_size=1, max_size=3), max_size=6),
)
def test_zone_set_finds_the_longest_zone_holding_the_name(name_labels: list[str], zone_labels: list[list[str]]) -> None:
    name = ".".join(name_labels) + "."
    zones = [".".join(z) for z in zone_labels]
    held = [z.lower() for z in zones if in_zone(name.rstrip(".").lower(), z.lower())]
    assert zone_for(name, ZoneSet(zones)) == (max(held, key=len) if held else None)


def _plan(resources: list[dict]) -> dict:
    return {"stack": "t", "resources": resources, "outputs": {}}


def test_plan_reader_and_zone_export_take_what_cloudflare_serves() -> None:
    """The plan's DNS reader (zone export, verify) reads Cloudflare's quoted form and a raw value alike."""
    record = _dkim()
    (value,) = record.values
    resources = [
        {"urn": "urn:z", "type": "cloudflare:index/zone:Zone", "inputs": {"name": "example.org"}},
        {
            "urn": "urn:a",
            "type": CF.record_type,
            "dependencies": ["urn:z"],
            "inputs": {"name": "s1._domainkey.example.org", "type": "TXT", "content": txt.cloudflare_txt(value), "ttl": 3600},
        },
        {
            "urn": "urn:b",
            "type": CF.record_type,
            "dependencies": ["urn:z"],
            "inputs": {"name": "s2._domainkey", "type": "TXT", "content": value, "ttl": 1},
        },
    ]
    declared = {r.name: r for r in declared_records(_plan(resources))}
    assert declared["s1._domainkey.example.org"].values == (value,)
    assert declared["s2._domainkey.example.org"].values == (value,)
    assert declared["s2._domainkey.example.org"].ttl == 300
    zone = zone_files(_plan(resources))["example.org"]
    assert f's1._domainkey 3600 IN TXT "{value[:255]}" "{value[255:]}"' in zone
