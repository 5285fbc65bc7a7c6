"""MtaStsHosting: serve the MTA-STS policy at https://mta-sts.<domain>/.well-known/mta-sts.txt.

The policy text comes from the records builder, which derives the `_mta-sts` TXT id
from the same text, so the served policy and the id can never disagree. This
component only serves those exact bytes, as `text/plain`, over HTTPS only.

Cloudflare (`provider="cloudflare"`): a module Worker returning the text (404 for any
other path, 405 for methods other than GET/HEAD), a route `mta-sts.<domain>/*`, and a
proxied AAAA `100::` record for `mta-sts.<domain>` (the usual pattern for a name
served only by a Worker). Cloudflare's Universal SSL covers the name.

Route53 (`provider="route53"`): a private S3 bucket (public access blocked, owner
enforced, SSE, TLS-only bucket policy that lets only this CloudFront distribution
read), the object `.well-known/mta-sts.txt`, a CloudFront distribution with Origin
Access Control, https-only viewers and TLSv1.2_2021, an ACM certificate in us-east-1
validated by DNS (ONE Route53 record whose name/type/value are Outputs of the
certificate's single domain validation option: no resource is created in an apply),
and alias A/AAAA records to the distribution.

Route53 with a tenancy (``mailinfra:mtaStsHosting: shared``, the default of a sharded
fleet): MtaStsTenancy declares, once per stack or fleet core, the private bucket, one
CloudFront multi-tenant distribution whose origin path is the tenant parameter
``/{{domain}}``, and a connection group; each domain then adds only its policy object
(``<domain>/.well-known/mta-sts.txt``), its certificate and validation record, a
DistributionTenant and the alias records to the connection group. A fleet of 1,000
domains is then 1 distribution, not 1,000 (the account's quota is 500).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
from pulumi import Input, Output, ResourceOptions

from mailinfra.policies.mailinfra_policy.standards.aws import CLOUDFRONT_ALIAS_ZONE_ID, CLOUDFRONT_SECURITY_POLICY

from .relay import check_domain, check_region, check_tags
from .errors import ArgsError

__all__ = [
    "ACM_REGION",
    "CACHING_OPTIMIZED_POLICY_ID",
    "POLICY_PATH",
    "MtaStsHosting",
    "MtaStsHostingArgs",
    "MtaStsHostingArgsError",
    "MtaStsTenancy",
    "MtaStsTenancyArgs",
    "MtaStsTenancyRef",
    "tenant_object_key",
    "worker_script",
]

POLICY_PATH = "/.well-known/mta-sts.txt"
ACM_REGION = "us-east-1"  # CloudFront only uses certificates from us-east-1
CACHING_OPTIMIZED_POLICY_ID = "658327ea-f89d-4fab-a63d-7e88639e58f6"  # AWS managed cache policy
WORKER_COMPATIBILITY_DATE = "2025-01-01"
CLOUDFLARE_WORKER_ONLY_AAAA = "100::"
TENANT_PARAMETER = "domain"  # the multi-tenant distribution's parameter: a tenant's bucket prefix


class MtaStsHostingArgsError(ArgsError):
    """An invalid MtaStsHosting argument: `"<argument>: <reason> (got <value!r>)"`."""


@dataclass(frozen=True)
class MtaStsHostingArgs:
    """Arguments of MtaStsHosting. Validated at construction (MtaStsHostingArgsError).

    - `policy_text`: the exact policy body from the records builder.
    - `provider`: "cloudflare" (needs `account_id`) or "route53".
    - `zone_id`: the Cloudflare zone id or Route53 hosted zone id of `domain`.
    - `region`: the stack's region (the S3 bucket's region, route53 only).
    - `certificate_provider`: optional aws provider for us-east-1 (ACM); whether or
      not it is given, the certificate is pinned to us-east-1 with `region`.
    """

    domain: str
    policy_text: str
    provider: str
    zone_id: Input[str]
    region: str | None = None
    account_id: Input[str] | None = None
    certificate_provider: pulumi.ProviderResource | None = None
    bucket_kms_key_arn: Input[str] | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    # route53: serve as a tenant of the shared multi-tenant distribution (MtaStsTenancy)
    tenancy: MtaStsTenancyRef | None = None

    def __post_init__(self) -> None:
        check_domain("domain", self.domain, MtaStsHostingArgsError)
        if not isinstance(self.policy_text, str) or not self.policy_text.startswith("version: STSv1"):
            raise MtaStsHostingArgsError(
                "policy_text",
                _short(self.policy_text),
                "must be an MTA-STS policy starting with 'version: STSv1'",
            )
        if self.provider not in ("cloudflare", "route53"):
            raise MtaStsHostingArgsError("provider", self.provider, "must be 'cloudflare' or 'route53'")
        if self.zone_id is None or (isinstance(self.zone_id, str) and not self.zone_id):
            raise MtaStsHostingArgsError("zone_id", self.zone_id, "must be the zone id of the domain")
        if self.provider == "cloudflare":
            if self.account_id is None or (isinstance(self.account_id, str) and not self.account_id):
                raise MtaStsHostingArgsError("account_id", self.account_id, "is required for Cloudflare Workers")
        else:
            check_region("region", self.region, MtaStsHostingArgsError)
            if self.certificate_provider is not None and not isinstance(self.certificate_provider, pulumi.ProviderResource):
                raise MtaStsHostingArgsError(
                    "certificate_provider",
                    type(self.certificate_provider).__name__,
                    "must be an aws provider",
                )
        if self.tenancy is not None:
            if self.provider != "route53":
                raise MtaStsHostingArgsError("tenancy", self.provider, "a CloudFront tenancy serves Route53 domains only")
            if not isinstance(self.tenancy, MtaStsTenancyRef):
                raise MtaStsHostingArgsError("tenancy", type(self.tenancy).__name__, "must be MtaStsTenancyRef")
        object.__setattr__(self, "tags", check_tags("tags", self.tags, MtaStsHostingArgsError))

    @property
    def host(self) -> str:
        return f"mta-sts.{self.domain}"

    @property
    def policy_url(self) -> str:
        return f"https://{self.host}{POLICY_PATH}"


def _short(value: object) -> object:
    return value[:40] + "..." if isinstance(value, str) and len(value) > 40 else value


def worker_script(policy_text: str) -> str:
    """A module Worker serving exactly `policy_text` at POLICY_PATH as text/plain."""
    return (
        f"const POLICY = {json.dumps(policy_text)};\n"
        "export default {\n"
        "  async fetch(request) {\n"
        "    const url = new URL(request.url);\n"
        f"    if (url.pathname !== {json.dumps(POLICY_PATH)}) {{\n"
        '      return new Response("Not Found\\n", { status: 404, headers: { "Content-Type": "text/plain" } });\n'
        "    }\n"
        '    if (request.method !== "GET" && request.method !== "HEAD") {\n'
        '      return new Response(null, { status: 405, headers: { "Allow": "GET, HEAD" } });\n'
        "    }\n"
        '    return new Response(request.method === "HEAD" ? null : POLICY, {\n'
        "      status: 200,\n"
        '      headers: { "Content-Type": "text/plain", "Cache-Control": "max-age=300" },\n'
        "    });\n"
        "  },\n"
        "};\n"
    )


def _dvo(options: Any, attr: str) -> Any:
    """One attribute of the certificate's single domain validation option (no trailing dot)."""
    if not options:
        return None  # unknown until ACM answers; a mock may omit it
    first = options[0]
    value = first.get(attr) if isinstance(first, Mapping) else getattr(first, attr, None)
    if value is None:
        # mocks return engine (camelCase) keys
        camel = attr.split("_")[0] + "".join(p.title() for p in attr.split("_")[1:])
        value = first.get(camel) if isinstance(first, Mapping) else None
    return value.rstrip(".") if isinstance(value, str) else value


