"""`mailinfra privacy erase ADDRESS --stack S`: the right to erasure (GDPR Art. 17, CCPA
1798.105) for one recipient, with boto3 (the `aws` extra).

What it does, in this order, printing one line per change:

1. removes the address from every SES contact list of the stack's account and region
   (SESv2 allows one list per account; ``list_contact_lists`` / ``delete_contact``);
2. rewrites each object of the stack's event archive (``sesEvents.archiveBucket`` of
   ``pulumi stack output --json``, objects under ``events/``: GZIP JSON lines, one SES
   event each) without the events that mention the address;
3. keeps the address on the account-level suppression list under reason COMPLAINT
   (standards/privacy.py: an opt-out must keep being honoured after its records are
   gone, or the next import would mail the person again).

Idempotent: a second run finds nothing to remove and the address still suppressed.
``--dry-run`` reads only. Reads are bounded (``max_bytes`` per object, compressed and
decompressed); an object over the bound, or one that cannot be read, is reported and the
run exits 1 (erasure incomplete) after doing the rest. boto3's own configuration applies
(profile, ``AWS_ENDPOINT_URL``); ``--endpoint-url`` overrides it (the tests use moto's
server on 127.0.0.1).
"""

from __future__ import annotations

import gzip
import io
import json
import re
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from mailinfra.policies.mailinfra_policy.standards import privacy
from mailinfra.policies.mailinfra_policy.standards._uris import address_domain
from mailinfra.policies.mailinfra_policy.standards.errors import InputError

__all__ = ["ARCHIVE_PREFIX", "EraseResult", "PrivacyError", "Targets", "erase", "normalize_address", "targets_from"]

ARCHIVE_PREFIX = "events/"  # components/events.py's Firehose prefix
MAX_BYTES = 256 * 1024 * 1024  # per archive object, compressed and decompressed


class PrivacyError(InputError):
    """Bad input or an unusable environment (no boto3, no credentials): one line, exit 2."""


@dataclass(frozen=True)
class Targets:
    region: str
    archive_bucket: str | None  # None: the stack has no event archive


@dataclass
class EraseResult:
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # erasure incomplete: exit 1

    @property
    def exit_code(self) -> int:
        return 1 if self.problems else 0


def normalize_address(value: str) -> str:
    """The address, validated by the standards' address rule (the one config uses)."""
    if address_domain(value) is None:
        raise PrivacyError(f"ADDRESS: {value!r} is not an email address")
    # RFC 5321 lets a local part be case-sensitive; no mailbox provider treats it so, and an
    # erasure must not miss "Alice@" for "alice@": one form, lower case, everywhere.
    return value.strip().lower()


def targets_from(plan_config: Mapping[str, Any], plan_outputs: Mapping[str, Any], outputs: Mapping[str, Any] | None) -> Targets:
    """Region from the stack config; the archive bucket's real name from the deployed
    stack's outputs (the plan's is the mock engine's, not the deployed one)."""
    region = plan_config.get("aws:region")
    if not isinstance(region, str) or not region:
        raise PrivacyError("the stack sets no aws:region")
    if not isinstance(plan_outputs.get("sesEvents"), Mapping):
        return Targets(region=region, archive_bucket=None)
    events = (outputs or {}).get("sesEvents")
    if outputs is None:
        raise PrivacyError(
            "the stack has an event archive whose bucket name is known after deploy: pass --outputs FILE (pulumi stack output --json)"
        )
    bucket = events.get("archiveBucket") if isinstance(events, Mapping) else None
    if not isinstance(bucket, str) or not bucket:
        raise PrivacyError("--outputs: no archiveBucket under sesEvents (pulumi stack output --json of this stack)")
    return Targets(region=region, archive_bucket=bucket)


