"""Report files for the tests: the reporters' packings, and a generator of mixed directories
whose totals are known in advance (the tests compare the summary with them)."""

from __future__ import annotations

import gzip
import io
import json
import random
import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

DATA = Path(__file__).parent / "data"
DAY = 86400
START = 1764547200  # 2025-12-01T00:00:00Z


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def zipped(member: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(member, data)
    return buf.getvalue()


def mail(filename: str, data: bytes, ctype: str = "application/gzip") -> bytes:
    """A report mail as SES stores it in the intake bucket (RFC 9990 section 5 / RFC 8460 5.3)."""
    msg = EmailMessage()
    msg["From"] = "noreply-dmarc-support@google.com"
    msg["To"] = "dmarc@reports.example.com"
    msg["Subject"] = "Report domain: example.com Submitter: google.com Report-ID: 1"
    msg.set_content("This is an aggregate report.\n")
    maintype, subtype = ctype.split("/")
    msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return b"Return-Path: <>\r\nReceived: from mail-x.google.com by inbound-smtp.eu-west-1.amazonaws.com\r\n" + msg.as_bytes()


def aggregate_xml(
    org: str, report_id: str, domain: str, begin: int, end: int, rows: list[dict], *, p: str = "none", namespace: bool = False
) -> bytes:
    ns = ' xmlns="urn:ietf:params:xml:ns:dmarc-2.0"' if namespace else ""
    out = [
        f'<?xml version="1.0" encoding="UTF-8"?>\n<feedback{ns}><version>1.0</version><report_metadata>',
        f"<org_name>{org}</org_name><email>dmarc@{org}</email><report_id>{report_id}</report_id>",
        f"<date_range><begin>{begin}</begin><end>{end}</end></date_range></report_metadata>",
        f"<policy_published><domain>{domain}</domain><adkim>r</adkim><aspf>r</aspf><p>{p}</p></policy_published>",
    ]
    for r in rows:
        out.append(
            f"<record><row><source_ip>{r['ip']}</source_ip><count>{r['count']}</count><policy_evaluated>"
            f"<disposition>{r['disposition']}</disposition><dkim>{'pass' if r['dkim_aligned'] else 'fail'}</dkim>"
            f"<spf>{'pass' if r['spf_aligned'] else 'fail'}</spf></policy_evaluated></row>"
            f"<identifiers><header_from>{domain}</header_from></identifiers><auth_results>"
            f"<dkim><domain>{domain}</domain><selector>s1</selector><result>{'pass' if r['dkim_pass'] else 'fail'}</result></dkim>"
            f"<spf><domain>bounce.{domain}</domain><result>{'pass' if r['spf_pass'] else 'softfail'}</result></spf>"
            "</auth_results></record>"
        )
    out.append("</feedback>")
    return "".join(out).encode()


def tls_json(org: str, report_id: str, domain: str, begin: int, ok: int, failures: list[tuple[str, str, int]]) -> bytes:
    import datetime as dt

    def iso(t: int) -> str:
        return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    doc = {
        "organization-name": org,
        "report-id": report_id,
        "contact-info": f"tls@{org}",
        "date-range": {"start-datetime": iso(begin), "end-datetime": iso(begin + DAY - 1)},
        "policies": [
            {
                "policy": {"policy-type": "sts", "policy-domain": domain},
                "summary": {"total-successful-session-count": ok, "total-failure-session-count": sum(n for _, _, n in failures)},
                "failure-details": [
                    {"result-type": r, "receiving-mx-hostname": mx, "failed-session-count": n} for r, mx, n in failures
                ],
            }
        ],
    }
    return json.dumps(doc).encode()


@dataclass
class Expected:
    files: int = 0
    dmarc_reports: int = 0
    tls_reports: int = 0
    duplicates: int = 0
    malformed: int = 0
    domains: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    sources: dict[tuple[str, str], Counter] = field(default_factory=lambda: defaultdict(Counter))
    tls: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    days: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))


DOMAINS = ("example.com", "shop.example", "news.example.org")
REPORTERS = ("google.com", "Outlook.com", "Enterprise Outlook", "Yahoo", "mail.ru")
GOOD_IPS = ("54.240.8.21", "54.240.8.22", "2001:db8:5e5::1")
MX = ("mx1.example.com", "mx2.example.com")
RESULTS = ("certificate-expired", "validation-failure", "starttls-not-supported")


