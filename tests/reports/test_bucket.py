"""`--bucket s3://...` against moto's server on 127.0.0.1 (a real S3 API, boto3 unpatched)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.aws_emulator import moto_server

from tests.reports.gen import DATA, gz, mail

ROOT = Path(__file__).resolve().parents[2]
BASE_ENV = {
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_DEFAULT_REGION": "eu-west-1",
}
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@pytest.fixture(scope="module")
def s3_endpoint():
    with moto_server() as url:
        yield url


def _env(endpoint: str | None, credentials: bool = True) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(BASE_ENV)
    if credentials:
        env.update(CREDENTIALS)
    if endpoint:
        env["AWS_ENDPOINT_URL"] = endpoint
    return env


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailinfra.cli", "reports", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def intake(s3_endpoint):
    import boto3

    client = boto3.client(
        "s3", endpoint_url=s3_endpoint, region_name="eu-west-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    client.create_bucket(Bucket="intake", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    google = gz((DATA / "google.xml").read_bytes())
    objects = {
        "dmarc/0001": mail("google.com!example.com!1764547200!1764633599.xml.gz", google),  # as SES stores a received mail
        "dmarc/0002": mail("r.zip", b"PK\x03\x04 truncated", "application/zip"),
        "dmarc/0003": gz((DATA / "yahoo.xml").read_bytes()),
        "tls-rpt/0001": mail(
            "google.com!example.com!1764547200!1764633599!001.json.gz",
            gz((DATA / "microsoft-tlsrpt.json").read_bytes()),
            "application/tlsrpt+gzip",
        ),
        "tls-rpt/0002": b"\x00" * 2_000_000,  # over --max-bytes 1: refused from its listed size
        "other/0001": gz((DATA / "outlook.xml").read_bytes()),
        # SES's test message when the S3 action is created: not a report, skipped without a problem line
        "dmarc/AMAZON_SES_SETUP_NOTIFICATION": b"From: no-reply@amazonaws.com\r\nSubject: Amazon SES Setup Notification\r\n\r\nHello\r\n",
    }
    for key, body in objects.items():
        client.put_object(Bucket="intake", Key=key, Body=body)
    return s3_endpoint


def test_reads_the_intake_bucket(intake):
    proc = _cli(_env(intake), "--bucket", "s3://intake/", "--format", "json", "--max-bytes", "1")
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["input"]["files"] == 6 and doc["input"]["dmarc_reports"] == 3 and doc["input"]["tls_reports"] == 1
    (domain,) = doc["domains"]
    assert domain["messages"] == 1230 + 602 + 804
    assert doc["tls"][0]["failed_sessions"] == 7
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("mailinfra: reports: s3://intake/dmarc/0002!r.zip: not a readable zip archive")
    assert lines[1].startswith("mailinfra: reports: s3://intake/tls-rpt/0002: object is larger than 1,048,576 bytes")


def test_a_prefix_and_a_directory_together(intake, tmp_path):
    (tmp_path / "enterprise.xml").write_bytes((DATA / "enterprise.xml").read_bytes())
    proc = _cli(_env(intake), str(tmp_path), "--bucket", "s3://intake/dmarc", "--format", "json")
    doc = json.loads(proc.stdout)
    assert doc["input"]["files"] == 4 and doc["input"]["dmarc_reports"] == 3
    assert sorted(doc["domains"][0]["reporters"]) == ["Enterprise Outlook", "Yahoo", "google.com"]


@pytest.mark.parametrize(
    "url, credentials, needle",
    [
        ("s3://intake/", False, "no AWS credentials"),
        ("s3://no-such-bucket/", True, "NoSuchBucket"),
    ],
)
def test_bucket_errors_are_one_line_exit_2(intake, url, credentials, needle):
    proc = _cli(_env(intake, credentials), "--bucket", url)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in proc.stderr
