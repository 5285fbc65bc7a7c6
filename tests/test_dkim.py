"""DKIM: selector rotation (pure), the BYODKIM dynamic provider (direct, real keys),
dkimpy sign/verify against the published TXT value, and the ByoDkim component (mocks)."""

from __future__ import annotations

import base64
import datetime as dt
import logging
import os
import subprocess
import sys
import textwrap
from typing import Any, ClassVar

import dkim as dkimpy  # type: ignore[import-untyped]
import pulumi
import pytest
from tests.conftest import ROOT, Recorder, RecordingMonitor
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pulumi.dynamic.dynamic import serialize_provider
from tests.test_keystore import assert_secret, make_args

from mailinfra.components.dkim import (
    DKIM_KEY_SIZE,
    ByoDkim,
    ByoDkimArgs,
    DkimKeyPairProvider,
    DkimSelector,
    SelectorPlanError,
    easy_dkim_signing_attributes,
    generate_key_material,
    plan_selectors,
)
from mailinfra.components.keystore import KeyStore, KeyStoreError
from mailinfra.policies.mailinfra_policy.standards import dkim as dkim_std

D = dt.date
DYNAMIC_TYPE = "pulumi-python:dynamic/mailinfra:DkimKeyPair"
SECRET_SIG = "4dabf18193072939515e22adb298388d"

# ------------------------------------------------------------------------------------
# plan_selectors
# ------------------------------------------------------------------------------------

S1 = DkimSelector("s2025a", published=D(2025, 1, 1))
S2 = DkimSelector("s2025b", published=D(2025, 6, 1))
S3 = DkimSelector("s2026a", published=D(2026, 1, 1))


def plan(selectors, today, overlap=7):
    return plan_selectors(selectors, today, overlap)


def test_single_selector_bootstraps_on_its_first_day() -> None:
    p = plan([S1], D(2025, 1, 1))
    assert p.signing == "s2025a" and p.publish == ("s2025a",)
    assert p.pending == () and p.retired == ()
    assert p.next_change is None  # ready on 01-08 changes nothing: it already signs
    assert plan([S1], D(2025, 3, 1)).signing == "s2025a"


def test_single_undated_selector_signs() -> None:
    p = plan([DkimSelector("default")], D(2025, 1, 1))
    assert p.signing == "default" and p.publish == ("default",)


def test_future_selector_is_pending_not_published() -> None:
    p = plan([S1, S2], D(2025, 5, 31))
    assert p.publish == ("s2025a",) and p.pending == ("s2025b",) and p.signing == "s2025a"
    assert p.next_change == D(2025, 6, 1)


def test_first_selector_in_the_future_is_refused() -> None:
    with pytest.raises(SelectorPlanError, match="no selector is published"):
        plan([S1], D(2024, 12, 31))


def test_full_rotation_timeline() -> None:
    """Every day of a rotation: publish first, switch after the overlap, retire after the overlap."""
    sels = [S1, S2]
    seen = []
    day = D(2025, 5, 25)
    while day <= D(2025, 6, 25):
        p = plan(sels, day)
        seen.append((day, p.signing, p.publish))
        assert p.signing in p.publish
        day += dt.timedelta(days=1)
    by_day = {d: (s, pub) for d, s, pub in seen}
    # 1. before publication only the old selector exists
    assert by_day[D(2025, 5, 31)] == ("s2025a", ("s2025a",))
    # 2. the new selector is published first, the old one still signs
    for d in (D(2025, 6, 1), D(2025, 6, 7)):
        assert by_day[d] == ("s2025a", ("s2025a", "s2025b"))
    # 3. after 7 days of publication signing switches; both stay published
    assert by_day[D(2025, 6, 8)] == ("s2025b", ("s2025a", "s2025b"))
    # 4. the old selector stays published 7 more days (through 06-15), retired afterwards
    assert by_day[D(2025, 6, 15)] == ("s2025b", ("s2025a", "s2025b"))
    assert by_day[D(2025, 6, 16)] == ("s2025b", ("s2025b",))
    p = plan(sels, D(2025, 6, 16))
    assert p.retired == ("s2025a",) and p.next_change is None
    # the signing selector only changes once, and only to a selector published >= 7 days
    switches = [(d, s) for (d, s, _), (_, prev, _) in zip(seen[1:], seen[:-1]) if s != prev]
    assert switches == [(D(2025, 6, 8), "s2025b")]
    assert S2.published is not None and D(2025, 6, 8) - S2.published >= dt.timedelta(days=7)


