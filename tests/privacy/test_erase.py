"""`mailinfra privacy erase` against moto's server on 127.0.0.1 (a real AWS API emulator,
boto3 unpatched): contacts and the event archive go, the address stays suppressed.

moto 5.2.5's server implements SESv2 contact lists but not the account suppression list
(GetSuppressedDestination / PutSuppressedDestination answer 404): the erase reports that
step as not done and exits 1, which these tests assert; the rest is asserted on moto's state.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.aws_emulator import free_port, moto_server

ROOT = Path(__file__).resolve().parents[2]
REGION = "eu-west-1"  # the dev stack's aws:region
BUCKET = "events-archive-deployed"
ENV = {
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
    "AWS_EC2_METADATA_DISABLED": "true",
}
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
PERSON = "Alice.Smith@Example.com"
OTHER = "bob@example.com"
NO_SUPPRESSION = "suppression list: cannot read alice.smith@example.com (404: the endpoint does not implement this API)"


@pytest.fixture()
def endpoint() -> Iterator[str]:
    with moto_server() as url:
        yield url


def _client(service: str, endpoint: str) -> Any:
    return boto3.client(
        service, region_name=REGION, endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def _event(kind: str, recipient: str, **extra: Any) -> dict[str, Any]:
    mail = {"destination": [recipient], "commonHeaders": {"to": [f"Someone <{recipient}>"]}, "source": "news@example.com"}
    return {"source": "aws.ses", "detail-type": kind, "detail": {"eventType": kind, "mail": mail, **extra}}


def _seed(endpoint: str) -> None:
    ses, s3 = _client("sesv2", endpoint), _client("s3", endpoint)
    ses.create_contact_list(ContactListName="mail-example-com-relay-contacts")
    for address in ("alice.smith@example.com", OTHER):
        ses.create_contact(ContactListName="mail-example-com-relay-contacts", EmailAddress=address)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    # Firehose from EventBridge: gzip, JSON objects concatenated with no delimiter
    mixed = json.dumps(_event("Send", OTHER)) + json.dumps(_event("Delivery", "alice.smith@example.com"))
    mixed += json.dumps(_event("Bounce", OTHER, bounce={"bouncedRecipients": [{"emailAddress": "ALICE.SMITH@example.com"}]}))
    s3.put_object(Bucket=BUCKET, Key="events/2026/12/01/batch-1.gz", Body=gzip.compress(mixed.encode()))
    only = "\n".join(json.dumps(_event("Open", "alice.smith@example.com")) for _ in range(3))
    s3.put_object(Bucket=BUCKET, Key="events/2026/12/01/batch-2.gz", Body=gzip.compress(only.encode()))
    # a longer address that contains hers is someone else
    s3.put_object(
        Bucket=BUCKET,
        Key="events/2026/12/02/batch-3.gz",
        Body=gzip.compress(json.dumps(_event("Send", "xalice.smith@example.com.au")).encode()),
    )


def _events(endpoint: str, key: str) -> list[dict[str, Any]]:
    body = _client("s3", endpoint).get_object(Bucket=BUCKET, Key=key)["Body"].read()
    return [json.loads(line) for line in gzip.decompress(body).decode().splitlines()]


def _keys(endpoint: str) -> list[str]:
    return sorted(o["Key"] for o in _client("s3", endpoint).list_objects_v2(Bucket=BUCKET).get("Contents", []))


def _contacts(endpoint: str) -> list[str]:
    page = _client("sesv2", endpoint).list_contacts(ContactListName="mail-example-com-relay-contacts")
    return sorted(c["EmailAddress"] for c in page["Contacts"])


def _erase(
    tmp_path: Path, endpoint: str | None, *args: str, credentials: bool = True, outputs: bool = True
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(ENV)
    if credentials:
        env.update(CREDENTIALS)
    extra: list[str] = []
    if outputs:
        out = tmp_path / "outputs.json"
        out.write_text(json.dumps({"sesEvents": {"archiveBucket": BUCKET, "queueUrl": "https://sqs.example/q"}}))
        extra += ["--outputs", str(out)]
    if endpoint:
        extra += ["--endpoint-url", endpoint]
    return subprocess.run(
        [sys.executable, "-m", "mailinfra.cli", "privacy", "erase", *args, "--stack", "dev", *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_erase_removes_contacts_and_events_and_is_idempotent(endpoint: str, tmp_path: Path) -> None:
    _seed(endpoint)
    before = _keys(endpoint)

    dry = _erase(tmp_path, endpoint, PERSON, "--dry-run")
    assert dry.stdout.splitlines() == [
        "would remove alice.smith@example.com from contact list mail-example-com-relay-contacts",
        f"would remove 2 event(s) from s3://{BUCKET}/events/2026/12/01/batch-1.gz",
        f"would remove 3 event(s) from s3://{BUCKET}/events/2026/12/01/batch-2.gz",
    ]
    assert dry.stderr.splitlines() == [f"mailinfra: privacy erase: {NO_SUPPRESSION}"] and dry.returncode == 1
    assert _contacts(endpoint) == ["alice.smith@example.com", OTHER] and _keys(endpoint) == before  # nothing changed

    first = _erase(tmp_path, endpoint, PERSON)
    assert first.stdout.splitlines() == [
        "removed alice.smith@example.com from contact list mail-example-com-relay-contacts",
        f"removed 2 event(s) from s3://{BUCKET}/events/2026/12/01/batch-1.gz",
        f"removed 3 event(s) from s3://{BUCKET}/events/2026/12/01/batch-2.gz",
    ]
    assert first.stderr.splitlines() == [f"mailinfra: privacy erase: {NO_SUPPRESSION}"] and first.returncode == 1
    assert _contacts(endpoint) == [OTHER]
    assert _keys(endpoint) == ["events/2026/12/01/batch-1.gz", "events/2026/12/02/batch-3.gz"]  # batch-2 had only her
    assert [e["detail"]["eventType"] for e in _events(endpoint, "events/2026/12/01/batch-1.gz")] == ["Send"]
    assert "alice.smith@example.com" not in json.dumps(_events(endpoint, "events/2026/12/01/batch-1.gz")).lower()
    assert _events(endpoint, "events/2026/12/02/batch-3.gz")[0]["detail"]["mail"]["destination"] == [
        "xalice.smith@example.com.au"
    ]

    second = _erase(tmp_path, endpoint, PERSON)
    assert second.stdout.splitlines() == ["nothing to remove for alice.smith@example.com (contact lists, event archive)"]
    assert _contacts(endpoint) == [OTHER]


@pytest.mark.parametrize("bad", ["not-an-address", "a@", "a@b@c.com", "alice@example..com"])
def test_bad_address_is_one_line_exit_2(tmp_path: Path, bad: str) -> None:
    done = _erase(tmp_path, None, bad, credentials=False)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [f"mailinfra: error: ADDRESS: {bad!r} is not an email address"]


def test_missing_credentials_and_outputs_are_one_line_exit_2(tmp_path: Path) -> None:
    done = _erase(tmp_path, None, PERSON, credentials=False)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        "mailinfra: error: privacy erase: no AWS credentials (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
    ]
    done = _erase(tmp_path, None, PERSON, outputs=False)
    assert done.returncode == 2
    assert "pass --outputs FILE (pulumi stack output --json)" in done.stderr and len(done.stderr.splitlines()) == 1


def test_suppression_reason_and_unreachable_endpoint(tmp_path: Path) -> None:
    from mailinfra.policies.mailinfra_policy.standards import privacy

    assert privacy.ERASURE_SUPPRESSION_REASON == "COMPLAINT"  # SESv2 knows BOUNCE and COMPLAINT; an opt-out is the latter
    done = _erase(tmp_path, f"http://127.0.0.1:{free_port()}", PERSON)  # nothing listens: every step reports, no traceback
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert [line.split(":")[1].strip() for line in done.stderr.splitlines()] == ["privacy erase"] * 3