def generate(root: Path, n: int = 1000, seed: int = 15) -> Expected:
    """`n` files in `root` (and one sub-directory): DMARC in every packing, TLS-RPT, a few
    duplicates and malformed files, with the totals they must add up to."""
    rng = random.Random(seed)
    exp = Expected()
    (root / "sub").mkdir(parents=True, exist_ok=True)
    written: list[tuple[str, bytes]] = []
    for i in range(n):
        choice = rng.random()
        org = REPORTERS[i % len(REPORTERS)]
        day = i % 20
        begin = START + day * DAY
        if choice < 0.03 and written:  # an exact resend of an earlier report
            name, data = written[rng.randrange(len(written))]
            (root / f"dup-{i}-{name}").write_bytes(data)
            exp.files += 1
            exp.duplicates += 1
            continue
        if choice < 0.05:  # malformed
            bad = [
                b"",
                b"\x00\x01garbage\xff" * 10,
                b"<feedback><report_metadata>",
                b'{"organization-name": 5}',
                b"<html><body>hi</body></html>",
            ]
            (root / f"bad-{i}.xml").write_bytes(bad[i % len(bad)])
            exp.files += 1
            exp.malformed += 1
            continue
        if choice < 0.20:  # TLS-RPT
            domain = DOMAINS[i % len(DOMAINS)]
            ok = rng.randrange(0, 500)
            failures = [(rng.choice(RESULTS), rng.choice(MX), rng.randrange(1, 9)) for _ in range(rng.randrange(0, 3))]
            data = tls_json(org, f"tls-{i}", domain, begin, ok, failures)
            name = f"{org}!{domain}!{begin}!{begin + DAY - 1}!{i}.json" + (".gz" if i % 2 else "")
            blob = gz(data) if i % 2 else data
            (root / name).write_bytes(blob)
            written.append((name, blob))
            exp.files += 1
            exp.tls_reports += 1
            t = exp.tls[domain]
            t["successful"] += ok
            t["failed"] += sum(x[2] for x in failures)
            for r, mx, c in failures:
                t[f"result:{r}"] += c
                t[f"mx:{mx}"] += c
            continue
        domain = DOMAINS[i % len(DOMAINS)]
        rows = []
        for _ in range(rng.randrange(1, 6)):
            good = rng.random() < 0.9
            ip = rng.choice(GOOD_IPS) if good else f"198.51.100.{rng.randrange(1, 40)}"
            dkim_aligned = good and rng.random() < 0.97
            spf_aligned = good and rng.random() < 0.8
            row = {
                "ip": ip,
                "count": rng.randrange(1, 300),
                "dkim_aligned": dkim_aligned,
                "spf_aligned": spf_aligned,
                "dkim_pass": dkim_aligned or rng.random() < 0.1,
                "spf_pass": spf_aligned or rng.random() < 0.5,
                "disposition": "none" if (dkim_aligned or spf_aligned) else rng.choice(("none", "quarantine", "reject")),
            }
            rows.append(row)
        data = aggregate_xml(org, f"agg-{i}", domain, begin, begin + DAY - 1, rows, namespace=i % 7 == 0)
        base = f"{org}!{domain}!{begin}!{begin + DAY - 1}"
        packing = i % 4
        if packing == 0:
            name, blob = f"{base}.xml", data
        elif packing == 1:
            name, blob = f"{base}.xml.gz", gz(data)
        elif packing == 2:
            name, blob = f"{base}.zip", zipped(f"{base}.xml", data)
        else:
            name, blob = f"{base}.eml", mail(f"{base}.xml.gz", gz(data))
        target = root / ("sub" if i % 9 == 0 else "") / f"{i}-{name}"
        target.write_bytes(blob)
        written.append((target.name, blob))
        exp.files += 1
        exp.dmarc_reports += 1
        exp.days[domain].add(day)
        d = exp.domains[domain]
        for r in rows:
            c = r["count"]
            aligned = r["dkim_aligned"] or r["spf_aligned"]
            for key, flag in (
                ("messages", True),
                ("aligned", aligned),
                ("dkim_aligned", r["dkim_aligned"]),
                ("spf_aligned", r["spf_aligned"]),
                ("dkim_pass", r["dkim_pass"]),
                ("spf_pass", r["spf_pass"]),
                (f"disposition:{r['disposition']}", True),
            ):
                if flag:
                    d[key] += c
                    exp.sources[(domain, r["ip"])][key] += c
    return exp
