"""DANE for MX hosts (RFC 7672) against real parts: Knot serving a zone signed here with
dnspython (``dns.dnssec.sign_zone``), a trust anchor file written from its key, and
aiosmtpd MX hosts with STARTTLS and certificates made with cryptography.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from typing import Any

import dns.dnssec
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.zone
import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from mailinfra.verify import Report, VerifyInputError, VerifyOptions, run_verify
from mailinfra.verify.cli import verify as verify_cmd
from mailinfra.policies.mailinfra_policy.standards import kinds
from mailinfra.policies.mailinfra_policy.standards import tlsa as tlsa_std

from .conftest import DOMAIN, Pki, World, free_port, make_world, server_context

MX = f"mx1.{DOMAIN}"
TLSA_OWNER = "_25._tcp.mx1"
TLSA_NAME = f"_25._tcp.{MX}"


def der(pem_path: str) -> bytes:
    with open(pem_path, "rb") as f:
        return x509.load_pem_x509_certificate(f.read()).public_bytes(Encoding.DER)


class ZoneKey:
    """A KSK/ZSK in one (ECDSA P-256), signing whole zones the way a signer would."""

    def __init__(self) -> None:
        self.private = ec.generate_private_key(ec.SECP256R1())
        self.dnskey = dns.dnssec.make_dnskey(self.private.public_key(), "ECDSAP256SHA256", flags=257)

    def ds(self, origin: str) -> str:
        return f"{origin}. 3600 IN DS {dns.dnssec.make_ds(origin + '.', self.dnskey, 'SHA256').to_text()}\n"

    def sign(self, text: str, origin: str, *, extra: list[str] = ()) -> str:  # type: ignore[assignment]
        zone = dns.zone.from_text(text + "".join(extra), origin=origin + ".", relativize=False, check_origin=True)
        now = dt.datetime.now(dt.timezone.utc)
        dns.dnssec.sign_zone(
            zone,
            keys=[(self.private, self.dnskey)],
            inception=now - dt.timedelta(hours=1),
            expiration=now + dt.timedelta(days=7),
        )
        return zone.to_text(relativize=False)


def tamper(signed_text: str, owner: str, rtype: str, old: str, new: str) -> str:
    """Change the rdata of one signed RRset, leaving its RRSIG as it was (a forged answer)."""
    out = []
    for line in signed_text.splitlines():
        fields = line.split()
        if len(fields) > 3 and fields[0].rstrip(".") == owner and fields[3] == rtype:
            line = line.replace(old, new)
        out.append(line)
    return "\n".join(out) + "\n"


@pytest.fixture(scope="module")
def chain_smtp(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, int]]:
    """MX hosts that send their chain (leaf + test CA): DANE-TA needs the issuer on the wire."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Sink

    d = tmp_path_factory.mktemp("chain")
    ports: dict[str, int] = {}
    controllers = []
    for label, cert, key in (("good", pki.good_cert, pki.good_key), ("expired", pki.expired_cert, pki.expired_key)):
        chain = d / f"{label}-chain.pem"
        with open(cert, "rb") as leaf, open(pki.ca_file, "rb") as ca:
            chain.write_bytes(leaf.read() + ca.read())
        port = free_port()
        c = Controller(
            Sink(),
            hostname="127.0.0.1",
            port=port,
            server_hostname=MX,
            tls_context=server_context(str(chain), key),
            require_starttls=True,
        )
        c.start()
        controllers.append(c)
        ports[label] = port
    yield ports
    for c in controllers:
        c.stop()


@pytest.fixture
def dane(knot: Any, pki: Pki, smtp_servers: Any, tmp_path: Any) -> Any:
    """``dane(world, key=ZoneKey|None, anchor=ZoneKey|None, **options) -> Report``: serve the
    world's zones (example.com signed with ``key``), write ``anchor``'s DS as the trust anchor."""

    def go(
        world: World,
        *,
        key: ZoneKey | None = None,
        anchor: ZoneKey | None = None,
        edit: Any = None,
        zones: dict[str, str] | None = None,
        plan: dict[str, Any] | None = None,
        **kw: Any,
    ) -> Report:
        files = world.zone_files()
        if key is not None:
            files[DOMAIN] = key.sign(files[DOMAIN], DOMAIN)
        if edit is not None:
            files[DOMAIN] = edit(files[DOMAIN])
        files.update(zones or {})
        server = knot(files)
        anchors: tuple[str, ...] = ()
        if anchor is not None:
            path = tmp_path / f"anchor-{len(os.listdir(tmp_path))}.ds"
            path.write_text(anchor.ds(DOMAIN))
            anchors = (str(path),)
        base: dict[str, Any] = {
            "stack": "test",
            "plan_data": plan or world.plan(),
            "nameservers": (server.nameserver,),
            "ca_file": pki.ca_file,
            "smtp": (),
            "smtp_port": smtp_servers.good,
            "trust_anchors": anchors,
            "timeout": 2.0,
            "progress": False,
        }
        base.update(kw)
        report, _ = run_verify(VerifyOptions(**base))
        return report

    return go


