"""verify's report intake checks (issue 15, item 6) against Knot DNS on loopback:
``reports-mx`` (the reports domain's MX is SES inbound of the region, nothing else) and
``reports-rua`` (the live DMARC / TLS-RPT rua are the declared ones)."""

from __future__ import annotations

from typing import Any

from mailinfra.verify import VerifyOptions, run_verify
from mailinfra.verify.expect import Expectations
from mailinfra.verify.intake import intake_target
from mailinfra.policies.mailinfra_policy.providers import ROUTE53

from .conftest import txt_rdata, zone_text

ZONE = "example.com"
REPORTS = f"reports.{ZONE}"
INBOUND = "inbound-smtp.eu-west-1.amazonaws.com"
DMARC = f"v=DMARC1; p=reject; rua=mailto:dmarc@{REPORTS}"
TLSRPT = f"v=TLSRPTv1; rua=mailto:tls-rpt@{REPORTS}"
CONFIG = {
    "aws:region": "eu-west-1",
    "mailinfra:zones": {ZONE: {"provider": "route53", "zoneId": "Z0PRD1234567890ABCDE"}},
    "mailinfra:reports": {"enabled": True},
}


def _record(i: int, name: str, rtype: str, values: list[str]) -> dict[str, Any]:
    return {
        "urn": f"urn:pulumi:test::mailinfra::{ROUTE53.record_type}::r{i}",
        "type": ROUTE53.record_type,
        "name": f"r{i}",
        "inputs": {"zoneId": "Z0PRD1234567890ABCDE", "name": name, "type": rtype, "ttl": 300, "records": values},
        "dependencies": [],
    }


def _plan(config: dict[str, Any] | None = None) -> dict[str, Any]:
    declared = [
        (f"_dmarc.mail.{ZONE}", "TXT", [DMARC]),
        (f"_smtp._tls.mail.{ZONE}", "TXT", [TLSRPT]),
        (REPORTS, "MX", [f"10 {INBOUND}"]),
    ]
    return {
        "stack": "test",
        "project": "mailinfra",
        "resources": [_record(i, n, t, v) for i, (n, t, v) in enumerate(declared)],
        "outputs": {},
        "config": CONFIG if config is None else config,
    }


def _verify(knot: Any, served: list[tuple[str, str, str]], plan: dict[str, Any] | None = None) -> dict[tuple[str, str], Any]:
    server = knot({ZONE: zone_text(ZONE, served)})
    report, _ = run_verify(
        VerifyOptions(stack="test", plan_data=plan or _plan(), nameservers=(server.nameserver,), timeout=2.0, progress=False)
    )
    return {(c.check, c.name): c for c in report.checks if c.check.startswith("reports-")}


GOOD = [
    ("_dmarc.mail", "TXT", txt_rdata(DMARC)),
    ("_smtp._tls.mail", "TXT", txt_rdata(TLSRPT)),
    ("reports", "MX", f"10 {INBOUND}."),
]


def test_intake_live_as_declared_passes(knot: Any) -> None:
    found = _verify(knot, GOOD)
    assert {k: c.status for k, c in found.items()} == {
        ("reports-mx", REPORTS): "pass",
        ("reports-rua", f"_dmarc.mail.{ZONE}"): "pass",
        ("reports-rua", f"_smtp._tls.mail.{ZONE}"): "pass",
    }, found
    assert found[("reports-rua", f"_dmarc.mail.{ZONE}")].message == "reports reach the intake"


def test_mx_elsewhere_and_an_extra_exchange_fail(knot: Any) -> None:
    found = _verify(knot, [*GOOD[:2], ("reports", "MX", "10 mx.other.example.")])
    mx = found[("reports-mx", REPORTS)]
    assert mx.status == "fail" and mx.found == "mx.other.example" and "never reach the SES intake" in mx.message
    found = _verify(knot, [*GOOD, ("reports", "MX", "20 backup.other.example.")])
    mx = found[("reports-mx", REPORTS)]
    assert mx.status == "fail" and "backup.other.example" in mx.message


def test_missing_mx_fails(knot: Any) -> None:
    found = _verify(knot, GOOD[:2])
    assert found[("reports-mx", REPORTS)].status == "fail"


def test_live_rua_other_than_declared_fails(knot: Any) -> None:
    hijacked = f"v=DMARC1; p=reject; rua=mailto:dmarc@{REPORTS},mailto:spy@elsewhere.example"
    found = _verify(
        knot,
        [
            ("_dmarc.mail", "TXT", txt_rdata(hijacked)),
            ("_smtp._tls.mail", "TXT", txt_rdata("v=TLSRPTv1; rua=mailto:x@elsewhere.example")),
            GOOD[2],
        ],
    )
    dmarc = found[("reports-rua", f"_dmarc.mail.{ZONE}")]
    assert dmarc.status == "fail" and dmarc.message == "undeclared: mailto:spy@elsewhere.example"
    tls = found[("reports-rua", f"_smtp._tls.mail.{ZONE}")]
    assert tls.status == "fail" and "missing: mailto:tls-rpt@reports.example.com" in tls.message


def test_garbled_live_record_is_one_result(knot: Any) -> None:
    found = _verify(knot, [("_dmarc.mail", "TXT", txt_rdata("v=DMARC1; p=bogus")), *GOOD[1:]])
    assert found[("reports-rua", f"_dmarc.mail.{ZONE}")].status == "fail"


def test_no_intake_no_checks(knot: Any) -> None:
    assert _verify(knot, GOOD, _plan({**CONFIG, "mailinfra:reports": {"enabled": False}})) == {}
    exp = Expectations(config={**CONFIG, "mailinfra:reports": {"enabled": True, "domain": "rpt.example.com."}})
    target = intake_target(exp)
    assert target is not None and target.domain == "rpt.example.com" and target.inbound_host == INBOUND
    assert intake_target(Expectations(config={**CONFIG, "aws:region": "eu-south-1"})) is None