class MtaStsHosting(pulumi.ComponentResource):
    """Hosts the MTA-STS policy for one domain on Cloudflare Workers or S3 + CloudFront."""

    host: str
    policy_url: str
    distribution_domain_name: Output[str] | None
    certificate_arn: Output[str] | None
    bucket_name: Output[str] | None
    worker_name: Output[str] | None

    def __init__(self, name: str, args: MtaStsHostingArgs, opts: ResourceOptions | None = None) -> None:
        if not isinstance(args, MtaStsHostingArgs):
            raise MtaStsHostingArgsError("args", type(args).__name__, "must be MtaStsHostingArgs")
        super().__init__("mailinfra:mtasts_hosting:MtaStsHosting", name, None, opts)
        self.host = args.host
        self.policy_url = args.policy_url
        self.distribution_domain_name = None
        self.certificate_arn = None
        self.bucket_name = None
        self.worker_name = None
        self.tenant_id: Output[str] | None = None
        if args.provider == "cloudflare":
            self._cloudflare(name, args)
        else:
            self._route53(name, args)
        self.register_outputs(
            {
                "host": self.host,
                "policy_url": self.policy_url,
                "distribution_domain_name": self.distribution_domain_name,
                "certificate_arn": self.certificate_arn,
            }
        )

    def _cloudflare(self, name: str, args: MtaStsHostingArgs) -> None:
        import pulumi_cloudflare as cloudflare  # only when a stack uses Cloudflare

        child = ResourceOptions(parent=self)
        script = cloudflare.WorkersScript(
            f"{name}-worker",
            account_id=args.account_id,  # type: ignore[arg-type]  # validated non-None
            script_name=f"{name}-mta-sts"[:63].lower(),
            content=worker_script(args.policy_text),
            main_module="worker.js",
            compatibility_date=WORKER_COMPATIBILITY_DATE,
            opts=child,
        )
        cloudflare.WorkersRoute(
            f"{name}-route",
            zone_id=args.zone_id,
            pattern=f"{args.host}/*",
            script=script.script_name,
            opts=child,
        )
        cloudflare.DnsRecord(
            f"{name}-host",
            zone_id=args.zone_id,
            name=args.host,
            type="AAAA",
            content=CLOUDFLARE_WORKER_ONLY_AAAA,
            proxied=True,
            ttl=1,  # "automatic": required for proxied records
            comment="MTA-STS policy host, served by a Worker",
            opts=child,
        )
        self.worker_name = script.script_name

    def _route53(self, name: str, args: MtaStsHostingArgs) -> None:
        child = ResourceOptions(parent=self)
        tags = dict(args.tags)
        validation = self._host_certificate(name, args)
        if args.tenancy is not None:
            self._as_tenant(name, args, args.tenancy, validation)
            return
        region = args.region
        bucket = _private_bucket(self, name, region, tags, args.bucket_kms_key_arn)
        aws.s3.BucketObjectv2(
            f"{name}-policy-object",
            bucket=bucket.bucket.id,
            key=POLICY_PATH.lstrip("/"),
            content=args.policy_text,
            content_type="text/plain",
            cache_control="max-age=300",
            region=region,
            tags=tags,
            opts=ResourceOptions(parent=self, depends_on=[bucket.encryption]),
        )
        oac = _origin_access_control(self, f"{name}-oac", f"{name}-mta-sts", f"MTA-STS policy bucket of {args.domain}")
        origin_id = "mta-sts-policy-bucket"
        distribution = aws.cloudfront.Distribution(
            f"{name}-cdn",
            enabled=True,
            is_ipv6_enabled=True,
            http_version="http2and3",
            comment=f"MTA-STS policy of {args.domain}",
            aliases=[args.host],
            origins=[
                aws.cloudfront.DistributionOriginArgs(
                    domain_name=bucket.bucket.bucket_regional_domain_name,
                    origin_id=origin_id,
                    origin_access_control_id=oac.id,
                )
            ],
            default_cache_behavior=aws.cloudfront.DistributionDefaultCacheBehaviorArgs(
                target_origin_id=origin_id,
                viewer_protocol_policy="https-only",
                allowed_methods=["GET", "HEAD"],
                cached_methods=["GET", "HEAD"],
                cache_policy_id=CACHING_OPTIMIZED_POLICY_ID,
                compress=True,
            ),
            restrictions=aws.cloudfront.DistributionRestrictionsArgs(
                geo_restriction=aws.cloudfront.DistributionRestrictionsGeoRestrictionArgs(restriction_type="none")
            ),
            viewer_certificate=aws.cloudfront.DistributionViewerCertificateArgs(
                acm_certificate_arn=validation.certificate_arn,
                ssl_support_method="sni-only",
                minimum_protocol_version=CLOUDFRONT_SECURITY_POLICY,
            ),
            tags=tags,
            opts=child,
        )
        bucket.allow_reads_from(self, f"{name}-policy-access", distribution.arn)
        self._alias_records(name, args, distribution.domain_name)
        self.distribution_domain_name = distribution.domain_name
        self.certificate_arn = validation.certificate_arn
        self.bucket_name = bucket.bucket.bucket

    def _host_certificate(self, name: str, args: MtaStsHostingArgs) -> aws.acm.CertificateValidation:
        """The host's ACM certificate in us-east-1, validated by DNS (one record, no apply-made resource)."""
        cert_opts = ResourceOptions(parent=self, provider=args.certificate_provider)
        cert = aws.acm.Certificate(
            f"{name}-cert",
            domain_name=args.host,
            validation_method="DNS",
            key_algorithm="RSA_2048",
            region=ACM_REGION,
            tags=dict(args.tags),
            opts=cert_opts,
        )
        dvo = cert.domain_validation_options
        validation_record = aws.route53.Record(
            f"{name}-cert-validation",
            zone_id=args.zone_id,
            name=dvo.apply(lambda o: _dvo(o, "resource_record_name")),
            type=dvo.apply(lambda o: _dvo(o, "resource_record_type")),
            records=[dvo.apply(lambda o: _dvo(o, "resource_record_value"))],
            ttl=300,
            allow_overwrite=True,
            opts=ResourceOptions(parent=self),
        )
        return aws.acm.CertificateValidation(
            f"{name}-cert-validation",
            certificate_arn=cert.arn,
            validation_record_fqdns=[validation_record.fqdn],
            region=ACM_REGION,
            opts=cert_opts,
        )

    def _alias_records(self, name: str, args: MtaStsHostingArgs, target: Input[str]) -> None:
        for record_type in ("A", "AAAA"):
            aws.route53.Record(
                f"{name}-alias-{record_type.lower()}",
                zone_id=args.zone_id,
                name=args.host,
                type=record_type,
                aliases=[
                    aws.route53.RecordAliasArgs(name=target, zone_id=CLOUDFRONT_ALIAS_ZONE_ID, evaluate_target_health=False)
                ],
                opts=ResourceOptions(parent=self),
            )

    def _as_tenant(
        self, name: str, args: MtaStsHostingArgs, tenancy: MtaStsTenancyRef, validation: aws.acm.CertificateValidation
    ) -> None:
        """The domain as a tenant of the fleet's multi-tenant distribution: its policy object
        under its own prefix of the shared bucket, the tenant (the domain's host, the
        prefix as its origin path parameter, its certificate) and the alias records."""
        tags = dict(args.tags)
        aws.s3.BucketObjectv2(
            f"{name}-policy-object",
            bucket=tenancy.bucket_name,
            key=tenant_object_key(args.domain),
            content=args.policy_text,
            content_type="text/plain",
            cache_control="max-age=300",
            region=args.region,
            tags=tags,
            opts=ResourceOptions(parent=self),
        )
        tenant = aws.cloudfront.DistributionTenant(
            f"{name}-tenant",
            name=tenant_name(args.domain),
            distribution_id=tenancy.distribution_id,
            connection_group_id=tenancy.connection_group_id,
            domains=[aws.cloudfront.DistributionTenantDomainArgs(domain=args.host)],
            parameters=[aws.cloudfront.DistributionTenantParameterArgs(name=TENANT_PARAMETER, value=args.domain)],
            customizations=aws.cloudfront.DistributionTenantCustomizationsArgs(
                certificate=aws.cloudfront.DistributionTenantCustomizationsCertificateArgs(arn=validation.certificate_arn)
            ),
            enabled=True,
            tags=tags,
            opts=ResourceOptions(parent=self),
        )
        self._alias_records(name, args, tenancy.routing_endpoint)
        self.distribution_domain_name = Output.from_input(tenancy.routing_endpoint)
        self.certificate_arn = validation.certificate_arn
        self.bucket_name = Output.from_input(tenancy.bucket_name)
        self.tenant_id = tenant.id