def dane_results(report: Report) -> list[Any]:
    return [c for c in report.checks if c.check == "dane"]


def one_dane(report: Report) -> Any:
    found = dane_results(report)
    assert len(found) == 1, report.to_text()
    assert found[0].name == TLSA_NAME
    return found[0]


def with_tlsa(world: World, *rdata: str) -> World:
    for value in rdata:
        world.zones[DOMAIN].append((TLSA_OWNER, "TLSA", value))
    return world


# ----------------------------------------------------------------------------- pass


def test_matching_3_1_1_on_signed_zone_passes(dane, pki):
    key = ZoneKey()
    record = tlsa_std.build_tlsa(der(pki.good_cert))  # 3 1 1
    report = dane(with_tlsa(make_world(pki), record), key=key, anchor=key)
    result = one_dane(report)
    assert result.status == "pass", report.to_text()
    assert "3 1 1 (DANE-EE SPKI SHA2-256) matches" in result.message
    assert f"trust anchor {DOMAIN}" in result.message


def test_dane_ee_ignores_expiry_but_dane_ta_does_not(dane, pki, chain_smtp):
    # RFC 7672 3.1.1: DANE-EE(3) ignores the certificate's dates; 3.1.2: DANE-TA(2) does not
    key = ZoneKey()
    ee = tlsa_std.build_tlsa(der(pki.expired_cert))
    report = dane(with_tlsa(make_world(pki), ee), key=key, anchor=key, smtp_port=chain_smtp["expired"])
    assert one_dane(report).status == "pass", report.to_text()
    ta = tlsa_std.build_tlsa(der(pki.ca_file), usage=2, selector=0, mtype=1)
    report = dane(with_tlsa(make_world(pki), ta), key=key, anchor=key, smtp_port=chain_smtp["expired"])
    result = one_dane(report)
    assert result.status == "fail"
    assert "chain does not verify from it" in result.message and "not valid at validation time" in result.message


def test_dane_ta_2_0_1_matches_the_issuer_in_the_chain(dane, pki, chain_smtp):
    key = ZoneKey()
    ta = tlsa_std.build_tlsa(der(pki.ca_file), usage=2, selector=0, mtype=1)
    report = dane(with_tlsa(make_world(pki), ta), key=key, anchor=key, smtp_port=chain_smtp["good"])
    result = one_dane(report)
    assert result.status == "pass", report.to_text()
    assert "2 0 1 (DANE-TA Cert SHA2-256) matches" in result.message


def test_one_usable_match_passes_beside_an_unusable_record(dane, pki):
    key = ZoneKey()
    good = der(pki.good_cert)
    pkix = tlsa_std.TlsaRecord(1, 1, 1, tlsa_std.association_data(good, 1, 1)).to_text()
    report = dane(with_tlsa(make_world(pki), tlsa_std.build_tlsa(good), pkix), key=key, anchor=key)
    result = one_dane(report)
    assert result.status == "pass" and "unusable for SMTP" in result.message, report.to_text()


# ----------------------------------------------------------------------------- fail


def test_wrong_hash_fails(dane, pki):
    key = ZoneKey()
    wrong = "3 1 1 " + "ab" * 32
    report = dane(with_tlsa(make_world(pki), wrong), key=key, anchor=key)
    result = one_dane(report)
    assert result.status == "fail"
    assert "no usable TLSA record matches the certificate chain presented by mx1.example.com" in result.message
    assert report.exit_code == 1


def test_pkix_ee_usage_1_is_unusable_for_smtp(dane, pki):
    # RFC 7672 3.1.3: PKIX-TA(0) / PKIX-EE(1) records are unusable for SMTP, even when they match
    key = ZoneKey()
    good = der(pki.good_cert)
    pkix = tlsa_std.TlsaRecord(1, 1, 1, tlsa_std.association_data(good, 1, 1)).to_text()
    report = dane(with_tlsa(make_world(pki), pkix), key=key, anchor=key)
    result = one_dane(report)
    assert result.status == "fail"
    assert "usage 1 (PKIX-EE) is unusable for SMTP" in result.message
    assert "no TLSA record is usable for SMTP" in result.message


def test_unsigned_zone_with_trust_anchor_fails(dane, pki):
    key = ZoneKey()
    report = dane(with_tlsa(make_world(pki), tlsa_std.build_tlsa(der(pki.good_cert))), key=None, anchor=key)
    result = one_dane(report)
    assert result.status == "fail"
    assert "not DNSSEC-authenticated" in result.message and "not signed (no RRSIG)" in result.message


