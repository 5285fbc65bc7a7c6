"""MtaStsHosting: the policy served at https://mta-sts.<domain>/.well-known/mta-sts.txt."""

from __future__ import annotations

import json
from typing import Any

import pulumi_aws as aws
import pytest

from mailinfra.components.mtasts_hosting import (
    CACHING_OPTIMIZED_POLICY_ID,
    MtaStsHosting,
    MtaStsHostingArgs,
    MtaStsHostingArgsError,
    MtaStsTenancy,
    MtaStsTenancyArgs,
    MtaStsTenancyRef,
    TENANT_PARAMETER,
    tenant_object_key,
    worker_script,
)
from mailinfra.policies.mailinfra_policy import ALL
from tests.helpers import build
from tests.test_policies_helpers import run_resource

POLICY = "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmax_age: 604800\r\n"
TAGS = {"owner": "mail", "environment": "prod", "data-classification": "public"}
DVO_NAME = "_0123abcd.mta-sts.example.com."
DVO_VALUE = "_4567efgh.abcdefghij.acm-validations.aws."


@pytest.fixture
def mocks(pulumi_mocks):
    """Shared recorder with the computed outputs ACM, S3 and CloudFront return."""
    original = pulumi_mocks.new_resource

    def new_resource(args):
        rid, state = original(args)
        if args.typ == "aws:acm/certificate:Certificate":
            state = {
                **state,
                "domainValidationOptions": [
                    {
                        "domainName": state["domainName"],
                        "resourceRecordName": DVO_NAME,
                        "resourceRecordType": "CNAME",
                        "resourceRecordValue": DVO_VALUE,
                    }
                ],
            }
        elif args.typ == "aws:acm/certificateValidation:CertificateValidation":
            state = {**state, "certificateArn": state["certificateArn"]}
        elif args.typ == "aws:s3/bucket:Bucket":
            state = {
                **state,
                "bucket": rid,
                "bucketRegionalDomainName": f"{rid}.s3.eu-west-1.amazonaws.com",
            }
        elif args.typ == "aws:cloudfront/distribution:Distribution":
            state = {
                **state,
                "domainName": "d111111abcdef8.cloudfront.net",
                "hostedZoneId": "Z2FDTNDATAQYW2",
            }
        elif args.typ == "aws:route53/record:Record":
            state = {**state, "fqdn": state.get("name")}
        return rid, state

    pulumi_mocks.new_resource = new_resource
    return pulumi_mocks


def _route53_args(**over: Any) -> MtaStsHostingArgs:
    base: dict[str, Any] = {
        "domain": "example.com",
        "policy_text": POLICY,
        "provider": "route53",
        "zone_id": "Z123",
        "region": "eu-west-1",
        "tags": TAGS,
    }
    base.update(over)
    return MtaStsHostingArgs(**base)


def _cloudflare_args(**over: Any) -> MtaStsHostingArgs:
    base: dict[str, Any] = {
        "domain": "example.com",
        "policy_text": POLICY,
        "provider": "cloudflare",
        "zone_id": "zone123",
        "account_id": "acct1",
    }
    base.update(over)
    return MtaStsHostingArgs(**base)


def _one(mocks, type_: str):
    found = mocks.of_type(type_)
    assert len(found) == 1, f"{type_}: {len(found)}"
    return found[0]


# --- Cloudflare ---------------------------------------------------------------------


def test_cloudflare_worker_route_and_record(mocks):
    hosting, out = build(
        lambda: MtaStsHosting("example-com-mta-sts", _cloudflare_args()),
        worker=lambda h: h.worker_name,
    )
    script = _one(mocks, "cloudflare:index/workersScript:WorkersScript")
    assert script.inputs["accountId"] == "acct1"
    assert script.inputs["mainModule"] == "worker.js"
    assert script.inputs["scriptName"] == out["worker"]
    assert script.inputs["content"] == worker_script(POLICY)
    route = _one(mocks, "cloudflare:index/workersRoute:WorkersRoute")
    assert route.inputs == {
        "zoneId": "zone123",
        "pattern": "mta-sts.example.com/*",
        "script": out["worker"],
    }
    record = _one(mocks, "cloudflare:index/dnsRecord:DnsRecord")
    assert record.inputs["name"] == "mta-sts.example.com"
    assert record.inputs["type"] == "AAAA"
    assert record.inputs["content"] == "100::"
    assert record.inputs["proxied"] is True
    assert record.inputs["zoneId"] == "zone123"
    assert hosting.policy_url == "https://mta-sts.example.com/.well-known/mta-sts.txt"
    assert not [r for r in mocks.registered if r.type.startswith("aws:")]