def tenant_object_key(domain: str) -> str:
    """Where a tenant's policy lives in the shared bucket: its domain is the origin path."""
    return f"{domain}{POLICY_PATH}"


def tenant_name(domain: str) -> str:
    """The DistributionTenant name: unique per account, from the domain (at most 128 characters)."""
    return f"mta-sts-{domain.replace('.', '-')}"[:128]


@dataclass
class _PrivateBucket:
    bucket: aws.s3.Bucket
    public_block: aws.s3.BucketPublicAccessBlock
    encryption: aws.s3.BucketServerSideEncryptionConfiguration
    region: str | None

    def allow_reads_from(self, parent: pulumi.Resource, name: str, distribution_arn: Input[str]) -> aws.s3.BucketPolicy:
        """Only this CloudFront distribution reads (OAC), nothing over plain HTTP."""
        return aws.s3.BucketPolicy(
            name,
            bucket=self.bucket.id,
            policy=Output.all(self.bucket.arn, distribution_arn).apply(lambda a: _bucket_policy(a[0], a[1])),
            region=self.region,
            opts=ResourceOptions(parent=parent, depends_on=[self.public_block]),
        )


def _private_bucket(
    parent: pulumi.Resource, name: str, region: str | None, tags: dict[str, str], kms_key_arn: Input[str] | None
) -> _PrivateBucket:
    """The policy bucket: public access blocked, owner enforced, encrypted."""
    child = ResourceOptions(parent=parent)
    bucket = aws.s3.Bucket(f"{name}-policy", region=region, tags=tags, opts=child)
    public_block = aws.s3.BucketPublicAccessBlock(
        f"{name}-policy-public-block",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        region=region,
        opts=child,
    )
    aws.s3.BucketOwnershipControls(
        f"{name}-policy-ownership",
        bucket=bucket.id,
        rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
        region=region,
        opts=child,
    )
    if kms_key_arn is not None:
        sse = aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
            sse_algorithm="aws:kms", kms_master_key_id=kms_key_arn
        )
    else:
        sse = aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(sse_algorithm="AES256")
    encryption = aws.s3.BucketServerSideEncryptionConfiguration(
        f"{name}-policy-sse",
        bucket=bucket.id,
        rules=[
            aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=sse, bucket_key_enabled=True
            )
        ],
        region=region,
        opts=child,
    )
    return _PrivateBucket(bucket, public_block, encryption, region)