def test_next_change_guides_deployments() -> None:
    assert plan([S1, S2], D(2025, 6, 1)).next_change == D(2025, 6, 8)  # switch
    assert plan([S1, S2], D(2025, 6, 8)).next_change == D(2025, 6, 16)  # retire s2025a


def test_overlap_is_configurable() -> None:
    assert plan([S1, S2], D(2025, 6, 15), overlap=30).signing == "s2025a"
    p = plan([S1, S2], D(2025, 7, 1), overlap=30)
    assert p.signing == "s2025b" and p.publish == ("s2025a", "s2025b")
    assert plan([S1, S2], D(2025, 7, 31), overlap=30).publish == ("s2025a", "s2025b")
    assert plan([S1, S2], D(2025, 8, 1), overlap=30).publish == ("s2025b",)


def test_undated_successor_is_published_but_never_signs() -> None:
    sels = [S1, DkimSelector("next")]
    for day in (D(2025, 6, 1), D(2030, 1, 1)):
        p = plan(sels, day)
        assert p.signing == "s2025a" and p.publish == ("s2025a", "next")


def test_three_selectors() -> None:
    sels = [S1, S2, S3]
    assert plan(sels, D(2025, 12, 1)).publish == ("s2025b",)
    p = plan(sels, D(2026, 1, 3))
    assert p.signing == "s2025b" and p.publish == ("s2025b", "s2026a") and p.retired == ("s2025a",)
    p = plan(sels, D(2026, 1, 8))
    assert p.signing == "s2026a"
    p = plan(sels, D(2026, 2, 1))
    assert p.publish == ("s2026a",) and p.retired == ("s2025a", "s2025b")


def test_late_listed_selectors_skip_nothing() -> None:
    """S3 added while S2 was still young: S2 still signs only after its own overlap."""
    s2 = DkimSelector("b", published=D(2025, 6, 1))
    s3 = DkimSelector("c", published=D(2025, 6, 3))
    sels = [S1, s2, s3]
    assert plan(sels, D(2025, 6, 7)).signing == "s2025a"
    assert plan(sels, D(2025, 6, 8)).signing == "b"
    p = plan(sels, D(2025, 6, 10))
    assert p.signing == "c" and p.publish == ("s2025a", "b", "c")
    # s2025a stops signing on 06-08, retired after 06-15; b stops on 06-10, retired after 06-17
    assert plan(sels, D(2025, 6, 16)).publish == ("b", "c")
    assert plan(sels, D(2025, 6, 18)).publish == ("c",)


def test_explicit_retire_after_extends_publication() -> None:
    s1 = DkimSelector("s2025a", published=D(2025, 1, 1), retire_after=D(2025, 7, 1))
    assert plan([s1, S2], D(2025, 7, 1)).publish == ("s2025a", "s2025b")
    p = plan([s1, S2], D(2025, 7, 2))
    assert p.publish == ("s2025b",) and p.retired == ("s2025a",)


def test_retire_after_before_the_overlap_is_refused() -> None:
    s1 = DkimSelector("s2025a", published=D(2025, 1, 1), retire_after=D(2025, 6, 14))
    with pytest.raises(SelectorPlanError) as e:
        plan([s1, S2], D(2025, 1, 2))  # refused whatever the day
    assert e.value.argument == "selectors[0].retire_after"
    assert "2025-06-15" in str(e.value)
    ok = DkimSelector("s2025a", published=D(2025, 1, 1), retire_after=D(2025, 6, 15))
    assert plan([ok, S2], D(2025, 6, 16)).retired == ("s2025a",)