def test_forged_tlsa_under_a_valid_signature_fails(dane, pki):
    key = ZoneKey()
    good = tlsa_std.build_tlsa(der(pki.good_cert))
    forged = tlsa_std.build_tlsa(der(pki.expired_cert))  # the attacker's key, signed by nobody
    edit = lambda text: tamper(text, TLSA_NAME, "TLSA", good.split()[-1], forged.split()[-1])  # noqa: E731
    report = dane(with_tlsa(make_world(pki), good), key=key, anchor=key, edit=edit)
    result = one_dane(report)
    assert result.status == "fail"
    assert "signature does not validate" in result.message, result.message


def test_zone_signed_by_a_key_the_anchor_does_not_name_fails(dane, pki):
    report = dane(with_tlsa(make_world(pki), tlsa_std.build_tlsa(der(pki.good_cert))), key=ZoneKey(), anchor=ZoneKey())
    result = one_dane(report)
    assert result.status == "fail"
    assert "no DNSKEY of example.com matches its DS / trust anchor" in result.message


def test_unsigned_mx_rrset_makes_the_tlsa_useless(dane, pki):
    # the MX of example.org is in an unsigned zone: senders never get to the signed TLSA
    key = ZoneKey()
    world = with_tlsa(make_world(pki), tlsa_std.build_tlsa(der(pki.good_cert)))
    world.declared = [d for d in world.declared if not (d[0] == DOMAIN and d[1] == "MX")]
    world.declared.append(("example.org", "MX", [f"10 {MX}"]))
    org = "\n".join(
        ["$ORIGIN example.org.", "$TTL 300", "@ SOA ns.example.org. h.example.org. 1 3600 600 86400 300",
         "@ NS ns.example.com.", f"@ MX 10 {MX}."]
    ) + "\n"  # fmt: skip
    plan = world.plan()
    plan["resources"][-1]["inputs"]["zoneId"] = "Z2"
    plan["outputs"]["zones"]["example.org"] = {"provider": "route53", "zoneId": "Z2"}
    report = dane(world, key=key, anchor=key, zones={"example.org": org}, plan=plan)
    result = one_dane(report)
    assert result.status == "fail", report.to_text()
    assert "the MX RRset of example.org is not DNSSEC-authenticated" in result.message, result.message


def test_no_starttls_on_a_dane_host_fails(dane, pki, smtp_servers):
    key = ZoneKey()
    report = dane(with_tlsa(make_world(pki), tlsa_std.build_tlsa(der(pki.good_cert))), key=key, anchor=key,
                  smtp_port=smtp_servers.plain)  # fmt: skip
    result = one_dane(report)
    assert result.status == "fail" and "offers no STARTTLS" in result.message


# ----------------------------------------------------------------------------- warn / nothing / error


def test_no_tlsa_warns_when_dane_is_checked(dane, pki):
    key = ZoneKey()
    report = dane(make_world(pki), key=key, anchor=key)
    result = one_dane(report)
    assert result.status == "warn"
    assert "no TLSA: DANE is not deployed for mx1.example.com" in result.message


def test_no_tlsa_and_no_dnssec_options_reports_nothing(dane, pki):
    report = dane(make_world(pki), anchor=None)
    assert dane_results(report) == []


def test_tlsa_without_the_means_to_authenticate_it_warns(dane, pki):
    key = ZoneKey()
    report = dane(with_tlsa(make_world(pki), tlsa_std.build_tlsa(der(pki.good_cert))), key=key, anchor=None)
    result = one_dane(report)
    assert result.status == "warn" and "--trust-anchor FILE or --dnssec-ad-trusted" in result.message


def test_ad_trusted_with_a_resolver_that_does_not_validate_fails(dane, pki):
    # Knot is authoritative, not a validating resolver: it never sets AD, so the answer
    # counts as unauthenticated when only the AD bit may vouch for it
    key = ZoneKey()
    report = dane(
        with_tlsa(make_world(pki), tlsa_std.build_tlsa(der(pki.good_cert))), key=key, anchor=None, dnssec_ad_trusted=True
    )
    result = one_dane(report)
    assert result.status == "fail" and "did not set the AD bit" in result.message


def test_dns_fault_is_error(pki, smtp_servers, tmp_path):
    key = ZoneKey()
    anchor = tmp_path / "a.ds"
    anchor.write_text(key.ds(DOMAIN))
    report, code = run_verify(
        VerifyOptions(
            stack="test", plan_data=make_world(pki).plan(), nameservers=(f"127.0.0.1:{free_port()}",),
            smtp=(), trust_anchors=(str(anchor),), timeout=0.5, progress=False,
        )
    )  # fmt: skip
    result = [c for c in report.checks if c.check == "dane"]
    assert [c.status for c in result] == ["error"] and code == 1