def _clients(region: str, endpoint_url: str | None) -> tuple[Any, Any]:
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise PrivacyError("privacy erase needs boto3: pip install 'mailinfra[aws]'") from None
    session = boto3.Session(region_name=region)
    if session.get_credentials() is None:
        raise PrivacyError("privacy erase: no AWS credentials (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
    config = Config(retries={"max_attempts": 3}, connect_timeout=10, read_timeout=60)
    return (
        session.client("sesv2", endpoint_url=endpoint_url, config=config),
        session.client("s3", endpoint_url=endpoint_url, config=config),
    )


def _why(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error", {})
        message = " ".join(str(error.get("Message", "")).split())
        if "<html" in message.lower():  # an endpoint without this API answers with an HTML page
            message = "the endpoint does not implement this API"
        return f"{error.get('Code', 'error')}: {message[:200]}".strip(": ")
    return " ".join(str(exc).split())[:200] or exc.__class__.__name__


def _mentions(address: str) -> Callable[[str], bool]:
    pattern = re.compile(rf"(?<![\w.+-]){re.escape(address)}(?![\w-]|\.\w)", re.IGNORECASE)
    return lambda text: pattern.search(text) is not None


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _events(text: str) -> Iterator[tuple[str, Any]]:
    """(raw text, parsed value) of each event: Firehose concatenates EventBridge's JSON
    objects with no delimiter, JSON lines have newlines; a tail that is not JSON comes
    whole, with value None."""
    decoder = json.JSONDecoder()
    pos, end = 0, len(text)
    while pos < end:
        while pos < end and text[pos].isspace():
            pos += 1
        if pos >= end:
            return
        try:
            value, stop = decoder.raw_decode(text, pos)
        except ValueError:
            yield text[pos:], None
            return
        yield text[pos:stop], value
        pos = stop


def _event_mentions(raw: str, value: Any, hit: Callable[[str], bool]) -> bool:
    return hit(raw) if value is None else any(hit(s) for s in _strings(value))


def _gunzip(data: bytes, limit: int) -> bytes:
    """Every gzip member (Firehose appends), at most ``limit`` bytes out."""
    out = io.BytesIO()
    while data:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out.write(d.decompress(data, limit + 1 - out.tell()))
        if out.tell() > limit or d.unconsumed_tail:
            raise ValueError(f"larger than {limit:,} bytes decompressed")
        data = d.unused_data
    return out.getvalue()


def _contacts(ses: Any, address: str, dry_run: bool, result: EraseResult) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        lists: list[str] = []
        token = None
        while True:
            page = ses.list_contact_lists(**({"NextToken": token} if token else {}))
            lists.extend(c["ContactListName"] for c in page.get("ContactLists", []))
            token = page.get("NextToken")
            if not token:
                break
    except (BotoCoreError, ClientError) as exc:
        result.problems.append(f"contact lists: cannot list them ({_why(exc)})")
        return
    for name in lists:
        try:
            ses.get_contact(ContactListName=name, EmailAddress=address)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NotFoundException":
                continue
            result.problems.append(f"contact list {name}: cannot read the contact ({_why(exc)})")
            continue
        except BotoCoreError as exc:
            result.problems.append(f"contact list {name}: cannot read the contact ({_why(exc)})")
            continue
        if dry_run:
            result.lines.append(f"would remove {address} from contact list {name}")
            continue
        try:
            ses.delete_contact(ContactListName=name, EmailAddress=address)
            result.lines.append(f"removed {address} from contact list {name}")
        except (BotoCoreError, ClientError) as exc:
            result.problems.append(f"contact list {name}: cannot remove the contact ({_why(exc)})")


def _archive(s3: Any, bucket: str, address: str, dry_run: bool, max_bytes: int, result: EraseResult) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    hit = _mentions(address)
    try:
        objects = [
            (o["Key"], int(o.get("Size", 0)))
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=ARCHIVE_PREFIX)
            for o in page.get("Contents", [])
        ]
    except (BotoCoreError, ClientError) as exc:
        result.problems.append(f"event archive s3://{bucket}: cannot list objects ({_why(exc)})")
        return
    for key, size in objects:
        where = f"s3://{bucket}/{key}"
        if size > max_bytes:
            result.problems.append(f"{where}: larger than {max_bytes:,} bytes, not rewritten")
            continue
        try:
            got = s3.get_object(Bucket=bucket, Key=key)
            with got["Body"] as body:
                raw = bytes(body.read(max_bytes + 1))
        except (BotoCoreError, ClientError) as exc:
            result.problems.append(f"{where}: cannot read ({_why(exc)})")
            continue
        compressed = raw[:2] == b"\x1f\x8b"
        try:
            text = _gunzip(raw, max_bytes) if compressed else raw
        except (ValueError, zlib.error, EOFError) as exc:
            result.problems.append(f"{where}: cannot decompress ({exc})")
            continue
        events = list(_events(text.decode("utf-8", "replace")))
        kept = [raw for raw, value in events if not _event_mentions(raw, value, hit)]
        removed = len(events) - len(kept)
        if not removed:
            continue
        if dry_run:
            result.lines.append(f"would remove {removed} event(s) from {where}")
            continue
        body_out = "".join(f"{raw}\n" for raw in kept).encode()  # JSON lines
        extra: dict[str, Any] = {}
        if compressed:
            body_out = gzip.compress(body_out, mtime=0)
        for k_in, k_out in (("ContentType", "ContentType"), ("ContentEncoding", "ContentEncoding")):
            if got.get(k_in):
                extra[k_out] = got[k_in]
        try:
            if kept:
                s3.put_object(Bucket=bucket, Key=key, Body=body_out, **extra)  # the bucket's default encryption applies
            else:
                s3.delete_object(Bucket=bucket, Key=key)
            result.lines.append(f"removed {removed} event(s) from {where}")
        except (BotoCoreError, ClientError) as exc:
            result.problems.append(f"{where}: cannot rewrite ({_why(exc)})")


def _suppress(ses: Any, address: str, dry_run: bool, result: EraseResult) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    reason = privacy.ERASURE_SUPPRESSION_REASON
    current = None
    try:
        current = ses.get_suppressed_destination(EmailAddress=address)["SuppressedDestination"].get("Reason")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NotFoundException":
            result.problems.append(f"suppression list: cannot read {address} ({_why(exc)})")
            return
    except BotoCoreError as exc:
        result.problems.append(f"suppression list: cannot read {address} ({_why(exc)})")
        return
    if current == reason:
        result.lines.append(f"{address} stays on the account suppression list ({reason})")
        return
    verb = "would put" if dry_run else "put"
    if not dry_run:
        try:
            ses.put_suppressed_destination(EmailAddress=address, Reason=reason)
        except (BotoCoreError, ClientError) as exc:
            result.problems.append(f"suppression list: cannot put {address} ({_why(exc)})")
            return
    result.lines.append(f"{verb} {address} on the account suppression list ({reason}: an opt-out keeps being honoured)")


def erase(
    address: str, targets: Targets, *, endpoint_url: str | None = None, dry_run: bool = False, max_bytes: int = MAX_BYTES
) -> EraseResult:
    """Erase ``address`` from the stack's contact lists and event archive and keep it suppressed."""
    address = normalize_address(address)
    ses, s3 = _clients(targets.region, endpoint_url)
    result = EraseResult()
    _contacts(ses, address, dry_run, result)
    if targets.archive_bucket is not None:
        _archive(s3, targets.archive_bucket, address, dry_run, max_bytes, result)
    found = len(result.lines)
    _suppress(ses, address, dry_run, result)
    if not found and not [p for p in result.problems if not p.startswith("suppression list:")]:
        result.lines.insert(0, f"nothing to remove for {address} (contact lists, event archive)")
    return result