def test_retiring_the_only_signer_is_refused() -> None:
    with pytest.raises(SelectorPlanError, match="no dated successor"):
        plan([DkimSelector("s2025a", published=D(2025, 1, 1), retire_after=D(2025, 3, 1))], D(2025, 1, 2))
    with pytest.raises(SelectorPlanError, match="no dated successor"):
        plan([DkimSelector("a", D(2025, 1, 1), D(2025, 3, 1)), DkimSelector("b")], D(2025, 1, 2))


@pytest.mark.parametrize(
    ("selectors", "argument"),
    [
        ([], "selectors"),
        ([S2, S1], "selectors[1].published"),
        ([S1, DkimSelector("x", published=S1.published)], "selectors[1].published"),
        ([DkimSelector("x"), S1], "selectors[1].published"),
        ([S1, DkimSelector("s2025a", published=D(2025, 2, 1))], "selectors[1].name"),
        ([DkimSelector("Upper")], "selectors[0].name"),
        ([DkimSelector("bad_selector")], "selectors[0].name"),
        ([DkimSelector("a" * 64)], "selectors[0].name"),
        ([DkimSelector("x", published="2025-01-01")], "selectors[0].published"),  # type: ignore[arg-type]
        ([DkimSelector("x", published=D(2025, 2, 1), retire_after=D(2025, 1, 1))], "selectors[0].retire_after"),
    ],
)
def test_invalid_selectors(selectors, argument) -> None:
    with pytest.raises(SelectorPlanError) as e:
        plan(selectors, D(2025, 3, 1))
    assert e.value.argument == argument
    assert isinstance(e.value, ValueError) and "(got " in str(e.value)


def test_invalid_overlap_and_today() -> None:
    with pytest.raises(SelectorPlanError, match="^overlap_days: "):
        plan([S1], D(2025, 3, 1), overlap=0)
    with pytest.raises(SelectorPlanError, match="^today: "):
        plan_selectors([S1], "2025-03-01")  # type: ignore[arg-type]


def test_config_dataclass_is_accepted() -> None:
    """The lead's config selectors (name, published, retire_after) plug in as they are."""
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class ConfigSelector:
        name: str
        published: dt.date | None = None
        retire_after: dt.date | None = None

    assert plan([ConfigSelector("a", D(2025, 1, 1)), ConfigSelector("b", D(2025, 2, 1))], D(2025, 3, 1)).signing == "b"


# ------------------------------------------------------------------------------------
# The dynamic provider, called directly, with real key generation
# ------------------------------------------------------------------------------------


def create(selector: str, key_size: int = 2048) -> tuple[str, dict[str, Any]]:
    result = DkimKeyPairProvider().create({"selector": selector, "key_size": key_size})
    assert result.outs is not None
    return result.id, result.outs