def test_worker_serves_exact_policy_as_text_plain() -> None:
    js = worker_script(POLICY)
    # the policy is embedded as one JSON (= JS) string literal, byte for byte
    literal = js.split("const POLICY = ", 1)[1].split(";\n", 1)[0]
    assert json.loads(literal) == POLICY
    assert '"Content-Type": "text/plain"' in js
    assert 'url.pathname !== "/.well-known/mta-sts.txt"' in js
    assert "status: 404" in js and "status: 405" in js


# --- Route53 / S3 / CloudFront / ACM --------------------------------------------------


def test_route53_bucket_is_private_and_encrypted(mocks):
    _hosting, out = build(
        lambda: MtaStsHosting("example-com-mta-sts", _route53_args()),
        bucket=lambda h: h.bucket_name,
    )
    bucket = _one(mocks, "aws:s3/bucket:Bucket")
    assert bucket.inputs["tags"] == TAGS and bucket.inputs["region"] == "eu-west-1"
    block = _one(mocks, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert all(
        block.inputs[k] is True
        for k in (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
    )
    own = _one(mocks, "aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    assert own.inputs["rule"]["objectOwnership"] == "BucketOwnerEnforced"
    sse = _one(
        mocks,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    )
    assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    obj = _one(mocks, "aws:s3/bucketObjectv2:BucketObjectv2")
    assert obj.inputs["key"] == ".well-known/mta-sts.txt"
    assert obj.inputs["content"] == POLICY
    assert obj.inputs["contentType"] == "text/plain"
    assert obj.inputs["bucket"] == out["bucket"]
    policy = json.loads(_one(mocks, "aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])
    allow, deny = policy["Statement"]
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow["Action"] == "s3:GetObject"
    assert allow["Condition"]["StringEquals"]["AWS:SourceArn"].endswith("/example-com-mta-sts-cdn")
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_route53_bucket_may_use_the_cmk(mocks):
    kms = "arn:aws:kms:eu-west-1:123456789012:key/abc"
    build(lambda: MtaStsHosting("m", _route53_args(bucket_kms_key_arn=kms)))
    sse = _one(
        mocks,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    )
    rule = sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]
    assert rule == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": kms}


def test_route53_cloudfront_https_only_tls12(mocks):
    _hosting, out = build(
        lambda: MtaStsHosting("example-com-mta-sts", _route53_args()),
        domain=lambda h: h.distribution_domain_name,
        cert=lambda h: h.certificate_arn,
    )
    dist = _one(mocks, "aws:cloudfront/distribution:Distribution")
    i = dist.inputs
    assert i["aliases"] == ["mta-sts.example.com"]
    assert i["enabled"] is True
    assert i["defaultCacheBehavior"]["viewerProtocolPolicy"] == "https-only"
    assert i["defaultCacheBehavior"]["allowedMethods"] == ["GET", "HEAD"]
    assert i["defaultCacheBehavior"]["cachePolicyId"] == CACHING_OPTIMIZED_POLICY_ID
    assert i["viewerCertificate"]["minimumProtocolVersion"] == "TLSv1.2_2021"
    assert i["viewerCertificate"]["sslSupportMethod"] == "sni-only"
    assert i["viewerCertificate"]["acmCertificateArn"] == out["cert"]
    assert i["tags"] == TAGS
    oac = _one(mocks, "aws:cloudfront/originAccessControl:OriginAccessControl")
    assert oac.inputs["originAccessControlOriginType"] == "s3"
    assert oac.inputs["signingBehavior"] == "always"
    assert oac.inputs["signingProtocol"] == "sigv4"
    (origin,) = i["origins"]
    assert origin["originAccessControlId"] == "example-com-mta-sts-oac-id"
    assert origin["domainName"].endswith(".s3.eu-west-1.amazonaws.com")
    assert "s3OriginConfig" not in origin and "customOriginConfig" not in origin
    assert out["domain"] == "d111111abcdef8.cloudfront.net"


def test_route53_certificate_in_us_east_1_with_dns_validation(mocks):
    build(
        lambda: MtaStsHosting("example-com-mta-sts", _route53_args()),
        cert=lambda h: h.certificate_arn,
    )
    cert = _one(mocks, "aws:acm/certificate:Certificate")
    assert cert.inputs["domainName"] == "mta-sts.example.com"
    assert cert.inputs["validationMethod"] == "DNS"
    assert cert.inputs["region"] == "us-east-1"
    assert cert.inputs["tags"] == TAGS
    records = {r.name: r for r in mocks.of_type("aws:route53/record:Record")}
    val = records["example-com-mta-sts-cert-validation"]
    assert val.inputs["zoneId"] == "Z123"
    assert val.inputs["name"] == DVO_NAME.rstrip(".")
    assert val.inputs["type"] == "CNAME"
    assert val.inputs["records"] == [DVO_VALUE.rstrip(".")]
    validation = _one(mocks, "aws:acm/certificateValidation:CertificateValidation")
    assert validation.inputs["validationRecordFqdns"] == [DVO_NAME.rstrip(".")]
    assert validation.inputs["region"] == "us-east-1"


def test_route53_alias_records(mocks):
    build(lambda: MtaStsHosting("example-com-mta-sts", _route53_args()))
    aliases = [r for r in mocks.of_type("aws:route53/record:Record") if "aliases" in r.inputs]
    assert sorted(r.inputs["type"] for r in aliases) == ["A", "AAAA"]
    for r in aliases:
        assert r.inputs["name"] == "mta-sts.example.com"
        assert r.inputs["zoneId"] == "Z123"
        assert r.inputs["aliases"] == [
            {
                "name": "d111111abcdef8.cloudfront.net",
                "zoneId": "Z2FDTNDATAQYW2",
                "evaluateTargetHealth": False,
            }
        ]


def test_route53_certificate_uses_given_provider(mocks):
    holder: dict[str, Any] = {}

    def make():
        prov = aws.Provider("use1", region="us-east-1")
        holder["prov"] = prov
        return MtaStsHosting("m", _route53_args(certificate_provider=prov))

    build(make)
    (prov,) = mocks.of_type("pulumi:providers:aws")
    cert = _one(mocks, "aws:acm/certificate:Certificate")
    validation = _one(mocks, "aws:acm/certificateValidation:CertificateValidation")
    assert cert.provider.startswith(prov.urn) and validation.provider.startswith(prov.urn)
    bucket = _one(mocks, "aws:s3/bucket:Bucket")
    assert not bucket.provider.startswith(prov.urn)


def test_route53_children_parented_and_named(mocks):
    build(
        lambda: (
            MtaStsHosting("a-mta-sts", _route53_args()),
            MtaStsHosting("b-mta-sts", _route53_args(domain="example.org")),
        )
    )
    comps = {r.urn: r for r in mocks.registered if r.type == "mailinfra:mtasts_hosting:MtaStsHosting"}
    children = [r for r in mocks.registered if r.urn not in comps]
    assert all(r.parent in comps for r in children)
    assert all(r.name.startswith(comps[r.parent].name + "-") for r in children)
    assert len({(r.type, r.name) for r in children}) == len(children)
    taggable = {
        "aws:s3/bucket:Bucket",
        "aws:s3/bucketObjectv2:BucketObjectv2",
        "aws:acm/certificate:Certificate",
        "aws:cloudfront/distribution:Distribution",
    }
    assert all(r.inputs.get("tags") == TAGS for r in children if r.type in taggable)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: _route53_args(domain="example.com."),
            "domain: must be lowercase, without a trailing dot, at most 253 characters (got 'example.com.')",
        ),
        (
            lambda: _route53_args(policy_text="mode: enforce"),
            "policy_text: must be an MTA-STS policy starting with 'version: STSv1' (got 'mode: enforce')",
        ),
        (
            lambda: _route53_args(provider="gandi"),
            "provider: must be 'cloudflare' or 'route53' (got 'gandi')",
        ),
        (
            lambda: _route53_args(zone_id=""),
            "zone_id: must be the zone id of the domain (got '')",
        ),
        (
            lambda: _route53_args(region=None),
            "region: must be an AWS region name such as eu-west-1 (got None)",
        ),
        (
            lambda: _route53_args(certificate_provider="us-east-1"),
            "certificate_provider: must be an aws provider (got 'str')",
        ),
        (
            lambda: _cloudflare_args(account_id=None),
            "account_id: is required for Cloudflare Workers (got None)",
        ),
        (
            lambda: _cloudflare_args(tags={"a": 1}),
            "tags: must be a mapping of non-empty str keys to str values (got {'a': 1})",
        ),
    ],
)
def test_args_validation_messages(make, message: str) -> None:
    with pytest.raises(MtaStsHostingArgsError) as err:
        make()
    assert str(err.value) == message


# --- shared: one multi-tenant distribution, a tenant per domain (mtaStsHosting: shared) ----

TENANCY = MtaStsTenancyRef(
    bucket_name="fleet-mta-sts-bucket",
    distribution_id="E2MULTITENANT",
    connection_group_id="cg_abc",
    routing_endpoint="d222222abcdef8.cloudfront.net",
)


def test_tenancy_is_one_private_bucket_and_one_multitenant_distribution(mocks):
    tenancy, out = build(
        lambda: MtaStsTenancy("mta-sts", MtaStsTenancyArgs(region="eu-west-1", tags=TAGS)),
        bucket=lambda t: t.bucket_name,
        distribution=lambda t: t.distribution_id,
    )
    assert not mocks.of_type("aws:cloudfront/distribution:Distribution")
    dist = _one(mocks, "aws:cloudfront/multitenantDistribution:MultitenantDistribution")
    i = dist.inputs
    (origin,) = i["origins"]
    # each tenant reads only its own prefix: the origin path is the tenant's parameter
    assert origin["originPath"] == "/{{" + TENANT_PARAMETER + "}}"
    assert origin["originAccessControlId"]
    (param,) = i["tenantConfig"]["parameterDefinitions"]
    assert param["name"] == TENANT_PARAMETER
    assert param["definitions"][0]["stringSchemas"][0]["required"] is True
    behaviour = i["defaultCacheBehavior"]
    assert behaviour["viewerProtocolPolicy"] == "https-only"
    assert behaviour["allowedMethods"] == {"items": ["GET", "HEAD"], "cachedMethods": ["GET", "HEAD"]}
    assert behaviour["targetOriginId"] == origin["id"]
    group = _one(mocks, "aws:cloudfront/connectionGroup:ConnectionGroup")
    assert group.inputs["ipv6Enabled"] is True and group.inputs["enabled"] is True
    # the same private bucket settings as a domain's own
    block = _one(mocks, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert block.inputs["restrictPublicBuckets"] is True and block.inputs["blockPublicPolicy"] is True
    allow, deny = json.loads(_one(mocks, "aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])["Statement"]
    assert allow["Condition"]["StringEquals"]["AWS:SourceArn"].endswith("/mta-sts-cdn")
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert not mocks.of_type("aws:s3/bucketObjectv2:BucketObjectv2")  # the tenants write their policies
    assert out["bucket"] and tenancy.ref.bucket_name is tenancy.bucket_name


def test_a_tenant_declares_no_distribution_bucket_or_access_control(mocks):
    _hosting, out = build(
        lambda: MtaStsHosting("example-com-mta-sts", _route53_args(tenancy=TENANCY)),
        bucket=lambda h: h.bucket_name,
        target=lambda h: h.distribution_domain_name,
        tenant=lambda h: h.tenant_id,
    )
    for absent in (
        "aws:cloudfront/distribution:Distribution",
        "aws:cloudfront/multitenantDistribution:MultitenantDistribution",
        "aws:cloudfront/originAccessControl:OriginAccessControl",
        "aws:s3/bucket:Bucket",
        "aws:s3/bucketPolicy:BucketPolicy",
    ):
        assert not mocks.of_type(absent), absent
    obj = _one(mocks, "aws:s3/bucketObjectv2:BucketObjectv2")
    assert obj.inputs["bucket"] == "fleet-mta-sts-bucket"
    assert obj.inputs["key"] == "example.com/.well-known/mta-sts.txt" == tenant_object_key("example.com")
    assert obj.inputs["content"] == POLICY and obj.inputs["contentType"] == "text/plain"
    tenant = _one(mocks, "aws:cloudfront/distributionTenant:DistributionTenant")
    t = tenant.inputs
    assert t["distributionId"] == "E2MULTITENANT" and t["connectionGroupId"] == "cg_abc"
    assert t["domains"] == [{"domain": "mta-sts.example.com"}]
    assert t["parameters"] == [{"name": TENANT_PARAMETER, "value": "example.com"}]
    validation = _one(mocks, "aws:acm/certificateValidation:CertificateValidation")
    assert t["customizations"]["certificate"]["arn"] == validation.inputs["certificateArn"]
    assert _one(mocks, "aws:acm/certificate:Certificate").inputs["region"] == "us-east-1"
    aliases = [r for r in mocks.of_type("aws:route53/record:Record") if r.inputs.get("aliases")]
    assert sorted(r.inputs["type"] for r in aliases) == ["A", "AAAA"]
    for r in aliases:
        assert r.inputs["name"] == "mta-sts.example.com"
        assert r.inputs["aliases"] == [
            {"name": "d222222abcdef8.cloudfront.net", "zoneId": "Z2FDTNDATAQYW2", "evaluateTargetHealth": False}
        ]
    assert out["bucket"] == "fleet-mta-sts-bucket" and out["target"] == "d222222abcdef8.cloudfront.net"
    assert out["tenant"]


def test_tenancy_arguments_are_checked() -> None:
    with pytest.raises(MtaStsHostingArgsError, match=r"tenancy: a CloudFront tenancy serves Route53 domains only"):
        _cloudflare_args(tenancy=TENANCY)
    with pytest.raises(MtaStsHostingArgsError, match=r"tenancy: must be MtaStsTenancyRef"):
        _route53_args(tenancy={"bucket_name": "b"})
    with pytest.raises(MtaStsHostingArgsError, match=r"region"):
        MtaStsTenancyArgs(region="mars-1")


CLOUDFRONT = "aws:cloudfront/distribution:Distribution"
MULTITENANT = "aws:cloudfront/multitenantDistribution:MultitenantDistribution"


def _viewer_tls(type_: str, props: dict[str, Any]) -> list[str]:
    (policy,) = [p for p in ALL if p.name == "cloudfront-viewer-tls"]
    return run_resource(policy, type_, props)


def _distribution(policy: str = "https-only", **cert: Any) -> dict[str, Any]:
    return {
        "defaultCacheBehavior": {"viewerProtocolPolicy": policy},
        "viewerCertificate": cert
        or {"acmCertificateArn": "arn:aws:acm:us-east-1:1:certificate/x", "minimumProtocolVersion": "TLSv1.2_2021"},
    }


@pytest.mark.parametrize(
    ("policy", "bad"),
    [
        ("TLSv1.2_2021", False),
        ("TLSv1.2_2025", False),
        ("TLSv1.3_2025", False),
        ("TLSv1.2_2018", False),
        ("TLSv1.1_2016", True),
        ("TLSv1_2016", True),
        ("TLSv1", True),
        ("SSLv3", True),
        ("TLS-1.2", True),
    ],
)
def test_viewer_tls_security_policy(policy: str, bad: bool) -> None:
    cert = {"acmCertificateArn": "arn:aws:acm:us-east-1:1:certificate/x", "minimumProtocolVersion": policy}
    found = _viewer_tls(CLOUDFRONT, _distribution(**cert))
    assert bool(found) is bad, found
    if bad:
        assert policy in found[0]


def test_viewer_tls_behaviours_and_default_certificate() -> None:
    assert _viewer_tls(CLOUDFRONT, _distribution("redirect-to-https")) == []
    ordered = {
        **_distribution(),
        "orderedCacheBehaviors": [{"viewerProtocolPolicy": "https-only"}, {"viewerProtocolPolicy": "allow-all"}],
    }
    (message,) = _viewer_tls(CLOUDFRONT, ordered)
    assert message.startswith("orderedCacheBehaviors[1].viewerProtocolPolicy") and "'allow-all'" in message
    (message,) = _viewer_tls(CLOUDFRONT, _distribution(cloudfrontDefaultCertificate=True))
    assert "default certificate" in message
    # A multi-tenant distribution serves each tenant's certificate: only its behaviours count.
    tenants = {
        "defaultCacheBehavior": {"viewerProtocolPolicy": "https-only"},
        "viewerCertificate": {"cloudfrontDefaultCertificate": True},
    }
    assert _viewer_tls(MULTITENANT, tenants) == []
    tenants["defaultCacheBehavior"] = {"viewerProtocolPolicy": "allow-all"}
    assert len(_viewer_tls(MULTITENANT, tenants)) == 1
