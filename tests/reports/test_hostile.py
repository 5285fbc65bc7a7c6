"""Reports from strangers: every malformed or hostile input is one line naming it, and the run goes on."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from mailinfra.reports import Limits, collect, directory_inputs
from tests.reports.gen import DATA, gz, mail, zipped

ROOT = Path(__file__).resolve().parents[2]
GOOD = (DATA / "google.xml").read_bytes()
SMALL = Limits(max_bytes=1024 * 1024, max_records=50, max_members=5)

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;"><!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;">]>
<feedback><report_metadata><org_name>&lol9;</org_name></report_metadata></feedback>"""
XXE = b"""<?xml version="1.0"?><!DOCTYPE feedback [<!ENTITY x SYSTEM "file:///etc/passwd">]><feedback><report_metadata><org_name>&x;</org_name></report_metadata></feedback>"""
DTD_ONLY = b"""<?xml version="1.0"?><!DOCTYPE feedback SYSTEM "http://127.0.0.1:9/evil.dtd"><feedback/>"""


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, data in members.items():
            z.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    return buf.getvalue()


def _lying_zip(real: int, declared: int) -> bytes:
    """A zip whose central directory declares `declared` bytes for a member of `real` bytes."""
    blob = bytearray(_zip({"r.xml": b"<" + b" " * (real - 1)}))
    at = blob.rfind(b"PK\x01\x02")
    struct.pack_into("<I", blob, at + 24, declared)
    local = blob.find(b"PK\x03\x04")
    struct.pack_into("<I", blob, local + 22, declared)
    return bytes(blob)