# ----------------------------------------------------------------------------- delegation


def test_chain_of_trust_through_a_signed_delegation(knot, pki, smtp_servers, tmp_path):
    # anchor at example.com; the MX host lives in the child zone mx.example.com, reached by a signed DS
    parent, child = ZoneKey(), ZoneKey()
    host = "in1.mx.example.com"
    world = make_world(pki)
    world.declared = [d for d in world.declared if not (d[0] == DOMAIN and d[1] == "MX")]
    world.declared.append((DOMAIN, "MX", [f"10 {host}"]))
    world.replace(DOMAIN, "@", "MX", f"10 {host}.")
    child_text = "\n".join(
        ["$ORIGIN mx.example.com.", "$TTL 300", "@ SOA ns.example.com. h.example.com. 1 3600 600 86400 300",
         "@ NS ns.example.com.", "in1 A 127.0.0.1", f"_25._tcp.in1 TLSA {tlsa_std.build_tlsa(der(pki.good_cert))}"]
    ) + "\n"  # fmt: skip
    ds = dns.dnssec.make_ds("mx.example.com.", child.dnskey, "SHA256").to_text()
    files = world.zone_files()
    files[DOMAIN] = parent.sign(files[DOMAIN], DOMAIN, extra=["mx NS ns.example.com.\n", f"mx DS {ds}\n"])
    files["mx.example.com"] = child.sign(child_text, "mx.example.com")
    server = knot(files)
    anchor = tmp_path / "root.ds"
    anchor.write_text(parent.ds(DOMAIN))
    # a certificate valid for the child host is not needed: DANE-EE ignores names
    report, _ = run_verify(
        VerifyOptions(
            stack="test", plan_data=world.plan(), nameservers=(server.nameserver,), smtp=(),
            smtp_port=smtp_servers.good, trust_anchors=(str(anchor),), timeout=2.0, progress=False,
        )
    )  # fmt: skip
    result = [c for c in report.checks if c.check == "dane"]
    assert [c.status for c in result] == ["pass"], report.to_text()
    assert "signed by mx.example.com" in result[0].message


# ----------------------------------------------------------------------------- input, CLI, registry


def test_bad_trust_anchor_file_is_input_error(pki, tmp_path):
    bad = tmp_path / "bad.ds"
    bad.write_text("example.com. IN A 192.0.2.1\n")
    with pytest.raises(VerifyInputError, match="only DS or DNSKEY"):
        run_verify(VerifyOptions(stack="test", plan_data=make_world(pki).plan(), trust_anchors=(str(bad),)))
    with pytest.raises(VerifyInputError, match="cannot read"):
        run_verify(VerifyOptions(stack="test", plan_data=make_world(pki).plan(), trust_anchors=(str(tmp_path / "none"),)))


def test_cli_flags(knot, pki, smtp_servers, tmp_path):
    import json

    key = ZoneKey()
    world = with_tlsa(make_world(pki), tlsa_std.build_tlsa(der(pki.good_cert)))
    files = world.zone_files()
    files[DOMAIN] = key.sign(files[DOMAIN], DOMAIN)
    server = knot(files)
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(world.plan()))
    anchor = tmp_path / "anchor.ds"
    anchor.write_text(key.ds(DOMAIN))
    args = ["--stack", "test", "--plan", str(plan), "--nameserver", server.nameserver, "--ca-file", pki.ca_file,
            "--smtp-port", str(smtp_servers.good), "--format", "json"]  # fmt: skip
    out = CliRunner().invoke(verify_cmd, [*args, "--trust-anchor", str(anchor)])
    data = json.loads(out.output)
    assert [c["status"] for c in data["checks"] if c["check"] == "dane"] == ["pass"], out.output
    out = CliRunner().invoke(verify_cmd, [*args, "--dnssec-ad-trusted"])
    assert [c["status"] for c in json.loads(out.output)["checks"] if c["check"] == "dane"] == ["fail"]
    bad = tmp_path / "bad.ds"
    bad.write_text("not a record\n")
    out = CliRunner().invoke(verify_cmd, [*args, "--trust-anchor", str(bad)])
    assert out.exit_code == 2 and "--trust-anchor" in out.output and "Traceback" not in out.output
    assert len(out.output.strip().splitlines()) == 1


def test_tlsa_is_a_registered_kind_with_the_standard_owner_name():
    assert kinds.classify(TLSA_NAME, "TLSA") == ("tlsa", MX)
    assert kinds.owner_name("tlsa", MX) == tlsa_std.tlsa_name(MX) == TLSA_NAME
    assert "dane" in kinds.checks("tlsa") and "dane" in kinds.checks("mx")
    assert kinds.get("tlsa").standard == "tlsa"
