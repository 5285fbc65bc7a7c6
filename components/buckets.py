"""A private S3 bucket under a CMK with a bounded lifecycle (event archive, report intake).

:func:`private_bucket` declares, as children of the calling component: the bucket, its
public access block (all four), bucket-owner-enforced ownership (no ACLs), SSE-KMS
under the given key with an S3 bucket key (fewer KMS calls), a lifecycle that expires
every object after ``retention_days`` and aborts stale multipart uploads, and a
bucket policy that denies any request without TLS plus the caller's statements
(:func:`bucket_policy`, pure).

``object_lock=True`` (the audit trail's bucket, components/audit.py) adds versioning and
Object Lock in COMPLIANCE mode for the same ``retention_days`` (nobody, root included,
deletes or overwrites an object before then), so the lifecycle expires an object when
its lock has lapsed and removes the locked version, left behind the delete marker, a day later.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
from pulumi_aws import s3

__all__ = ["PrivateBucket", "bucket_policy", "private_bucket"]

MAX_RETENTION_DAYS = 3653  # ten years: the bound config accepts


def bucket_policy(bucket_arn: str, statements: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """TLS only for every principal, then the caller's grants (service writers)."""
    deny = {
        "Sid": "DenyWithoutTls",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    return {"Version": "2012-10-17", "Statement": [deny, *[dict(s) for s in statements]]}


@dataclass(frozen=True)
class PrivateBucket:
    bucket: aws.s3.Bucket
    policy: aws.s3.BucketPolicy
    encryption: aws.s3.BucketServerSideEncryptionConfiguration

    @property
    def arn(self) -> pulumi.Output[str]:
        return self.bucket.arn

    @property
    def name(self) -> pulumi.Output[str]:
        return self.bucket.bucket


def private_bucket(
    name: str,
    *,
    parent: pulumi.Resource,
    kms_key_arn: pulumi.Input[str],
    retention_days: int,
    region: str,
    tags: Mapping[str, Any],
    statements: Callable[[str], Sequence[Mapping[str, Any]]] = lambda arn: (),
    protect: bool = False,
    object_lock: bool = False,
) -> PrivateBucket:
    """Declare the bucket ``name`` and its controls; ``statements(bucket_arn)`` adds grants."""
    if isinstance(retention_days, bool) or not isinstance(retention_days, int) or not 1 <= retention_days <= MAX_RETENTION_DAYS:
        raise ValueError(f"retention_days must be an integer from 1 to {MAX_RETENTION_DAYS} (got {retention_days!r})")
    child = pulumi.ResourceOptions(parent=parent)
    bucket = aws.s3.Bucket(
        name,
        object_lock_enabled=True if object_lock else None,
        region=region,
        tags=dict(tags),
        opts=pulumi.ResourceOptions(parent=parent, protect=protect),
    )
    # S3 accepts a lifecycle or lock configuration of a versioned bucket only once versioning is on
    after_versioning = child
    noncurrent = None
    if object_lock:
        versioning = s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration=s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            region=region,
            opts=child,
        )
        after_versioning = pulumi.ResourceOptions(parent=parent, depends_on=[versioning])
        s3.BucketObjectLockConfiguration(
            f"{name}-lock",
            bucket=bucket.id,
            object_lock_enabled="Enabled",
            rule=s3.BucketObjectLockConfigurationRuleArgs(
                default_retention=s3.BucketObjectLockConfigurationRuleDefaultRetentionArgs(mode="COMPLIANCE", days=retention_days)
            ),
            region=region,
            opts=after_versioning,
        )
        noncurrent = s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(noncurrent_days=1)
    block = s3.BucketPublicAccessBlock(
        f"{name}-public-access",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        region=region,
        opts=child,
    )
    s3.BucketOwnershipControls(
        f"{name}-ownership",
        bucket=bucket.id,
        rule=s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
        region=region,
        opts=child,
    )
    encryption = s3.BucketServerSideEncryptionConfiguration(
        f"{name}-encryption",
        bucket=bucket.id,
        rules=[
            s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="aws:kms", kms_master_key_id=kms_key_arn
                ),
                bucket_key_enabled=True,
            )
        ],
        region=region,
        opts=child,
    )
    s3.BucketLifecycleConfiguration(
        f"{name}-lifecycle",
        bucket=bucket.id,
        rules=[
            s3.BucketLifecycleConfigurationRuleArgs(
                id="bounded-retention",
                status="Enabled",
                filter=s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                expiration=s3.BucketLifecycleConfigurationRuleExpirationArgs(days=retention_days),
                noncurrent_version_expiration=noncurrent,
                abort_incomplete_multipart_upload=s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                    days_after_initiation=7
                ),
            )
        ],
        region=region,
        opts=after_versioning,
    )
    policy = s3.BucketPolicy(
        f"{name}-policy",
        bucket=bucket.id,
        policy=bucket.arn.apply(lambda arn: json.dumps(bucket_policy(arn, statements(arn)), sort_keys=True)),
        region=region,
        # a public-access block first: S3 judges the policy against it
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[block]),
    )
    return PrivateBucket(bucket=bucket, policy=policy, encryption=encryption)
