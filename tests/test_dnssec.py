"""DNSSEC: args validation, the KSK key policy (pure) and the declared resources (mocks)."""

from __future__ import annotations

import json

import pulumi
import pytest

from mailinfra.components.dnssec import DNSSEC_REGION, Dnssec, DnssecArgs, dnssec_key_policy
from mailinfra.components.keystore import ADMIN_ACTIONS, DESTRUCTIVE_ACTIONS, KeyStoreError

ACCOUNT = "123456789012"
ADMIN = f"arn:aws:iam::{ACCOUNT}:role/mailinfra-deployer"
ZONE = "Z0123456789ABCDEFGHIJ"


def make_args(**over: object) -> DnssecArgs:
    base: dict[str, object] = {
        "environment": "prod",
        "zone_id": ZONE,
        "zone_name": "example.com",
        "account_id": ACCOUNT,
        "admin_principals": (ADMIN,),
        "tags": {"owner": "mail-team", "data-classification": "internal"},
    }
    base.update(over)
    return DnssecArgs(**base)  # type: ignore[arg-type]


def by_sid(policy: dict) -> dict[str, dict]:
    return {s["Sid"]: s for s in policy["Statement"]}


def test_defaults() -> None:
    a = make_args()
    assert a.ksk_name == "example_com_ksk"
    assert a.deletion_window_days == 30 and a.protect is True
    assert a.tags["environment"] == "prod"


@pytest.mark.parametrize(
    ("over", "argument"),
    [
        ({"deletion_window_days": 7}, "deletion_window_days"),
        ({"zone_id": "example.com"}, "zone_id"),
        ({"zone_name": "Example.com."}, "zone_name"),
        ({"account_id": "x"}, "account_id"),
        ({"admin_principals": ("*",)}, "admin_principals[0]"),
        ({"admin_principals": ()}, "admin_principals"),
        ({"ksk_name": "a-b"}, "ksk_name"),
        ({"assume_role_arn": "arn:aws:iam::123456789012:user/x"}, "assume_role_arn"),
        ({"environment": "qa"}, "environment"),
    ],
)
def test_invalid_args(over: dict, argument: str) -> None:
    with pytest.raises(KeyStoreError) as e:
        make_args(**over)
    assert e.value.argument == argument and str(e.value).startswith(f"{argument}: ")


def test_dev_window_may_be_short() -> None:
    assert make_args(environment="dev", deletion_window_days=7).protect is False