def _origin_access_control(
    parent: pulumi.Resource, name: str, oac_name: str, description: str
) -> aws.cloudfront.OriginAccessControl:
    return aws.cloudfront.OriginAccessControl(
        name,
        name=oac_name[:64],
        description=description,
        origin_access_control_origin_type="s3",
        signing_behavior="always",
        signing_protocol="sigv4",
        opts=ResourceOptions(parent=parent),
    )


@dataclass(frozen=True)
class MtaStsTenancyRef:
    """What a domain needs to be a tenant of the fleet's MTA-STS distribution: the
    outputs of MtaStsTenancy, in the same stack or read from a fleet's core."""

    bucket_name: Input[str]
    distribution_id: Input[str]
    connection_group_id: Input[str]
    routing_endpoint: Input[str]


@dataclass(frozen=True)
class MtaStsTenancyArgs:
    """Arguments of MtaStsTenancy. Validated at construction (MtaStsHostingArgsError)."""

    region: str
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_region("region", self.region, MtaStsHostingArgsError)
        object.__setattr__(self, "tags", check_tags("tags", self.tags, MtaStsHostingArgsError))


class MtaStsTenancy(pulumi.ComponentResource):
    """One CloudFront multi-tenant distribution that serves the MTA-STS policy of every
    domain of a stack or fleet (README "Shared per-fleet resources").

    A private bucket holds each domain's policy under ``<domain>/.well-known/mta-sts.txt``;
    the distribution's origin path is the tenant parameter ``/{{domain}}``, so a tenant
    (a request for ``mta-sts.<domain>``) reads only its own prefix. One connection group
    with IPv6 gives the alias target of every tenant's A/AAAA records. Distributions are
    limited per account (cloudfrontDistributions, 500); tenants are 10,000 per account.
    """

    bucket_name: Output[str]
    distribution_id: Output[str]
    connection_group_id: Output[str]
    routing_endpoint: Output[str]

    def __init__(self, name: str, args: MtaStsTenancyArgs, opts: ResourceOptions | None = None) -> None:
        if not isinstance(args, MtaStsTenancyArgs):
            raise MtaStsHostingArgsError("args", type(args).__name__, "must be MtaStsTenancyArgs")
        super().__init__("mailinfra:mtasts_hosting:MtaStsTenancy", name, None, opts)
        child = ResourceOptions(parent=self)
        tags = dict(args.tags)
        bucket = _private_bucket(self, name, args.region, tags, None)
        oac = _origin_access_control(self, f"{name}-oac", f"{name}-mta-sts", "MTA-STS policy bucket of the fleet")
        origin_id = "mta-sts-policy-bucket"
        distribution = aws.cloudfront.MultitenantDistribution(
            f"{name}-cdn",
            enabled=True,
            http_version="http2and3",
            comment="MTA-STS policies of the fleet, one tenant per domain",
            origins=[
                aws.cloudfront.MultitenantDistributionOriginArgs(
                    domain_name=bucket.bucket.bucket_regional_domain_name,
                    id=origin_id,
                    origin_path="/{{" + TENANT_PARAMETER + "}}",
                    origin_access_control_id=oac.id,
                )
            ],
            default_cache_behavior=aws.cloudfront.MultitenantDistributionDefaultCacheBehaviorArgs(
                target_origin_id=origin_id,
                viewer_protocol_policy="https-only",
                allowed_methods=aws.cloudfront.MultitenantDistributionDefaultCacheBehaviorAllowedMethodsArgs(
                    items=["GET", "HEAD"], cached_methods=["GET", "HEAD"]
                ),
                cache_policy_id=CACHING_OPTIMIZED_POLICY_ID,
                compress=True,
            ),
            restrictions=aws.cloudfront.MultitenantDistributionRestrictionsArgs(
                geo_restriction=aws.cloudfront.MultitenantDistributionRestrictionsGeoRestrictionArgs(restriction_type="none")
            ),
            # each tenant brings its own certificate (DistributionTenant customizations)
            viewer_certificate=aws.cloudfront.MultitenantDistributionViewerCertificateArgs(cloudfront_default_certificate=True),
            tenant_config=aws.cloudfront.MultitenantDistributionTenantConfigArgs(
                parameter_definitions=[
                    aws.cloudfront.MultitenantDistributionTenantConfigParameterDefinitionArgs(
                        name=TENANT_PARAMETER,
                        definitions=[
                            aws.cloudfront.MultitenantDistributionTenantConfigParameterDefinitionDefinitionArgs(
                                string_schemas=[
                                    aws.cloudfront.MultitenantDistributionTenantConfigParameterDefinitionDefinitionStringSchemaArgs(
                                        required=True, comment="the sending domain: its prefix in the policy bucket"
                                    )
                                ]
                            )
                        ],
                    )
                ]
            ),
            tags=tags,
            opts=child,
        )
        group = aws.cloudfront.ConnectionGroup(
            f"{name}-connections", name=f"{name}-mta-sts"[:128], enabled=True, ipv6_enabled=True, tags=tags, opts=child
        )
        bucket.allow_reads_from(self, f"{name}-policy-access", distribution.arn)
        self.bucket_name = bucket.bucket.bucket
        self.distribution_id = distribution.id
        self.connection_group_id = group.id
        self.routing_endpoint = group.routing_endpoint
        self.register_outputs(
            {
                "bucket_name": self.bucket_name,
                "distribution_id": self.distribution_id,
                "connection_group_id": self.connection_group_id,
                "routing_endpoint": self.routing_endpoint,
            }
        )

    @property
    def ref(self) -> MtaStsTenancyRef:
        return MtaStsTenancyRef(self.bucket_name, self.distribution_id, self.connection_group_id, self.routing_endpoint)


def _bucket_policy(bucket_arn: str, distribution_arn: str) -> str:
    """Only this CloudFront distribution reads; nothing over plain HTTP."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AllowCloudFrontOacRead",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudfront.amazonaws.com"},
                    "Action": "s3:GetObject",
                    "Resource": f"{bucket_arn}/*",
                    "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}},
                },
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket_arn, f"{bucket_arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
            ],
        },
        sort_keys=True,
    )
