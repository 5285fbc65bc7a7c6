"""The registry of record kinds: one classification for the builders, the pack and verify."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from mailinfra.components import records as rec
from mailinfra.components.dns import AuthRecords, AuthRecordsArgs
from mailinfra.verify.expect import build_expectations
from mailinfra.policies.mailinfra_policy import providers
from mailinfra.policies.mailinfra_policy.dns import record_view
from mailinfra.policies.mailinfra_policy.standards import kinds
from mailinfra.policies.mailinfra_policy.standards._common import zone_for
from mailinfra.policies.mailinfra_policy.standards.errors import InputError

DOMAIN = "mail.example.com"
ZONES = ("example.com", "vendor.net")
# Kinds no builder in components/records.py makes (verify sees them in hand-written programs).
NOT_BUILT = {"mx", "mta-sts-host", "tlsa"}


def _built() -> list[rec.DnsRecord]:
    """One record of every purpose the builders make."""
    dmarc = rec.dmarc_record(DOMAIN, "reject", sp="reject", rua=["mailto:d@example.com", "mailto:d@vendor.net"])
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return [
        rec.spf_record(DOMAIN, includes=["amazonses.com"]),
        rec.dkim_record(DOMAIN, "s1", key.public_key(), "rsa"),
        *rec.easy_dkim_records(DOMAIN, ["tok1", "tok2", "tok3"]),
        dmarc,
        *rec.dmarc_report_auth_records(DOMAIN, dmarc),
        rec.mta_sts(DOMAIN, "enforce", ["mx.example.com"], 86400).record,
        rec.tls_rpt_record(DOMAIN, ["mailto:tls@example.com"]),
        rec.bimi_record(DOMAIN, "default", "https://brand.example.com/bimi/logo.svg", None, dmarc),
        *rec.mail_from_records(f"bounce.{DOMAIN}", "eu-west-1"),
        *rec.null_sender_records("parked.example.com"),
    ]


def test_every_registered_purpose_is_built_or_named_as_not_built() -> None:
    built = {r.purpose for r in _built()}
    assert built <= set(kinds.PURPOSES)
    assert set(kinds.PURPOSES) - built <= NOT_BUILT


def test_builders_and_registry_agree_on_names_and_types() -> None:
    for r in _built():
        kind = kinds.get(r.purpose)
        assert r.type in kind.rtypes, r
        params = kinds.match(r.purpose, r.name)
        assert params is not None, r
        assert kinds.owner_name(r.purpose, **params) == r.name


def test_classify_is_value_sensitive_through_the_standards_selectors() -> None:
    assert kinds.classify("example.com", "TXT", "v=spf1 include:amazonses.com -all") == ("spf", "example.com")
    assert kinds.classify("example.com", "TXT", "v=spf1 -all") == ("null-spf", "example.com")
    assert kinds.classify("example.com", "TXT", "google-site-verification=abc") == (kinds.OTHER, "example.com")
    assert kinds.classify("example.com", "TXT") == (kinds.OTHER, "example.com")  # value unknown: cannot tell
    # one record set with several values: SPF among them
    assert kinds.classify("example.com", "TXT", ["google-site-verification=abc", "v=spf1 -all"])[0] == "null-spf"
    assert kinds.classify("b.example.com", "MX", "10 feedback-smtp.eu-west-1.amazonses.com")[0] == "mail-from-mx"
    assert kinds.classify("example.com", "MX", "10 mx1.example.com") == ("mx", "example.com")
    assert kinds.classify("a.b._domainkey.example.com", "TXT", "v=DKIM1; p=") == ("dkim", "example.com")
    assert kinds.classify("tok._domainkey.example.com", "CNAME", "tok.dkim.amazonses.com")[0] == "easy-dkim"
    assert kinds.classify("example.com._report._dmarc.vendor.net", "TXT", "v=DMARC1") == ("dmarc-report-auth", "vendor.net")
    assert kinds.classify("mta-sts.example.com", "AAAA") == ("mta-sts-host", "example.com")
    assert kinds.classify("_dmarc.example.com.", "txt") == ("dmarc", "example.com")  # trailing dot, case


def test_context_refinements_need_the_record_set() -> None:
    records = [
        ("bounce.example.com", "MX", "10 feedback-smtp.eu-west-1.amazonses.com"),
        ("bounce.example.com", "TXT", "v=spf1 include:amazonses.com -all"),
        ("example.com", "TXT", "v=spf1 include:amazonses.com -all"),
        ("parked.example.com", "TXT", "v=spf1 -all"),
        ("_dmarc.parked.example.com", "TXT", "v=DMARC1; p=reject;"),
        ("_dmarc.example.com", "TXT", "v=DMARC1; p=reject"),
    ]
    assert [p for p, _ in kinds.classify_all(records)] == [
        "mail-from-mx",
        "mail-from-spf",
        "spf",
        "null-spf",
        "null-dmarc",
        "dmarc",
    ]


def test_lookups_and_errors() -> None:
    assert kinds.checks("dmarc") == ("record", "dmarc")
    assert kinds.checks(kinds.OTHER) == ()
    assert kinds.section("dkim") == "domains[].dkim.selectors"
    assert kinds.get("mta-sts").domain_section == "mtaSts"
    assert kinds.get("null-spf").top_section == "nonSendingNames"
    assert {k.purpose for k in kinds.of_type("CNAME")} >= {"easy-dkim", "mta-sts-host"}
    with pytest.raises(kinds.UnknownKindError, match="record purpose 'nope' is not a registered kind") as err:
        kinds.get("nope")
    assert isinstance(err.value, InputError)
    assert kinds.owner_name("bimi", "Example.com.", selector="default") == "default._bimi.example.com"
    with pytest.raises(kinds.UnknownKindError, match="needs"):
        kinds.owner_name("dkim", "example.com")  # no selector


def _json_plan(registered: list[Any]) -> dict[str, Any]:
    return {
        "stack": "test",
        "resources": [
            {"urn": r.urn, "type": r.type, "name": r.name, "inputs": r.inputs, "dependencies": r.dependencies} for r in registered
        ],
        "outputs": {},
    }


@pytest.mark.parametrize("provider", providers.NAMES)
@pulumi.runtime.test
def test_round_trip_component_adapter_policy_and_verify_agree(pulumi_mocks, provider):
    """builders -> AuthRecords (adapter inputs) -> adapter read -> classify: the purpose the
    builder gave, in the component's records, the pack's reader and verify's expectations."""
    built = _built()
    want = {(r.name, r.type): (r.purpose, r.values) for r in built}
    by_zone: dict[str, list[rec.DnsRecord]] = {}
    for r in built:
        by_zone.setdefault(zone_for(r.name, ZONES) or "", []).append(r)
    comps = [
        AuthRecords(f"z{i}", AuthRecordsArgs(provider=provider, zone_name=z, zone_id=f"Z{i}", records=tuple(rs)))
        for i, (z, rs) in enumerate(sorted(by_zone.items()))
    ]
    adapter = providers.adapter(provider)

    def check(_: Any) -> None:
        registered = pulumi_mocks.of_type(adapter.record_type)
        assert len(registered) == len(built)
        # the adapter reading its own inputs, then the registry (with the set's context)
        read = [adapter.read(r.inputs) for r in registered]
        got = kinds.classify_all((x.name or "", x.type or "", x.values) for x in read)
        assert {(x.name, x.type): (p, x.known_values) for x, (p, _) in zip(read, got, strict=True)} == want
        # the policy pack's reader
        views = [record_view(r.type, r.inputs) for r in registered]
        got = kinds.classify_all((v.name or "", v.type or "", v.texts) for v in views)
        assert {(v.name, v.type): p for v, (p, _) in zip(views, got, strict=True)} == {k: p for k, (p, _) in want.items()}
        # verify's expectations, from the JSON form of the plan
        exp = build_expectations(_json_plan(registered))
        assert {(e.name, e.type): (e.purpose, e.values) for e in exp.records} == want

    return pulumi.Output.all(*[n for c in comps for n in c.names.values()]).apply(check)