def _gzip_bomb(size: int) -> bytes:
    import zlib

    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = b"\0" * (1024 * 1024)
    out = [comp.compress(chunk) for _ in range(size // len(chunk))]
    return b"".join(out) + comp.flush()


def _xml(**replace: str) -> bytes:
    data = GOOD.decode()
    for old, new in replace.items():
        data = data.replace(old.replace("_", "/") if old.startswith("_") else old, new)
    return data.encode()


HOSTILE: dict[str, tuple[bytes, str]] = {
    "truncated.xml": (GOOD[: len(GOOD) // 2], "not well-formed XML"),
    "wrong-root.xml": (b"<?xml version='1.0'?><html><body/></html>", "not <feedback>"),
    "count-text.xml": (GOOD.replace(b"<count>1200</count>", b"<count>lots</count>"), "count is not a whole number"),
    "count-negative.xml": (GOOD.replace(b"<count>1200</count>", b"<count>-5</count>"), "count is out of range"),
    "begin-text.xml": (
        GOOD.replace(b"<begin>1764547200</begin>", b"<begin>yesterday</begin>"),
        "date_range/begin is not a whole number",
    ),
    "end-before-begin.xml": (GOOD.replace(b"<end>1764633599</end>", b"<end>1</end>"), "is before begin"),
    "year-99999.xml": (GOOD.replace(b"<end>1764633599</end>", b"<end>3000000000000</end>"), "out of range"),
    "no-report-id.xml": (GOOD.replace(b"<report_id>9301574861265502735</report_id>", b""), "report_id is missing"),
    "bad-ip.xml": (GOOD.replace(b"203.0.113.77", b"not-an-ip"), "source_ip is not an IP address"),
    "bad-disposition.xml": (
        GOOD.replace(b"<disposition>none</disposition>", b"<disposition>bounce</disposition>", 1),
        "disposition must be one of",
    ),
    "bad-policy.xml": (GOOD.replace(b"<p>none</p>", b"<p>maybe</p>"), "policy_published/p must be one of"),
    "billion-laughs.xml": (BILLION_LAUGHS, "DTD"),
    "xxe.xml": (XXE, "DTD"),
    "external-dtd.xml": (DTD_ONLY, "DTD"),
    "empty.xml": (b"", "empty"),
    "blank.xml.gz": (b"   \n", "empty"),
    "garbage.bin": (bytes(range(256)) * 4, "binary garbage"),
    "truncated.xml.gz": (gz(GOOD)[:-20], "gzip"),
    "corrupt.gz": (b"\x1f\x8b\x08\x00" + b"\xff" * 40, "corrupt gzip data"),
    "gzip-bomb.xml.gz": (_gzip_bomb(8 * 1024 * 1024), "gzip bomb"),
    "zip-bomb-declared.zip": (_zip({"r.xml": b"<" + b"\0" * (3 * 1024 * 1024)}), "zip bomb"),
    # zipfile inflates no more than the declared size, then the CRC check refuses the member
    "zip-bomb-lying.zip": (_lying_zip(2 * 1024 * 1024, 100), "Bad CRC-32"),
    "zip-many.zip": (_zip({f"r{i}.xml": GOOD for i in range(40)}), "40 members"),
    "zip-nested.zip": (_zip({"inner.zip": zipped("r.xml", GOOD)}), "nested archives are refused"),
    "gzip-in-zip.zip": (_zip({"r.xml.gz": gz(GOOD)}), "nested archives are refused"),
    "gzip-in-gzip.gz": (gz(gz(GOOD)), "nested archives are refused"),
    "zip-traversal.zip": (_zip({"../../etc/cron.d/evil.xml": GOOD}), "climbs out of the archive"),
    "zip-absolute.zip": (_zip({"/etc/evil.xml": GOOD}), "climbs out of the archive"),
    "zip-empty.zip": (_zip({}), "zip archive is empty"),
    "zip-truncated.zip": (zipped("r.xml", GOOD)[:30], "not a readable zip archive"),
    "too-many-records.xml": (
        GOOD.replace(b"</feedback>", GOOD[GOOD.index(b"<record>") : GOOD.rindex(b"</feedback>")] * 30 + b"</feedback>"),
        "more than 50 records",
    ),
    "invalid.json": (b'{"organization-name": "x", ', "invalid JSON"),
    "array.json": (b"[1, 2, 3]", "not an object"),
    "count-string.json": (
        (DATA / "microsoft-tlsrpt.json").read_bytes().replace(b'"failed-session-count": 5', b'"failed-session-count": "5"'),
        "failed-session-count must be an integer",
    ),
    "count-bool.json": (
        (DATA / "microsoft-tlsrpt.json")
        .read_bytes()
        .replace(b'"total-successful-session-count": 90', b'"total-successful-session-count": true'),
        "must be an integer",
    ),
    "policies-object.json": (
        json.dumps(
            {
                "organization-name": "x",
                "report-id": "1",
                "date-range": {"start-datetime": "2025-12-01T00:00:00Z", "end-datetime": "2025-12-02T00:00:00Z"},
                "policies": {},
            }
        ).encode(),
        "$.policies must be an array",
    ),
    "bad-date.json": (
        (DATA / "microsoft-tlsrpt.json").read_bytes().replace(b"2025-12-01T00:00:00Z", b"the first of December"),
        "not an RFC 3339 date-time",
    ),
    "deep.json": (b'{"organization-name": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "JSON cannot be read"),
    "mail-without-report.eml": (b"From: a@example.com\r\nSubject: hi\r\n\r\nhello\r\n", "no report attachment"),
    "mail-with-bomb.eml": (mail("r.xml.gz", _gzip_bomb(4 * 1024 * 1024)), "gzip bomb"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_each_hostile_input_is_one_problem_naming_it(tmp_path, name):
    data, needle = HOSTILE[name]
    (tmp_path / name).write_bytes(data)
    (tmp_path / "good.xml").write_bytes(GOOD)
    found = collect(directory_inputs([str(tmp_path)], SMALL), SMALL)
    assert len(found.problems) == 1, found.problems
    (line,) = found.problems
    assert line.startswith(str(tmp_path / name)) and needle in line, line
    assert "\n" not in line
    assert [r.report_id for r in found.dmarc] == ["9301574861265502735"]  # the run went on


def test_default_cap_stops_a_real_gzip_bomb(tmp_path):
    (tmp_path / "bomb.xml.gz").write_bytes(_gzip_bomb(60 * 1024 * 1024))  # over the 50 MB default
    found = collect(directory_inputs([str(tmp_path)], Limits()), Limits())
    assert len(found.problems) == 1 and "52,428,800 bytes" in found.problems[0]


def test_control_characters_in_member_names_stay_on_one_line(tmp_path):
    (tmp_path / "evil.zip").write_bytes(_zip({"a\nmailinfra: forged line\r.xml": b"<nope/>"}))
    found = collect(directory_inputs([str(tmp_path)], SMALL), SMALL)
    (line,) = found.problems
    assert "\n" not in line and "\r" not in line and "\\x0a" in line


def test_a_fifo_is_skipped_not_waited_for(tmp_path):
    os.mkfifo(tmp_path / "pipe.xml")
    found = collect(directory_inputs([str(tmp_path)], SMALL), SMALL)
    assert len(found.problems) == 1 and "not a regular file" in found.problems[0]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailinfra.cli", "reports", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_cli_prints_one_stderr_line_per_malformed_report_and_goes_on(tmp_path):
    for name, (data, _) in HOSTILE.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "good.xml").write_bytes(GOOD)
    proc = _cli(str(tmp_path), "--max-bytes", "1", "--max-records", "50", "--max-members", "5", "--format", "json")
    assert proc.returncode == 1, proc.stderr  # the one good report is not enough to ramp
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == len(HOSTILE) and "Traceback" not in proc.stderr
    for line in lines:
        assert line.startswith(f"mailinfra: reports: {tmp_path}/"), line
    named = {line.split(": ")[2].rsplit("/", 1)[-1].split("!")[0] for line in lines}
    assert named == set(HOSTILE)
    out = json.loads(proc.stdout)
    assert out["input"]["malformed"] == len(HOSTILE) and out["input"]["dmarc_reports"] == 1
    assert [d["domain"] for d in out["domains"]] == ["example.com"]


@pytest.mark.parametrize(
    "args, needle",
    [
        ((), "give a directory"),
        (("/no/such/dir",), "no such file or directory"),
        (("DIR", "--known-source", "not-an-ip"), "--known-source"),
        (("DIR", "--since", "last tuesday"), "--since"),
        (("DIR", "--min-pass-rate", "120"), "--min-pass-rate"),
        (("DIR", "--format", "pdf"), "--format"),
        (("DIR", "--bucket", "https://bucket"), "s3://BUCKET"),
        (("DIR", "--output", "/no/such/dir/out.json"), "--output"),
        (("DIR", "--stack", "nosuch"), "nosuch"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(tmp_path, args, needle):
    (tmp_path / "good.xml").write_bytes(GOOD)
    proc = _cli(*(str(tmp_path) if a == "DIR" else a for a in args))
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stdout == ""


def test_terminal_escapes_in_json_strings_are_shown_escaped(tmp_path):
    doc = json.loads((DATA / "microsoft-tlsrpt.json").read_bytes())
    doc["organization-name"] = "Evil\x1b[2J\x1b]0;owned\x07 Corp"
    doc["policies"][0]["policy"]["policy-domain"] = "example.com\x1b[31m"
    (tmp_path / "evil.json").write_text(json.dumps(doc))
    # XML 1.0 allows C1 controls: U+009B is a terminal's one-character CSI
    (tmp_path / "evil.xml").write_bytes(GOOD.replace(b"<org_name>google.com", "<org_name>goo\u009b2Jgle.com".encode()))
    proc = _cli(str(tmp_path))
    assert "\x1b" not in proc.stdout and "\x07" not in proc.stdout and "\u009b" not in proc.stdout
    assert "goo\\x9b2Jgle.com" in proc.stdout
    assert "Evil\\x1b[2J" in proc.stdout and "example.com\\x1b[31m" in proc.stdout
