"""Reports from the intake bucket (`--bucket s3://BUCKET[/PREFIX]`), with boto3 (the `aws` extra).

SES inbound stores each received report mail whole (MIME), under `dmarc/` and `tls-rpt/`
(policies/mailinfra_policy/standards/intake.py); `archive.payloads` takes the
gzip / zip / XML / JSON attachments out of it, exactly as it reads a `.eml` file. Objects
larger than the size bound are refused from their listed size, never downloaded.
boto3's own configuration applies (profile, region, `AWS_ENDPOINT_URL`): the tests point
it at moto's server on 127.0.0.1. Missing boto3, missing credentials or a bucket that
cannot be listed raise `BucketError` (exit 2, one line); one unreadable object is a
problem line and the run goes on.
"""

from __future__ import annotations

from typing import Any

from mailinfra.policies.mailinfra_policy.standards.errors import InputError

from .archive import Limits, ReportError
from .collect import Input

__all__ = ["BucketError", "bucket_inputs", "parse_url"]


class BucketError(InputError):
    """--bucket cannot be read at all."""


def parse_url(url: str) -> tuple[str, str]:
    if not url.startswith("s3://") or not url[5:].split("/", 1)[0]:
        raise BucketError(f"--bucket: expected s3://BUCKET[/PREFIX] (got {url!r})")
    bucket, _, prefix = url[5:].partition("/")
    return bucket, prefix


def _client() -> Any:
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise BucketError("--bucket needs boto3: pip install 'mailinfra[aws]'") from None
    session = boto3.Session()
    if session.get_credentials() is None:
        raise BucketError("--bucket: no AWS credentials (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
    return session.client("s3", config=Config(retries={"max_attempts": 3}, connect_timeout=10, read_timeout=60))


def _why(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error", {})
        return f"{error.get('Code', 'error')}: {error.get('Message', '')}".strip(": ")
    return " ".join(str(exc).split()) or exc.__class__.__name__


def bucket_inputs(url: str, limits: Limits) -> list[Input]:
    bucket, prefix = parse_url(url)
    client = _client()
    from botocore.exceptions import BotoCoreError, ClientError

    objects: list[tuple[str, int]] = []
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            objects.extend((o["Key"], int(o.get("Size", 0))) for o in page.get("Contents", []))
    except (BotoCoreError, ClientError) as exc:
        raise BucketError(f"--bucket {url}: cannot list objects ({_why(exc)})") from None

    def loader(key: str, size: int) -> Any:
        def load() -> bytes:
            if size > limits.max_bytes:
                raise ReportError(f"object is larger than {limits.max_bytes:,} bytes (raise --max-bytes)")
            try:
                body = client.get_object(Bucket=bucket, Key=key)["Body"]
                with body:
                    return bytes(body.read(limits.max_bytes + 1))
            except (BotoCoreError, ClientError) as exc:
                raise ReportError(f"cannot read the object ({_why(exc)})") from None

        return load

    # SES writes AMAZON_SES_SETUP_NOTIFICATION when the receipt rule's S3 action is created: not a report
    wanted = [(k, n) for k, n in objects if not k.endswith("/") and k.rsplit("/", 1)[-1] != "AMAZON_SES_SETUP_NOTIFICATION"]
    return [Input(f"s3://{bucket}/{key}", loader(key, size)) for key, size in wanted]