def test_policy() -> None:
    p = dnssec_key_policy(make_args())
    s = by_sid(p)
    for st in p["Statement"]:
        assert st["Principal"] != "*" and "*" not in json.dumps(st["Principal"])
        assert st["Effect"] == "Allow"
    assert s["KeyAdministration"]["Action"] == list(ADMIN_ACTIONS)
    assert s["KeyAdministration"]["Principal"] == {"AWS": [ADMIN]}
    mfa = s["KeyAdministrationDestructiveWithMfa"]
    assert mfa["Action"] == list(DESTRUCTIVE_ACTIONS)
    assert mfa["Condition"] == {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    use = s["Route53DnssecUsesKey"]
    assert use["Principal"] == {"Service": "dnssec-route53.amazonaws.com"}
    assert sorted(use["Action"]) == ["kms:DescribeKey", "kms:GetPublicKey", "kms:Sign"]
    assert use["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
    assert use["Condition"]["ArnLike"] == {"aws:SourceArn": f"arn:aws:route53:::hostedzone/{ZONE}"}
    grant = s["Route53DnssecCreatesGrantForAwsResource"]
    assert grant["Principal"] == {"Service": "dnssec-route53.amazonaws.com"}
    assert grant["Action"] == "kms:CreateGrant"
    assert grant["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    assert set(s) == {
        "KeyAdministration",
        "KeyAdministrationDestructiveWithMfa",
        "Route53DnssecUsesKey",
        "Route53DnssecCreatesGrantForAwsResource",
    }


def build(args: DnssecArgs, box: dict) -> None:
    @pulumi.runtime.test
    def run():
        d = Dnssec("example-com-dnssec", args)
        box["d"] = d
        return pulumi.Output.all(d.key_arn, d.ds_record).apply(lambda v: box.update(resolved=v))

    run()


def one(recorder, type_: str):
    found = recorder.of_type(type_)
    assert len(found) == 1, [r.name for r in found]
    return found[0]


def test_resources_prod(pulumi_mocks) -> None:
    box: dict = {}
    build(make_args(), box)
    comp = one(pulumi_mocks, "mailinfra:dnssec:Dnssec")
    prov = one(pulumi_mocks, "pulumi:providers:aws")
    assert prov.name == "example-com-dnssec-us-east-1" and prov.parent == comp.urn
    assert prov.inputs["region"] == DNSSEC_REGION == "us-east-1"
    assert json.loads(prov.inputs["allowedAccountIds"]) == [ACCOUNT]
    prov_ref = f"{prov.urn}::{prov.urn.split('::')[-1]}-id"
    key = one(pulumi_mocks, "aws:kms/key:Key")
    i = key.inputs
    assert i["customerMasterKeySpec"] == "ECC_NIST_P256"
    assert i["keyUsage"] == "SIGN_VERIFY"
    assert i["enableKeyRotation"] is False and "rotationPeriodInDays" not in i
    assert i["deletionWindowInDays"] == 30
    assert i.get("bypassPolicyLockoutSafetyCheck", False) is False
    assert json.loads(i["policy"]) == dnssec_key_policy(make_args())
    assert key.protect is True
    assert i["tags"]["owner"] == "mail-team"
    ksk = one(pulumi_mocks, "aws:route53/keySigningKey:KeySigningKey")
    assert ksk.inputs["hostedZoneId"] == ZONE
    assert ksk.inputs["keyManagementServiceArn"].endswith("/example-com-dnssec-ksk-key")
    assert ksk.inputs["name"] == "example_com_ksk" and ksk.inputs["status"] == "ACTIVE"
    assert ksk.protect is True
    signing = one(pulumi_mocks, "aws:route53/hostedZoneDnsSec:HostedZoneDnsSec")
    assert signing.inputs == {"hostedZoneId": ZONE, "signingStatus": "SIGNING"}
    assert ksk.urn in signing.dependencies
    alias = one(pulumi_mocks, "aws:kms/alias:Alias")
    assert alias.inputs["name"] == "alias/mailinfra-dnssec-example-com-ksk"
    for r in (key, ksk, signing, alias):
        assert r.parent == comp.urn
        assert r.provider == prov_ref, (r.name, r.provider)
        assert r.name.startswith("example-com-dnssec-")


def test_dev_not_protected(pulumi_mocks) -> None:
    box: dict = {}
    build(make_args(environment="dev", deletion_window_days=7), box)
    assert one(pulumi_mocks, "aws:kms/key:Key").protect is False
    assert one(pulumi_mocks, "aws:kms/key:Key").inputs["deletionWindowInDays"] == 7


def test_ds_record_exported(pulumi_mocks) -> None:
    ds = "12345 13 2 0123456789ABCDEF"

    base_new = pulumi_mocks.new_resource

    def new_resource(args):
        rid, state = base_new(args)
        if args.typ == "aws:route53/keySigningKey:KeySigningKey":
            state["dsRecord"] = ds
        return rid, state

    pulumi_mocks.new_resource = new_resource  # type: ignore[method-assign]
    box: dict = {}
    build(make_args(), box)
    assert box["resolved"][1] == ds


def test_assume_role_and_profile_reach_the_provider(pulumi_mocks) -> None:
    role = f"arn:aws:iam::{ACCOUNT}:role/deployer"
    build(make_args(assume_role_arn=role, profile="mail"), {})
    prov = one(pulumi_mocks, "pulumi:providers:aws")
    assert prov.inputs["profile"] == "mail"
    assert role in prov.inputs["assumeRoles"]