def test_provider_create_generates_rsa_2048() -> None:
    rid, outs = create("s2025a")
    assert rid.startswith("s2025a-")
    key = serialization.load_pem_private_key(outs["private_key_pem"].encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == DKIM_KEY_SIZE == 2048
    assert outs["private_key_pem"].startswith("-----BEGIN PRIVATE KEY-----")  # PKCS#8
    # SES form: the PEM body on one line, no header, no line breaks
    body = "".join(outs["private_key_pem"].strip().splitlines()[1:-1])
    assert outs["private_key_b64"] == body and "\n" not in body and "-" not in body
    der_key = serialization.load_der_private_key(base64.b64decode(body), password=None)
    assert isinstance(der_key, rsa.RSAPrivateKey) and der_key.key_size == 2048
    spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert outs["public_key_b64"] == base64.b64encode(spki).decode()
    assert outs["dkim_txt"] == f"v=DKIM1; k=rsa; p={outs['public_key_b64']}"
    rec = dkim_std.parse_dkim_record(outs["dkim_txt"])
    assert rec.key_type == "rsa" and rec.key_bits == 2048 and not rec.revoked
    assert dkim_std.check_dkim(outs["dkim_txt"]) == []


def test_each_create_makes_a_new_key() -> None:
    a = create("a")[1]
    b = create("a")[1]
    assert a["public_key_b64"] != b["public_key_b64"]


def test_provider_diff_keeps_the_key() -> None:
    p = DkimKeyPairProvider()
    rid, created_outs = create("s2025a")
    olds = dict(created_outs, __provider="serialized-v1")
    # re-run with the same inputs and the same provider: no change
    same = p.diff(rid, olds, {"selector": "s2025a", "key_size": 2048, "__provider": "serialized-v1"})
    assert same.changes is False and same.replaces == []
    # a new provider serialization (the module moved to mailinfra.components.dkim): an
    # in-place update that stores the new provider and keeps the key
    moved_provider = p.diff(rid, olds, {"selector": "s2025a", "key_size": 2048, "__provider": "serialized-v2"})
    assert moved_provider.changes is True and moved_provider.replaces == []
    # secrets as the provider host hands them over (keep_secrets) compare by value
    wrapped = p.diff(
        rid, olds, {"selector": {SECRET_SIG: "1b47061264138c4ac30d75fd1eb44270", "value": "s2025a"}, "key_size": 2048}
    )
    assert wrapped.changes is False
    # selector or key size change: replace (a new key under a new name)
    moved = p.diff(rid, olds, {"selector": "s2025b", "key_size": 2048})
    assert moved.changes is True and moved.replaces == ["selector"] and moved.delete_before_replace is False
    assert p.diff(rid, olds, {"selector": "s2025a", "key_size": 1024}).replaces == ["key_size"]
    # update (the provider-only change above) and read keep the stored key
    assert p.update(rid, olds, {"selector": "s2025a", "key_size": 2048}).outs == {
        k: v for k, v in olds.items() if k != "__provider"
    }
    assert p.read(rid, created_outs).outs == created_outs


def test_provider_check() -> None:
    p = DkimKeyPairProvider()
    assert p.check({}, {"selector": "s1", "key_size": 2048}).failures == []
    failures = p.check({}, {"selector": "bad_sel", "key_size": 1024}).failures
    assert sorted(f.property for f in failures) == ["key_size", "selector"]


def test_key_size_other_than_2048_refused() -> None:
    with pytest.raises(ValueError, match="2048"):
        generate_key_material("s", 1024)


def test_serialized_provider_runs_in_a_fresh_interpreter() -> None:
    """What the real engine does: the dynamic provider host (cwd = project dir) unpickles
    the provider from state and calls create; the class is found by import."""
    blob = serialize_provider(DkimKeyPairProvider())
    # the pickle names the class by module path: the one the wheel installs (README upgrade note)
    assert b"mailinfra.components.dkim" in base64.b64decode(blob)
    code = textwrap.dedent(
        """
        import base64, sys, dill
        provider = dill.loads(base64.b64decode(sys.stdin.read()))
        r = provider.create({"selector": "fresh", "key_size": 2048})
        d = provider.diff(r.id, r.outs, {"selector": "fresh", "key_size": 2048})
        assert d.changes is False
        print(r.id.split("-")[0], r.outs["dkim_txt"][:16])
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run(
        [sys.executable, "-c", code], input=blob, capture_output=True, text=True, cwd=ROOT, env=env, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["fresh", "v=DKIM1;", "k=rsa;"]
    assert "PRIVATE" not in out.stdout + out.stderr


# ------------------------------------------------------------------------------------
# dkimpy: sign with the generated key, verify against the published TXT value
# ------------------------------------------------------------------------------------

MESSAGE = (
    b"From: News <news@example.com>\r\n"
    b"To: reader@example.org\r\n"
    b"Subject: Hello\r\n"
    b"Date: Mon, 03 Mar 2025 10:00:00 +0000\r\n"
    b"Message-ID: <1@example.com>\r\n"
    b"\r\n"
    b"Hello, reader.\r\n"
)


def _dns_for(txt_by_name: dict[str, str]):
    def dnsfunc(name, timeout=5):
        key = name.decode() if isinstance(name, bytes) else name
        return txt_by_name.get(key.rstrip("."), "").encode()

    return dnsfunc


def test_dkim_signature_verifies_against_published_txt() -> None:
    outs = create("s2025a")[1]
    name = dkim_std.dkim_name("s2025a", "example.com")
    for private in (outs["private_key_pem"].encode(), _pem_from_ses_form(outs["private_key_b64"])):
        sig = dkimpy.sign(MESSAGE, b"s2025a", b"example.com", private, include_headers=[b"from", b"to", b"subject", b"date"])
        assert sig.startswith(b"DKIM-Signature:")
        assert dkimpy.verify(sig + MESSAGE, dnsfunc=_dns_for({name: outs["dkim_txt"]}))
    # a tampered message or another key does not verify
    assert not dkimpy.verify(
        sig + MESSAGE.replace(b"Hello, reader", b"Hello, victim"), dnsfunc=_dns_for({name: outs["dkim_txt"]})
    )
    other = create("s2025a")[1]
    assert not dkimpy.verify(sig + MESSAGE, dnsfunc=_dns_for({name: other["dkim_txt"]}))


def _pem_from_ses_form(b64: str) -> bytes:
    lines = textwrap.wrap(b64, 64)
    return ("-----BEGIN PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END PRIVATE KEY-----\n").encode()


def test_easy_dkim_is_rsa_2048() -> None:
    args = easy_dkim_signing_attributes()
    assert args.next_signing_key_length == "RSA_2048_BIT"
    assert args.domain_signing_private_key is None and args.domain_signing_selector is None


# ------------------------------------------------------------------------------------
# ByoDkim component (mocks whose DkimKeyPair really generates keys, like the provider)
# ------------------------------------------------------------------------------------


class KeyGenRecorder(Recorder):
    generated: ClassVar[dict[str, dict]] = {}

    def new_resource(self, args):
        if args.typ == DYNAMIC_TYPE:
            result = DkimKeyPairProvider().create(dict(args.inputs))
            self.generated[args.name] = result.outs
            return result.id, dict(result.outs)
        return super().new_resource(args)


@pytest.fixture
def keygen_mocks():
    recorder = KeyGenRecorder()
    recorder.generated.clear()
    pulumi.runtime.set_mocks(recorder, project="mailinfra", stack="dev", preview=False, monitor=RecordingMonitor(recorder))
    return recorder


TODAY = D(2025, 6, 10)  # s2025b signs since 06-08, s2025a still published until 06-15


def byo_args(**over):
    base = {"domain": "example.com", "selectors": (S1, S2), "today": TODAY}
    base.update(over)
    return ByoDkimArgs(**base)


def build_byo(args, box):
    @pulumi.runtime.test
    def run():
        ks = KeyStore("keys", make_args())
        byo = ByoDkim("example-com-dkim", args, ks)
        box["ks"], box["byo"] = ks, byo
        attrs = byo.signing_attributes
        values = [v for _, v in byo.records]
        return pulumi.Output.all(
            assert_secret(attrs.domain_signing_private_key),
            *[assert_secret(ks.secret_versions[n].secret_string) for n in ks.secret_versions],
            attrs.domain_signing_private_key,
            *values,
        ).apply(lambda v: box.update(resolved=v))

    run()


def test_byodkim_component(keygen_mocks, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    box: dict = {}
    build_byo(byo_args(), box)
    byo = box["byo"]
    assert byo.plan.signing == "s2025b" and byo.plan.publish == ("s2025a", "s2025b")
    pairs = keygen_mocks.of_type(DYNAMIC_TYPE)
    assert sorted(p.name for p in pairs) == ["example-com-dkim-s2025a", "example-com-dkim-s2025b"]
    comp = next(r for r in keygen_mocks.registered if r.type == "mailinfra:dkim:ByoDkim")
    for p in pairs:
        assert p.parent == comp.urn
        assert sorted(p.additional_secret_outputs) == ["private_key_b64", "private_key_pem"]
        assert p.inputs["key_size"] == 2048
    # records: <selector>._domainkey.<domain> -> the generated public key
    names = [n for n, _ in byo.records]
    assert names == ["s2025a._domainkey.example.com", "s2025b._domainkey.example.com"]
    gen = keygen_mocks.generated
    resolved = box["resolved"]
    n_secrets = len(box["ks"].secret_versions)
    ses_key, txt_a, txt_b = resolved[1 + n_secrets :]
    assert txt_a == gen["example-com-dkim-s2025a"]["dkim_txt"] and txt_b == gen["example-com-dkim-s2025b"]["dkim_txt"]
    # signing attributes: the signing selector and its key in the SES form
    assert byo.signing_attributes.domain_signing_selector == "s2025b"
    assert ses_key == gen["example-com-dkim-s2025b"]["private_key_b64"]
    # secrets: one per published selector, under the KeyStore's key, children of the KeyStore
    ks_urn = next(r for r in keygen_mocks.registered if r.type == "mailinfra:keystore:KeyStore").urn
    secrets = keygen_mocks.of_type("aws:secretsmanager/secret:Secret")
    assert sorted(s.name for s in secrets) == ["keys-example-com-dkim-s2025a", "keys-example-com-dkim-s2025b"]
    assert all(s.parent == ks_urn and s.inputs["kmsKeyId"].endswith("/keys-key") for s in secrets)
    versions = keygen_mocks.of_type("aws:secretsmanager/secretVersion:SecretVersion")
    assert len(versions) == 2
    for v in versions:
        assert SECRET_SIG in v.raw_inputs.fields["secretString"].struct_value.fields
    # no private key text in any plain input or in the logs
    for outs in gen.values():
        for needle in (outs["private_key_b64"][40:120], outs["private_key_pem"].splitlines()[3]):
            _assert_not_in_plain_inputs(keygen_mocks, needle)
            assert needle not in caplog.text
    assert "PRIVATE KEY" not in caplog.text
    assert "DKIM example.com: signing s2025b; publishing s2025a, s2025b; next change on 2025-06-16" in caplog.text


def test_byodkim_retired_selector_is_not_declared(keygen_mocks) -> None:
    box: dict = {}
    build_byo(byo_args(today=D(2025, 6, 16)), box)
    assert [p.name for p in keygen_mocks.of_type(DYNAMIC_TYPE)] == ["example-com-dkim-s2025b"]
    assert [n for n, _ in box["byo"].records] == ["s2025b._domainkey.example.com"]


def test_byodkim_args_validated_before_anything_exists(keygen_mocks) -> None:
    with pytest.raises(KeyStoreError, match="^domain: "):
        byo_args(domain="Example.COM.")
    with pytest.raises(KeyStoreError, match="^key_size: "):
        byo_args(key_size=1024)
    with pytest.raises(SelectorPlanError):
        byo_args(selectors=(S2, S1))
    assert ByoDkimArgs(domain="example.com", selectors=(S1,)).today == dt.date.today()
    assert keygen_mocks.registered == []


def _assert_not_in_plain_inputs(recorder, needle: str) -> None:
    for r in recorder.registered:
        for name, raw in r.raw_inputs.fields.items():
            if raw.WhichOneof("kind") == "struct_value" and SECRET_SIG in raw.struct_value.fields:
                continue
            assert needle not in str(raw), f"key material leaked in {r.type} {r.name}.{name}"
