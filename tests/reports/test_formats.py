"""Each format and packing, the three big reporters' shapes, RFC 9990 fields, deduplication."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailinfra.reports import Limits, Thresholds, collect, directory_inputs, summarise
from mailinfra.reports.archive import payloads
from mailinfra.reports.dmarc import parse_aggregate
from mailinfra.reports.tlsrpt import parse_tls_report
from tests.reports.gen import DATA, gz, mail, zipped

LIMITS = Limits()


def _read(path: Path):
    found = collect(directory_inputs([str(path)], LIMITS), LIMITS)
    return found


def _reporters(tmp_path: Path) -> Path:
    """The fixture reports packed as each reporter sends them (file names as they name them)."""
    google, outlook, enterprise, yahoo = ((DATA / f"{n}.xml").read_bytes() for n in ("google", "outlook", "enterprise", "yahoo"))
    files = {
        "google.com!example.com!1764547200!1764633599.zip": zipped("google.com!example.com!1764547200!1764633599.xml", google),
        "outlook.com!example.com!1764547200!1764633600.xml.gz": gz(outlook),
        "enterprise.protection.outlook.com!example.com!1764547200!1764633600.xml.gz": gz(enterprise),
        "yahoo.com!example.com!1764547200!1764633599.xml.gz": gz(yahoo),
        "rfc9990.xml": (DATA / "rfc9990.xml").read_bytes(),
        "google.com!example.com!1764547200!1764633599!001.json.gz": gz((DATA / "google-tlsrpt.json").read_bytes()),
        "microsoft.com!example.com!1764547200!1764633599.json": (DATA / "microsoft-tlsrpt.json").read_bytes(),
    }
    for name, blob in files.items():
        (tmp_path / name).write_bytes(blob)
    return tmp_path


def test_the_three_reporters_shapes_add_up(tmp_path):
    found = _read(_reporters(tmp_path))
    assert found.problems == []
    assert sorted(r.org_name for r in found.dmarc) == [
        "Enterprise Outlook",
        "Outlook.com",
        "Yahoo",
        "google.com",
        "mx.example.org",
    ]
    s = summarise(found.dmarc, found.tls, Thresholds())
    ex = {d.domain: d for d in s.domains}["example.com"]
    assert ex.reports == 4
    assert ex.messages == 1200 + 30 + 800 + 4 + 150 + 600 + 2
    assert ex.aligned == 1200 + 800 + 150 + 600 + 2  # the Yahoo forwarded row passes on aligned SPF
    assert ex.dkim_aligned == 1200 + 800 + 150 + 600
    assert ex.spf_aligned == 1200 + 800 + 150 + 2
    assert ex.spf_pass == 1200 + 800 + 150 + 600 + 2  # raw: bounce.news.example.com passes SPF, unaligned
    assert ex.reporters == {"google.com": 1230, "Outlook.com": 804, "Enterprise Outlook": 150, "Yahoo": 602}
    assert ex.subdomains == {"news.example.com": 600}
    assert ex.sources["54.240.8.21"].reporters == {"google.com", "Enterprise Outlook"}
    assert ex.sources["2001:db8::25"].envelope_from == {"example.com"}
    failing = [x.ip for x in ex.failing_sources(10)]
    assert failing == ["203.0.113.77", "2001:db8::25"]
    # one failing source of 30 messages (the CRM nobody told you about) blocks the ramp
    assert ex.verdict.status == "not-ready"
    unexplained = {c.name: c for c in ex.verdict.checks}["unexplained-sources"]
    assert not unexplained.ok and "203.0.113.77" in unexplained.detail and "2001:db8::25" not in unexplained.detail


def test_tls_rpt_from_google_and_microsoft(tmp_path):
    found = _read(_reporters(tmp_path))
    s = summarise(found.dmarc, found.tls, Thresholds())
    tls = {t.domain: t for t in s.tls}
    assert tls["example.com"].successful == 412 + 90
    assert tls["example.com"].failed == 7
    assert tls["example.com"].by_result == {"certificate-expired": 5, "sts-policy-fetch-error": 2}
    assert tls["example.com"].by_mx == {"mx2.example.com": 5, "mx1.example.com": 2}
    assert tls["shop.example"].policy_types == {"no-policy-found": 1}
    assert tls["shop.example"].by_mx_result == {("mail.shop.example", "starttls-not-supported"): 1}


def test_rfc9990_fields_and_namespace():
    report = parse_aggregate("rfc9990.xml", (DATA / "rfc9990.xml").read_bytes(), LIMITS)
    assert (report.domain, report.p, report.sp, report.np) == ("shop.example", "quarantine", "quarantine", "reject")
    assert report.testing is True and report.discovery_method == "treewalk" and report.generator == "Example Reporter 2.1"
    assert [r.disposition for r in report.rows] == ["pass", "quarantine"]
    assert report.rows[0].dkim[0].selector == "s1" and report.rows[0].spf[0].scope == "mfrom"
    s = summarise([report], [], Thresholds(min_days=1, min_messages=1))
    v = s.domains[0].verdict
    # t=y is a step of its own: quarantine under test -> quarantine
    assert (v.current, v.next, v.current_from) == ("p=quarantine; t=y", "p=quarantine", "reports")


def test_missing_optional_fields_read_as_absent():
    xml = (
        b"<feedback><report_metadata><org_name>tiny</org_name><report_id>1</report_id>"
        b"<date_range><begin>0</begin><end>86400</end></date_range></report_metadata>"
        b"<policy_published><domain>Example.COM.</domain></policy_published>"
        b"<record><row><source_ip>192.0.2.1</source_ip><count>3</count><policy_evaluated><disposition>NONE</disposition></policy_evaluated></row></record>"
        b"</feedback>"
    )
    report = parse_aggregate("tiny.xml", xml, LIMITS)
    assert (report.domain, report.p, report.sp, report.np, report.testing, report.email) == (
        "example.com",
        "none",
        None,
        None,
        None,
        None,
    )
    row = report.rows[0]
    assert (row.count, row.dmarc_pass, row.dkim, row.spf, row.header_from) == (3, False, (), (), "")


@pytest.mark.parametrize("pack", ["plain", "gzip", "zip", "mime-gzip", "mime-zip", "mime-plain"])
def test_every_packing_of_a_dmarc_report(pack):
    xml = (DATA / "google.xml").read_bytes()
    blob = {
        "plain": xml,
        "gzip": gz(xml),
        "zip": zipped("r.xml", xml),
        "mime-gzip": mail("r.xml.gz", gz(xml)),
        "mime-zip": mail("r.zip", zipped("r.xml", xml), "application/zip"),
        "mime-plain": mail("r.xml", xml, "text/xml"),
    }[pack]
    found = list(payloads("f", blob, LIMITS))
    assert [(p.kind, p.data) for p in found] == [("xml", xml)]


@pytest.mark.parametrize("pack", ["plain", "gzip", "mime-gzip"])
def test_every_packing_of_a_tls_report(pack):
    js = (DATA / "microsoft-tlsrpt.json").read_bytes()
    blob = {"plain": js, "gzip": gz(js), "mime-gzip": mail("r.json.gz", gz(js), "application/tlsrpt+gzip")}[pack]
    (payload,) = payloads("f", blob, LIMITS)
    report = parse_tls_report(payload.name, payload.data, LIMITS)
    assert report.org_name == "Microsoft Corporation" and len(report.policies) == 2


def test_multi_member_gzip_reads_whole():
    xml = (DATA / "yahoo.xml").read_bytes()
    half = len(xml) // 2
    (payload,) = payloads("f", gz(xml[:half]) + gz(xml[half:]), LIMITS)
    assert payload.data == xml


def test_duplicates_by_org_and_report_id(tmp_path):
    xml = (DATA / "google.xml").read_bytes()
    (tmp_path / "a.xml").write_bytes(xml)
    (tmp_path / "b.xml.gz").write_bytes(gz(xml))  # the same report, resent compressed
    (tmp_path / "c.xml").write_bytes(xml.replace(b"<org_name>google.com", b"<org_name>GOOGLE.com"))
    (tmp_path / "d.xml").write_bytes(xml.replace(b"9301574861265502735", b"9301574861265502736"))
    found = _read(tmp_path)
    assert (len(found.dmarc), found.duplicates, found.files) == (2, 2, 4)
    assert summarise(found.dmarc, [], Thresholds()).domains[0].messages == 2 * 1230


def test_multiple_domains_and_since(tmp_path):
    xml = (DATA / "google.xml").read_bytes()
    (tmp_path / "a.xml").write_bytes(xml)
    (tmp_path / "b.xml").write_bytes(xml.replace(b"example.com", b"other.example").replace(b"9301", b"7777"))
    later = xml.replace(b"1764547200", b"1765152000").replace(b"1764633599", b"1765238399").replace(b"9301", b"8888")
    (tmp_path / "c.xml").write_bytes(later)
    found = _read(tmp_path)
    s = summarise(found.dmarc, [], Thresholds())
    assert [d.domain for d in s.domains] == ["example.com", "other.example"]
    assert {d.domain: d.reports for d in s.domains} == {"example.com": 2, "other.example": 1}
    later_only = summarise(found.dmarc, [], Thresholds(), since=1765152000)
    assert [(d.domain, d.reports) for d in later_only.domains] == [("example.com", 1)]
    assert later_only.dmarc_reports == 1
