# ruff: noqa: C408 - the case table reads better as dict(...) rows
"""Every rule of the pack: compliant, noncompliant, missing property, unknown property,
and the config override (environment level table, policy-config enforcementLevel),
calling `validate` directly and through the offline runner."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mailinfra.policyrun import run_policies
from mailinfra.policies.mailinfra_policy import ALL, LEVELS, REMEDIATION, SEVERITY
from mailinfra.policies.mailinfra_policy.standards import txt
from tests.policy_cases_audit import CASES as AUDIT_CASES
from tests.policy_cases_events import CASES as EVENTS_CASES
from tests.policy_cases_fleet import CASES as FLEET_CASES
from tests.policy_cases_privacy import CASES as PRIVACY_CASES
from tests.policy_cases_quotas import CASES as QUOTAS_CASES
from tests.test_policies_helpers import (
    UNKNOWN,
    make_plan,
    pack_env,
    run_resource,
    run_stack,
)

R53 = "aws:route53/record:Record"
CF = "cloudflare:index/dnsRecord:DnsRecord"
KEY = "aws:kms/key:Key"
SG = "aws:ec2/securityGroup:SecurityGroup"
SGR = "aws:ec2/securityGroupRule:SecurityGroupRule"
SGI = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
CS = "aws:sesv2/configurationSet:ConfigurationSet"
ID = "aws:sesv2/emailIdentity:EmailIdentity"
ZS = "cloudflare:index/zoneSetting:ZoneSetting"
MAIL_FROM = "aws:sesv2/emailIdentityMailFromAttributes:EmailIdentityMailFromAttributes"
TAGS = {"owner": "team", "environment": "prod", "data-classification": "internal"}


def _dkim_value(bits: int) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


DKIM_2048 = _dkim_value(2048)
DKIM_1024 = _dkim_value(1024)


def r53(name: str, value: str, **extra: Any) -> dict[str, Any]:
    return {"zoneId": "Z1", "name": name, "type": "TXT", "ttl": 300, "records": [txt.route53_txt(value)], **extra}


def cname(name: str, target: str) -> dict[str, Any]:
    return {"zoneId": "Z1", "name": name, "type": "CNAME", "ttl": 300, "records": [target]}


def spf_with(lookups: int) -> str:
    return "v=spf1 " + " ".join(f"include:s{i}.example.net" for i in range(lookups)) + " -all"


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


ROOT = {
    "Sid": "Root",
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
    "Action": "kms:*",
    "Resource": "*",
}
DENY_NO_MFA = {
    "Sid": "NoMfaNoDestroy",
    "Effect": "Deny",
    "Principal": {"AWS": "*"},
    "Action": ["kms:Disable*", "kms:ScheduleKeyDeletion"],
    "Resource": "*",
    "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
}
DNSSEC = {
    "Sid": "Route53Dnssec",
    "Effect": "Allow",
    "Principal": {"Service": "dnssec-route53.amazonaws.com"},
    "Action": ["kms:DescribeKey", "kms:GetPublicKey", "kms:Sign"],
    "Resource": "*",
}
KSK = {"customerMasterKeySpec": "ECC_NIST_P256", "keyUsage": "SIGN_VERIFY", "region": "us-east-1", "policy": doc(ROOT, DNSSEC)}
SEND = {
    "Sid": "Send",
    "Effect": "Allow",
    "Action": ["ses:SendRawEmail", "ses:SendEmail"],
    "Resource": ["arn:aws:ses:eu-west-1:123456789012:identity/example.com"],
    "Condition": {"StringLike": {"ses:FromAddress": "*@example.com"}},
}
COMPLIANCE = {
    "mailinfra:compliance": {
        "postalAddress": "Example Corp, 1 Main Street, Dublin",
        "unsubscribeUrl": "https://example.com/unsubscribe",
        "oneClickUnsubscribe": True,
        "allowedRegions": ["eu-west-1"],
    },
    "aws:region": "eu-west-1",
}


def res(type_: str, name: str, props: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": type_, "name": name, "props": props, **extra}


def domain_records(domain: str, dmarc: str = "v=DMARC1; p=reject; rua=mailto:d@example.com") -> list[dict[str, Any]]:
    slug = domain.replace(".", "-")
    return [
        res(R53, f"{slug}-spf", r53(domain, "v=spf1 include:amazonses.com -all")),
        res(R53, f"{slug}-dkim", r53(f"s1._domainkey.{domain}", DKIM_2048)),
        res(R53, f"{slug}-dmarc", r53(f"_dmarc.{domain}", dmarc)),
    ]


# name -> dict(kind, type (resource rules), compliant, noncompliant, missing, missing_count, protect?, stack_config?)
# resource rules: props dicts; stack rules: lists of resource specs.
CASES: dict[str, dict[str, Any]] = {
    # ---- DNS
    "dns-one-spf-per-name": dict(
        kind="stack",
        compliant=[
            res(R53, "a", r53("example.com", "v=spf1 -all")),
            res(CF, "b", {"zoneId": "z", "name": "example.org", "type": "TXT", "content": "v=spf1 -all"}),
        ],
        noncompliant=[
            res(R53, "a", r53("example.com", "v=spf1 -all")),
            res(CF, "b", {"zoneId": "z", "name": "example.com.", "type": "TXT", "content": "v=spf1 ~all"}),
        ],
        missing=[
            res(R53, "a", {"type": "TXT", "records": ["v=spf1 -all"]}),
            res(R53, "b", {"type": "TXT", "records": ["v=spf1 -all"]}),
        ],
        missing_count=0,
    ),
    "spf-no-permissive-all": dict(
        kind="resource",
        type=R53,
        compliant=r53("example.com", "v=spf1 -all"),
        noncompliant=r53("example.com", "v=spf1 include:x.example +all"),
        missing={"type": "TXT", "name": "example.com"},
        missing_count=0,
    ),
    "spf-hard-fail": dict(
        kind="resource",
        type=CF,
        compliant={"name": "example.org", "type": "TXT", "content": "v=spf1 -all"},
        noncompliant={"name": "example.org", "type": "TXT", "content": "v=spf1 include:amazonses.com ~all"},
        missing={"name": "example.org", "type": "TXT"},
        missing_count=0,
    ),
    "spf-lookup-limit": dict(
        kind="resource",
        type=R53,
        compliant=r53("example.com", spf_with(10)),
        noncompliant=r53("example.com", spf_with(11)),
        missing={"name": "example.com", "records": ["v=spf1 -all"]},
        missing_count=0,
    ),
    "dns-txt-string-length": dict(
        kind="resource",
        type=R53,
        compliant=r53("s1._domainkey.example.com", DKIM_2048),
        noncompliant={"name": "s1._domainkey.example.com", "type": "TXT", "records": [DKIM_2048]},
        missing={"name": "x.example.com", "type": "TXT"},
        missing_count=0,
    ),
    "dmarc-valid": dict(
        kind="resource",
        type=R53,
        compliant=r53("_dmarc.example.com", "v=DMARC1; p=reject; rua=mailto:d@example.com"),
        noncompliant=r53("_dmarc.example.com", "v=DMARC1; p=block"),
        missing={"name": "_dmarc.example.com", "type": "TXT"},
        missing_count=0,
    ),
    "dmarc-no-removed-tags": dict(
        kind="resource",
        type=R53,
        compliant=r53("_dmarc.example.com", "v=DMARC1; p=reject"),
        noncompliant=r53("_dmarc.example.com", "v=DMARC1; p=reject; pct=50; ri=3600"),
        missing={"type": "TXT", "records": ["v=DMARC1; pct=5"]},
        missing_count=0,
    ),
    "dmarc-enforcing": dict(
        kind="resource",
        type=CF,
        compliant={"name": "_dmarc.example.org", "type": "TXT", "content": "v=DMARC1; p=quarantine"},
        noncompliant={"name": "_dmarc.example.org", "type": "TXT", "content": "v=DMARC1; p=reject; t=y"},
        missing={"name": "_dmarc.example.org", "type": "TXT"},
        missing_count=0,
    ),
    "dmarc-spf-alignment": dict(
        kind="stack",
        compliant=[
            res(R53, "dmarc", r53("_dmarc.example.com", "v=DMARC1; p=reject; aspf=r")),
            res(MAIL_FROM, "mf", {"emailIdentity": "example.com", "mailFromDomain": "bounce.example.com"}),
        ],
        noncompliant=[
            res(R53, "dmarc", r53("_dmarc.example.com", "v=DMARC1; p=reject; aspf=s")),
            res(MAIL_FROM, "mf", {"emailIdentity": "example.com", "mailFromDomain": "bounce.example.com"}),
        ],
        missing=[
            res(R53, "dmarc", r53("_dmarc.example.com", "v=DMARC1; p=reject; aspf=s")),
            res(MAIL_FROM, "mf", {"emailIdentity": "example.com"}),
        ],
        missing_count=0,
    ),
    "easy-dkim-cname-target": dict(
        kind="stack",
        compliant=[
            res(ID, "id", {"emailIdentity": "example.com", "region": "af-south-1"}),
            res(R53, "dkim", cname("abc._domainkey.example.com", "abc.dkim.af-south-1.amazonses.com")),
        ],
        noncompliant=[
            res(ID, "id", {"emailIdentity": "example.com", "region": "af-south-1"}),
            res(R53, "dkim", cname("abc._domainkey.example.com", "abc.dkim.amazonses.com")),
        ],
        missing=[
            res(ID, "id", {"emailIdentity": "example.com"}),
            res(R53, "dkim", cname("abc._domainkey.example.com", "abc.dkim.amazonses.com")),
        ],
        missing_count=0,
    ),
    "dkim-key-strength": dict(
        kind="resource",
        type=R53,
        compliant=r53("s1._domainkey.example.com", DKIM_2048),
        noncompliant=r53("s1._domainkey.example.com", DKIM_1024),
        missing={"name": "s1._domainkey.example.com", "type": "TXT"},
        missing_count=0,
    ),
    "mta-sts-syntax": dict(
        kind="resource",
        type=R53,
        compliant=r53("_mta-sts.example.com", "v=STSv1; id=20260101abc"),
        noncompliant=r53("_mta-sts.example.com", "v=STSv1; id=not-valid!"),
        missing={"name": "_mta-sts.example.com", "type": "TXT"},
        missing_count=0,
    ),
    "tls-rpt-syntax": dict(
        kind="resource",
        type=CF,
        compliant={"name": "_smtp._tls.example.org", "type": "TXT", "content": "v=TLSRPTv1; rua=mailto:tls@example.org"},
        noncompliant={"name": "_smtp._tls.example.org", "type": "TXT", "content": "v=TLSRPTv1;"},
        missing={"name": "_smtp._tls.example.org", "type": "TXT"},
        missing_count=0,
    ),
    "bimi-syntax": dict(
        kind="resource",
        type=R53,
        compliant=r53(
            "default._bimi.example.com", "v=BIMI1; l=https://brand.example.com/logo.svg; a=https://brand.example.com/vmc.pem"
        ),
        noncompliant=r53("default._bimi.example.com", "v=BIMI1; l=http://brand.example.com/logo.png"),
        missing={"name": "default._bimi.example.com", "type": "TXT"},
        missing_count=0,
    ),
    "bimi-requires-enforcing-dmarc": dict(
        kind="stack",
        compliant=[
            res(R53, "bimi", r53("default._bimi.mail.example.com", "v=BIMI1; l=https://b.example.com/l.svg")),
            res(R53, "dmarc", r53("_dmarc.example.com", "v=DMARC1; p=reject")),
        ],
        noncompliant=[
            res(R53, "bimi", r53("default._bimi.example.com", "v=BIMI1; l=https://b.example.com/l.svg")),
            res(R53, "dmarc", r53("_dmarc.example.com", "v=DMARC1; p=none")),
        ],
        missing=[res(R53, "bimi", {"name": "default._bimi.example.com", "type": "TXT"})],
        missing_count=0,
    ),
    # ---- keys
    "kms-symmetric-key-rotation": dict(
        kind="resource",
        type=KEY,
        compliant={"enableKeyRotation": True, "rotationPeriodInDays": 180},
        noncompliant={"enableKeyRotation": True, "rotationPeriodInDays": 400},
        missing={},
        missing_count=1,
    ),
    "kms-dnssec-ksk": dict(
        kind="resource",
        type=KEY,
        compliant=KSK,
        noncompliant={**KSK, "region": "eu-west-1", "policy": doc(ROOT)},
        missing={"customerMasterKeySpec": "ECC_NIST_P256", "keyUsage": "SIGN_VERIFY"},
        missing_count=1,
    ),
    "kms-deletion-window": dict(
        kind="resource",
        type=KEY,
        compliant={"deletionWindowInDays": 30},
        noncompliant={"deletionWindowInDays": 7},
        missing={},
        missing_count=0,
    ),
    "kms-key-protected": dict(
        kind="resource", type=KEY, compliant={}, noncompliant={}, missing={}, missing_count=0, protect=(True, False, True)
    ),
    "kms-no-wildcard-principal": dict(
        kind="resource",
        type=KEY,
        compliant={"policy": doc(ROOT)},
        noncompliant={
            "policy": doc(ROOT, {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:Decrypt", "Resource": "*"})
        },
        missing={},
        missing_count=0,
    ),
    "kms-destructive-actions-require-mfa": dict(
        kind="resource",
        type="aws:kms/keyPolicy:KeyPolicy",
        compliant={"keyId": "k", "policy": doc(ROOT, DENY_NO_MFA)},
        noncompliant={"keyId": "k", "policy": doc(ROOT)},
        missing={"keyId": "k"},
        missing_count=0,
    ),
    "kms-no-lockout-bypass": dict(
        kind="resource",
        type=KEY,
        compliant={"bypassPolicyLockoutSafetyCheck": False},
        noncompliant={"bypassPolicyLockoutSafetyCheck": True},
        missing={},
        missing_count=0,
    ),
    "secrets-customer-managed-key": dict(
        kind="resource",
        type="aws:secretsmanager/secret:Secret",
        compliant={"kmsKeyId": "arn:aws:kms:eu-west-1:123456789012:key/abc"},
        noncompliant={"kmsKeyId": "alias/aws/secretsmanager"},
        missing={},
        missing_count=1,
    ),
    # ---- relay
    "ses-configuration-set-tls-required": dict(
        kind="resource",
        type=CS,
        compliant={"deliveryOptions": {"tlsPolicy": "REQUIRE"}},
        noncompliant={"deliveryOptions": {"tlsPolicy": "OPTIONAL"}},
        missing={},
        missing_count=1,
    ),
    "ses-identity-default-configuration-set": dict(
        kind="resource",
        type=ID,
        compliant={"emailIdentity": "example.com", "configurationSetName": "cs"},
        noncompliant={"emailIdentity": "example.com", "configurationSetName": ""},
        missing={"emailIdentity": "example.com"},
        missing_count=1,
    ),
    "ses-easy-dkim-rsa-2048": dict(
        kind="resource",
        type=ID,
        compliant={"emailIdentity": "example.com", "dkimSigningAttributes": {"nextSigningKeyLength": "RSA_2048_BIT"}},
        noncompliant={"emailIdentity": "example.com", "dkimSigningAttributes": {"nextSigningKeyLength": "RSA_1024_BIT"}},
        missing={"emailIdentity": "example.com"},
        missing_count=1,
    ),
    "ses-suppression-bounce-complaint": dict(
        kind="resource",
        type=CS,
        compliant={"suppressionOptions": {"suppressedReasons": ["BOUNCE", "COMPLAINT"]}},
        noncompliant={"suppressionOptions": {"suppressedReasons": ["BOUNCE"]}},
        missing={},
        missing_count=1,
    ),
    "ses-reputation-metrics": dict(
        kind="resource",
        type=CS,
        compliant={"reputationOptions": {"reputationMetricsEnabled": True}},
        noncompliant={"reputationOptions": {"reputationMetricsEnabled": False}},
        missing={},
        missing_count=1,
    ),
    "iam-ses-send-least-privilege": dict(
        kind="resource",
        type="aws:iam/rolePolicy:RolePolicy",
        compliant={"role": "r", "policy": doc(SEND)},
        noncompliant={"role": "r", "policy": doc({"Effect": "Allow", "Action": "ses:*", "Resource": "*"})},
        missing={"role": "r"},
        missing_count=0,
    ),
    # ---- network
    "network-no-world-admin-ports": dict(
        kind="resource",
        type=SG,
        compliant={"ingress": [{"fromPort": 22, "toPort": 22, "protocol": "tcp", "cidrBlocks": ["10.0.0.0/8"]}]},
        noncompliant={"ingress": [{"fromPort": 0, "toPort": 65535, "protocol": "tcp", "cidrBlocks": ["0.0.0.0/0"]}]},
        missing={"ingress": [{"protocol": "tcp"}]},
        missing_count=0,
    ),
    "network-no-world-smtp-submission": dict(
        kind="resource",
        type=SGI,
        compliant={"fromPort": 587, "toPort": 587, "ipProtocol": "tcp", "cidrIpv4": "10.30.0.0/16"},
        noncompliant={"fromPort": 587, "toPort": 587, "ipProtocol": "tcp", "cidrIpv6": "::/0"},
        missing={"ipProtocol": "tcp"},
        missing_count=0,
    ),
    "network-smtp-inbound-mx-only": dict(
        kind="stack",
        compliant=[
            res(SG, "mx", {"tags": {"mailinfra:role": "mx"}}),
            res(
                SGR,
                "r25",
                {
                    "type": "ingress",
                    "fromPort": 25,
                    "toPort": 25,
                    "protocol": "tcp",
                    "cidrBlocks": ["0.0.0.0/0"],
                    "securityGroupId": UNKNOWN,
                },
                prop_deps={"securityGroupId": ["mx"]},
            ),
        ],
        noncompliant=[
            res(
                SG,
                "web",
                {
                    "tags": {"mailinfra:role": "web"},
                    "ingress": [{"fromPort": 25, "toPort": 25, "protocol": "tcp", "cidrBlocks": ["0.0.0.0/0"]}],
                },
            )
        ],
        missing=[
            res(
                SGR,
                "r25",
                {
                    "type": "ingress",
                    "fromPort": 25,
                    "toPort": 25,
                    "protocol": "tcp",
                    "cidrBlocks": ["0.0.0.0/0"],
                    "securityGroupId": UNKNOWN,
                },
            )
        ],
        missing_count=1,
    ),
    "cloudflare-min-tls-1-2": dict(
        kind="resource",
        type=ZS,
        compliant={"zoneId": "z", "settingId": "min_tls_version", "value": "1.3"},
        noncompliant={"zoneId": "z", "settingId": "min_tls_version", "value": "1.0"},
        missing={"zoneId": "z", "settingId": "min_tls_version"},
        missing_count=1,
    ),
    "cloudfront-viewer-tls": dict(
        kind="resource",
        type="aws:cloudfront/distribution:Distribution",
        compliant={
            "defaultCacheBehavior": {"viewerProtocolPolicy": "https-only"},
            "viewerCertificate": {
                "acmCertificateArn": "arn:aws:acm:us-east-1:1:certificate/x",
                "minimumProtocolVersion": "TLSv1.2_2021",
            },
        },
        noncompliant={
            "defaultCacheBehavior": {"viewerProtocolPolicy": "allow-all"},
            "viewerCertificate": {
                "acmCertificateArn": "arn:aws:acm:us-east-1:1:certificate/x",
                "minimumProtocolVersion": "TLSv1.2_2021",
            },
        },
        missing={"defaultCacheBehavior": {}},
        missing_count=1,
    ),
    "cloudflare-always-use-https": dict(
        kind="resource",
        type=ZS,
        compliant={"zoneId": "z", "settingId": "always_use_https", "value": "on"},
        noncompliant={"zoneId": "z", "settingId": "always_use_https", "value": "off"},
        missing={"zoneId": "z", "settingId": "always_use_https"},
        missing_count=1,
    ),
    "cloudflare-zone-tls-settings-present": dict(
        kind="stack",
        compliant=[
            res(CF, "rec", {"zoneId": "z1", "name": "example.org", "type": "TXT", "content": "v=spf1 -all"}),
            res(ZS, "tls", {"zoneId": "z1", "settingId": "min_tls_version", "value": "1.2"}),
            res(ZS, "https", {"zoneId": "z1", "settingId": "always_use_https", "value": "on"}),
        ],
        noncompliant=[
            res(CF, "rec", {"zoneId": "z1", "name": "mta-sts.example.org", "type": "AAAA", "content": "100::", "proxied": True}),
            res(ZS, "tls", {"zoneId": "z1", "settingId": "min_tls_version", "value": "1.2"}),
        ],
        missing=[res(CF, "rec", {"name": "mta-sts.example.org", "type": "AAAA", "proxied": True})],
        missing_count=0,
    ),
    # ---- compliance
    "compliance-region-residency": dict(
        kind="stack",
        stack_config=COMPLIANCE,
        compliant=[
            res(KEY, "data", {"enableKeyRotation": True}),
            res(KEY, "ksk", KSK),
            res(
                "aws:kms/alias:Alias",
                "ksk-alias",
                {"targetKeyId": UNKNOWN, "region": "us-east-1"},
                prop_deps={"targetKeyId": ["ksk"]},
            ),
            res("aws:iam/role:Role", "role", {"name": "x"}),
        ],
        noncompliant=[
            res(KEY, "data", {"enableKeyRotation": True}, provider={"region": "us-west-2"}),
            res(KEY, "other", {"enableKeyRotation": True, "region": "us-east-1"}),
        ],
        missing=[res(KEY, "data", {"region": UNKNOWN})],
        missing_count=0,
    ),
    "compliance-required-tags": dict(
        kind="resource", type=CS, compliant={"tags": TAGS}, noncompliant={"tags": {"owner": "team"}}, missing={}, missing_count=1
    ),
    "compliance-log-retention": dict(
        kind="resource",
        type="aws:cloudwatch/logGroup:LogGroup",
        compliant={"retentionInDays": 365},
        noncompliant={"retentionInDays": 0},
        missing={},
        missing_count=1,
    ),
    "compliance-domain-authentication": dict(
        kind="stack",
        compliant=[res(ID, "id", {"emailIdentity": "example.com"}), *domain_records("example.com")],
        noncompliant=[res(ID, "id", {"emailIdentity": "example.com"}), *domain_records("example.com")[:2]],
        missing=[res(ID, "id", {"emailIdentity": UNKNOWN})],
        missing_count=0,
    ),
    "compliance-marketing-facts": dict(
        kind="stack",
        stack_config=COMPLIANCE,
        compliant=[res(ID, "id", {"emailIdentity": "example.com"})],
        noncompliant=[res(ID, "id", {"emailIdentity": "example.com"})],
        noncompliant_stack_config={
            "mailinfra:compliance": {
                "postalAddress": "Example Corp, 1 Main Street, Dublin",
                "unsubscribeUrl": "http://example.com/u",
                "oneClickUnsubscribe": False,
            }
        },
        missing=[res(ID, "id", {"emailIdentity": "example.com"})],
        missing_stack_config={},
        missing_count=3,
    ),
}
CASES.update(EVENTS_CASES)  # the feedback-loop rules (policies/mailinfra_policy/events.py)
CASES.update(PRIVACY_CASES)  # the privacy rules (policies/mailinfra_policy/privacy.py)
CASES.update(QUOTAS_CASES)  # the quota budget (policies/mailinfra_policy/quotas.py)
CASES.update(AUDIT_CASES)  # the account audit rules (policies/mailinfra_policy/audit.py)
CASES.update(FLEET_CASES)  # a domain in two shards (policies/mailinfra_policy/relay.py)

BY_NAME = {p.name: p for p in ALL}


def _run(name: str, which: str) -> list[Any]:
    case = CASES[name]
    policy = BY_NAME[name]
    stack_config = case.get(f"{which}_stack_config", case.get("stack_config"))
    if case["kind"] == "stack":
        return run_stack(policy, case[which], stack_config=stack_config)
    protect = dict(zip(("compliant", "noncompliant", "missing"), case.get("protect", (False, False, False))))[which]
    return run_resource(policy, case["type"], case[which], protect=protect, stack_config=stack_config)


def test_every_rule_has_cases_and_metadata() -> None:
    assert sorted(CASES) == sorted(BY_NAME)
    for policy in ALL:
        assert policy.name == policy.name.lower() and " " not in policy.name
        assert policy.description and policy.severity is not None
        assert policy.remediation_steps and REMEDIATION[policy.name] == policy.remediation_steps
        assert SEVERITY[policy.name] == policy.severity
        assert "environment" in policy.config_schema.properties


@pytest.mark.parametrize("name", sorted(CASES))
def test_compliant(name: str) -> None:
    assert _run(name, "compliant") == []


@pytest.mark.parametrize("name", sorted(CASES))
def test_noncompliant(name: str) -> None:
    assert _run(name, "noncompliant"), f"{name} did not flag its noncompliant case"


@pytest.mark.parametrize("name", sorted(CASES))
def test_missing_property(name: str) -> None:
    assert len(_run(name, "missing")) == CASES[name]["missing_count"]


def _unknownify(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _unknownify(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unknownify(v) for v in value]
    return UNKNOWN


@pytest.mark.parametrize("name", sorted(CASES))
def test_unknown_properties_never_crash(name: str) -> None:
    case = CASES[name]
    policy = BY_NAME[name]
    if case["kind"] == "stack":
        specs = [dict(s, props={k: UNKNOWN for k in s["props"]}) for s in case["noncompliant"]]
        run_stack(policy, specs)
    else:
        props = {k: UNKNOWN for k in case["noncompliant"]}
        run_resource(policy, case["type"], props)
        run_resource(policy, case["type"], _unknownify(case["noncompliant"]))


def _plan_for(name: str, stack: str = "prod") -> Any:
    case = CASES[name]
    specs = (
        case["noncompliant"]
        if case["kind"] == "stack"
        else [
            {
                "type": case["type"],
                "name": "subject",
                "props": case["noncompliant"],
                "protect": dict(zip(("c", "n", "m"), case.get("protect", (False,) * 3)))["n"],
            }
        ]
    )
    config = case.get("noncompliant_stack_config", case.get("stack_config")) or {}
    return make_plan(specs, stack=stack, config=config)


@pytest.mark.parametrize("name", sorted(CASES))
def test_environment_and_config_override(name: str) -> None:
    plan = _plan_for(name)
    found = [v for v in run_policies(plan, environment="prod") if v.policy == name]
    assert found and {v.enforcement for v in found} == {LEVELS[name]["prod"].value}
    dev = [v for v in run_policies(plan, environment="dev") if v.policy == name]
    assert {v.enforcement for v in dev} == {LEVELS[name]["dev"].value}
    advisory = [
        v
        for v in run_policies(plan, environment="prod", policy_config={name: {"enforcementLevel": "advisory"}})
        if v.policy == name
    ]
    assert advisory and {v.enforcement for v in advisory} == {"advisory"}
    assert not [v for v in run_policies(plan, environment="prod", policy_config={name: "disabled"}) if v.policy == name]
    everything = run_policies(plan, environment="prod", policy_config={"all": "advisory"})
    assert all(v.enforcement == "advisory" for v in everything)


def test_environment_from_stack_name_and_stack_config() -> None:
    policy = BY_NAME["spf-hard-fail"]
    with pack_env(None, stack="acme/mail/dev"):
        assert policy.enforcement_level.value == "advisory"
    with pack_env(None, stack="production"):
        assert policy.enforcement_level.value == "mandatory"
    with pack_env("dev", stack="production"):  # <project>:environment wins over the stack name
        assert policy.enforcement_level.value == "advisory"
    with pack_env(None, stack="feature-x"):  # undeterminable: strictest
        assert policy.enforcement_level.value == "mandatory"


# ---------------------------------------------------------- rule config properties


def test_rotation_config_and_asymmetric_exemption() -> None:
    policy = BY_NAME["kms-symmetric-key-rotation"]
    assert run_resource(policy, KEY, {"enableKeyRotation": True, "rotationPeriodInDays": 200}, config={"maxRotationDays": 180})
    assert run_resource(policy, KEY, {"enableKeyRotation": False}) == [
        "symmetric KMS key must set enableKeyRotation: true (got False)"
    ]
    assert run_resource(policy, KEY, KSK) == []  # asymmetric: exempt


def test_dkim_min_bits_config() -> None:
    policy = BY_NAME["dkim-key-strength"]
    assert run_resource(policy, R53, r53("s1._domainkey.example.com", DKIM_1024), config={"minRsaBits": 1024}) == []
    assert run_resource(policy, R53, r53("s1._domainkey.example.com", "v=DKIM1; k=rsa; p=!!!"))
    assert run_resource(policy, R53, r53("old._domainkey.example.com", "v=DKIM1; k=rsa; p=")) == []  # retired selector


def test_txt_length_cloudflare_takes_what_cloudflare_serves() -> None:
    # Cloudflare documents quoted 255-byte strings (longer ones split automatically) and a
    # limit of 4,096 wire-format bytes per record; there is no 2,048-character limit.
    policy = BY_NAME["dns-txt-string-length"]
    for content in (DKIM_2048, txt.cloudflare_txt(DKIM_2048), "a" * 3000, txt.cloudflare_txt("a" * 3000), f'"{"a" * 300}"'):
        assert run_resource(policy, CF, {"name": "s1._domainkey.example.org", "type": "TXT", "content": content}) == []
    assert run_resource(policy, CF, {"name": "x.example.org", "type": "TXT", "content": "a" * 4100}) == [
        "TXT record x.example.org is 4142 bytes in wire format, over Cloudflare's 4096-byte limit per record"
    ]
    assert run_resource(policy, CF, {"name": "x.example.org", "type": "TXT", "content": '"abc" "de'}) == [
        'unterminated quoted TXT string: \'"abc" "de\''
    ]


def test_txt_length_route53_value_over_4000_characters() -> None:
    # a hand-written program: the pack flags what Route53's API would refuse at deploy
    policy = BY_NAME["dns-txt-string-length"]
    assert run_resource(policy, R53, r53("x.example.com", "a" * 3900)) == []
    assert run_resource(policy, R53, r53("x.example.com", "a" * 4000)) == [
        "records[0]: TXT value is 4032 characters as Route53 receives it, over its 4000-character limit per value"
    ]


def test_required_tags_config_and_provider_default_tags() -> None:
    policy = BY_NAME["compliance-required-tags"]
    assert run_resource(policy, CS, {"tags": {"owner": "x"}}, config={"requiredTags": ["owner"]}) == []
    default = {"defaultTags": json.dumps({"tags": TAGS})}
    assert run_resource(policy, CS, {}, provider_props=default) == []
    assert run_resource(policy, "aws:kms/alias:Alias", {"name": "alias/x"}) == []  # not taggable


def test_log_retention_bound_config() -> None:
    policy = BY_NAME["compliance-log-retention"]
    assert run_resource(policy, "aws:cloudwatch/logGroup:LogGroup", {"retentionInDays": 3653}) == []
    assert run_resource(policy, "aws:cloudwatch/logGroup:LogGroup", {"retentionInDays": 3653}, config={"maxDays": 365})


def test_admin_ports_allowed_ports_config_and_rule_types() -> None:
    policy = BY_NAME["network-no-world-admin-ports"]
    rule = {"type": "ingress", "fromPort": 22, "toPort": 22, "protocol": "tcp", "cidrBlocks": ["0.0.0.0/0"]}
    assert run_resource(policy, SGR, rule)
    assert run_resource(policy, SGR, rule, config={"allowedPorts": [22]}) == []
    assert run_resource(policy, SGR, {**rule, "type": "egress"}) == []
    assert run_resource(policy, SG, {"ingress": [{"fromPort": 0, "toPort": 0, "protocol": "-1", "ipv6CidrBlocks": ["::/0"]}]})


def test_region_residency_policy_config_and_ksk_exception() -> None:
    policy = BY_NAME["compliance-region-residency"]
    key = [res(KEY, "k", {"region": "eu-central-1"})]
    assert run_stack(policy, key, stack_config=COMPLIANCE)
    assert run_stack(policy, key, stack_config=COMPLIANCE, config={"allowedRegions": ["eu-central-1"]}) == []
    # A symmetric key in us-east-1 is no exception.
    assert run_stack(policy, [res(KEY, "k", {"region": "us-east-1"})], stack_config=COMPLIANCE)


def test_marketing_facts_from_policy_config() -> None:
    policy = BY_NAME["compliance-marketing-facts"]
    facts = {
        "postalAddress": "Acme Ltd, 2 High St, London",
        "unsubscribeUrl": "https://acme.example/u",
        "oneClickUnsubscribe": True,
    }
    assert run_stack(policy, [res(ID, "id", {"emailIdentity": "acme.example"})], stack_config={}, config=facts) == []
    default_one_click = {
        "mailinfra:compliance": {"postalAddress": "Acme Ltd, 2 High St, London", "unsubscribeUrl": "https://acme.example/u"}
    }
    assert run_stack(policy, [res(ID, "id", {"emailIdentity": "acme.example"})], stack_config=default_one_click) == []
    non_marketing = {"mailinfra:domains": [{"name": "acme.example", "marketing": False}]}
    assert run_stack(policy, [res(ID, "id", {"emailIdentity": "acme.example"})], stack_config=non_marketing) == []


def test_mx_marker_on_ingress_rule_and_known_group_id() -> None:
    policy = BY_NAME["network-smtp-inbound-mx-only"]
    rule = {"fromPort": 25, "toPort": 25, "ipProtocol": "tcp", "cidrIpv4": "0.0.0.0/0", "securityGroupId": "sg-1"}
    assert run_stack(policy, [res(SGI, "r", {**rule, "tags": {"mailinfra:role": "mx"}})]) == []
    assert run_stack(policy, [res(SG, "g", {"id": "sg-1", "tags": {"mailinfra:role": "mx"}}), res(SGI, "r", rule)]) == []
    assert run_stack(policy, [res(SG, "g", {"id": "sg-1"}), res(SGI, "r", rule)])


def test_iam_ses_policy_variants() -> None:
    policy = BY_NAME["iam-ses-send-least-privilege"]
    t = "aws:iam/policy:Policy"
    wildcard_resource = dict(SEND, Resource="*")
    no_condition = {k: v for k, v in SEND.items() if k != "Condition"}
    assert run_resource(policy, t, {"policy": doc(wildcard_resource)})
    assert run_resource(policy, t, {"policy": doc(no_condition)})
    assert run_resource(policy, t, {"policy": doc({"Effect": "Allow", "Action": "*", "Resource": "*"})})
    assert run_resource(policy, t, {"policy": doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})}) == []


def test_mfa_condition_on_allow_statement() -> None:
    policy = BY_NAME["kms-destructive-actions-require-mfa"]
    admin = {
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::1:role/admin"},
        "Action": ["kms:ScheduleKeyDeletion"],
        "Resource": "*",
        "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
    }
    assert run_resource(policy, KEY, {"policy": doc(admin)}) == []
