"""Problem codes of the standards modules: stable, kebab-case, one module each, and what
the ``check_*`` functions actually return (code and the tag or term at fault).

The table below is the contract: policies, verify and reports select problems by code,
so a renamed or dropped code fails here. A new code goes into its module's ``CODES``
and into this table.
"""

from __future__ import annotations

import base64
import importlib
import pkgutil
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mailinfra.policies.mailinfra_policy import standards
from mailinfra.policies.mailinfra_policy.standards import dkim, dmarc, mtasts, spf, tlsrpt, txt
from mailinfra.policies.mailinfra_policy.standards.errors import Problem

STABLE: dict[str, tuple[str, ...]] = {
    "spf": (
        "spf-syntax",
        "spf-too-many-lookups",
        "spf-not-fail-all",
        "spf-permissive-all",
        "spf-ptr",
        "spf-terms-after-all",
        "spf-too-long",
        "spf-mx-too-many-hosts",
        "spf-self-reference",
    ),
    "dmarc": (
        "dmarc-syntax",
        "dmarc-removed-tag",
        "dmarc-unknown-tag",
        "dmarc-no-policy",
        "dmarc-weak-policy",
        "dmarc-weak-subdomain-policy",
        "dmarc-weak-nonexistent-policy",
        "dmarc-testing",
        "dmarc-no-rua",
        "dmarc-spf-never-aligns",
    ),
    "dkim": ("dkim-syntax", "dkim-revoked", "dkim-rsa-too-short", "dkim-sha1-only", "dkim-testing", "dkim-easy-dkim-target"),
    "mtasts": (
        "mta-sts-txt-syntax",
        "mta-sts-policy-syntax",
        "mta-sts-mode",
        "mta-sts-mode-none",
        "mta-sts-mx-not-covered",
        "mta-sts-max-age-short",
        "mta-sts-http-status",
        "mta-sts-content-type",
    ),
    "tlsrpt": ("tls-rpt-syntax",),
    "txt": ("txt-syntax", "txt-string-too-long", "txt-record-too-large"),
    "tlsa": (
        "tlsa-invalid",
        "tlsa-pkix-usage",
        "tlsa-data-length",
        "tlsa-data-invalid",
        "tlsa-no-usable-record",
        "tlsa-no-match",
        "tlsa-ta-chain",
    ),
    "bimi": (
        "bimi-dmarc-not-enforcing",
        "bimi-dmarc-testing",
        "bimi-dmarc-subdomain-none",
        "bimi-logo-not-xml",
        "bimi-svg-root",
        "bimi-svg-version",
        "bimi-svg-profile",
        "bimi-svg-title",
        "bimi-svg-root-xy",
        "bimi-svg-forbidden-element",
        "bimi-svg-external-reference",
        "bimi-svg-viewbox",
        "bimi-svg-not-square",
        "bimi-logo-content-type",
        "bimi-logo-too-large",
        "bimi-vmc-not-pem",
        "bimi-vmc-invalid",
        "bimi-vmc-not-yet-valid",
        "bimi-vmc-expired",
        "bimi-vmc-name",
        "bimi-vmc-eku",
    ),
    "unsubscribe": (
        # check-message (message headers)
        "unsubscribe-missing",
        "unsubscribe-syntax",
        "unsubscribe-no-https",
        "unsubscribe-http",
        "unsubscribe-post-missing",
        "unsubscribe-post-value",
        # verify (the live one-click POST)
        "unsubscribe-url",
        "unsubscribe-redirect",
        "unsubscribe-method",
        "unsubscribe-status",
    ),
}
PREFIX = {"mtasts": "mta-sts-", "tlsrpt": "tls-rpt-"}
KEBAB = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)+\Z")
_LITERAL = re.compile(r"Problem\(\s*\"([^\"]+)\"")


def _modules_with_problems() -> dict[str, str]:
    """Standards module name -> its source, for every module that builds a Problem."""
    found = {}
    for info in pkgutil.iter_modules(standards.__path__):
        source = (Path(standards.__path__[0]) / f"{info.name}.py").read_text()
        if info.name != "errors" and "Problem(" in source:
            found[info.name] = source
    return found


def test_every_module_that_reports_problems_is_in_the_table() -> None:
    assert sorted(_modules_with_problems()) == sorted(STABLE)


@pytest.mark.parametrize("name", sorted(STABLE))
def test_codes_are_stable_kebab_case_and_the_modules_own(name: str) -> None:
    module = importlib.import_module(f"mailinfra.policies.mailinfra_policy.standards.{name}")
    codes = tuple(module.CODES)
    assert len(set(codes)) == len(codes), "a code listed twice"
    assert sorted(codes) == sorted(STABLE[name])
    prefix = PREFIX.get(name, f"{name}-")
    for code in codes:
        assert KEBAB.match(code) and code.startswith(prefix), code
    # Every code the module's source builds is one it declares.
    literal = set(_LITERAL.findall(_modules_with_problems()[name]))
    assert literal <= set(codes), sorted(literal - set(codes))


def test_codes_are_unique_across_modules() -> None:
    everything = [code for codes in STABLE.values() for code in codes]
    assert len(everything) == len(set(everything))


def _rsa_record(bits: int) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


DKIM_1024 = _rsa_record(1024)
ELEVEN = "v=spf1 " + " ".join(f"include:s{i}.example.net" for i in range(11)) + " -all"
POLICY = "version: STSv1\r\nmode: enforce\r\nmx: mx.example.com\r\nmax_age: 3600\r\n"

# check_* call -> the (code, tag) pairs it returns, in order.
CHECKS: list[tuple[str, object, list[tuple[str, str | None]]]] = [
    ("spf ok", lambda: spf.check_spf(spf.NULL_SPF), []),
    ("spf syntax", lambda: spf.check_spf("v=spf1 include:x.example.com bogus -all"), [("spf-syntax", "bogus")]),
    ("spf version", lambda: spf.check_spf("v=spf2 -all"), [("spf-syntax", "v")]),
    ("spf lookups", lambda: spf.check_spf(ELEVEN), [("spf-too-many-lookups", None)]),
    ("spf soft fail", lambda: spf.check_spf("v=spf1 ~all"), [("spf-not-fail-all", "~all")]),
    ("spf no all", lambda: spf.check_spf("v=spf1 include:x.example.com"), [("spf-not-fail-all", None)]),
    ("spf +all", lambda: spf.check_spf("v=spf1 +all"), [("spf-not-fail-all", "+all"), ("spf-permissive-all", "+all")]),
    ("spf ?all", lambda: spf.check_spf("v=spf1 ?all", require_fail_all=False), [("spf-permissive-all", "?all")]),
    ("spf ptr", lambda: spf.check_spf("v=spf1 ptr:example.com -all"), [("spf-ptr", "ptr:example.com")]),
    ("spf after all", lambda: spf.check_spf("v=spf1 -all mx"), [("spf-terms-after-all", "mx")]),
    (
        "spf long",
        lambda: spf.check_spf("v=spf1 " + " ".join(f"ip4:192.0.2.{i}" for i in range(40)) + " -all"),
        [("spf-too-long", None)],
    ),
    ("dmarc ok", lambda: dmarc.check_dmarc("v=DMARC1; p=reject; rua=mailto:d@example.com", min_policy="reject"), []),
    ("dmarc syntax", lambda: dmarc.check_dmarc("v=DMARC1; p=block"), [("dmarc-syntax", "p")]),
    ("dmarc version", lambda: dmarc.check_dmarc("v=DMARC2; p=none"), [("dmarc-syntax", "v")]),
    (
        "dmarc removed",
        lambda: dmarc.check_dmarc("v=DMARC1; p=reject; pct=50; rua=mailto:d@example.com"),
        [("dmarc-removed-tag", "pct")],
    ),
    (
        "dmarc unknown",
        lambda: dmarc.check_dmarc("v=DMARC1; p=reject; foo=1; rua=mailto:d@example.com"),
        [("dmarc-unknown-tag", "foo")],
    ),
    ("dmarc no p", lambda: dmarc.check_dmarc("v=DMARC1; rua=mailto:d@example.com"), [("dmarc-no-policy", "p")]),
    (
        "dmarc weak",
        lambda: dmarc.check_dmarc("v=DMARC1; p=none; sp=none; np=none; t=y; rua=mailto:d@example.com", min_policy="quarantine"),
        [
            ("dmarc-weak-policy", "p"),
            ("dmarc-weak-subdomain-policy", "sp"),
            ("dmarc-weak-nonexistent-policy", "np"),
            ("dmarc-testing", "t"),
        ],
    ),
    ("dmarc no rua", lambda: dmarc.check_dmarc("v=DMARC1; p=reject"), [("dmarc-no-rua", "rua")]),
    (
        "dmarc alignment",
        lambda: [dmarc.spf_alignment_problem("s", "example.com", "bounce.example.com")],
        [("dmarc-spf-never-aligns", "aspf")],
    ),
    ("dkim short", lambda: dkim.check_dkim(DKIM_1024), [("dkim-rsa-too-short", "p")]),
    ("dkim syntax", lambda: dkim.check_dkim("v=DKIM1; k=rsa; p=!!!"), [("dkim-syntax", "p")]),
    ("dkim key type", lambda: dkim.check_dkim("v=DKIM1; k=dsa; p=AAAA"), [("dkim-syntax", "k")]),
    ("dkim revoked", lambda: dkim.check_dkim("v=DKIM1; p="), [("dkim-revoked", "p")]),
    (
        "dkim sha1 testing",
        lambda: dkim.check_dkim("v=DKIM1; h=sha1; t=y; p="),
        [("dkim-revoked", "p"), ("dkim-sha1-only", "h"), ("dkim-testing", "t")],
    ),
    ("mta-sts txt", lambda: mtasts.check_txt("v=STSv1; id=not-valid!"), [("mta-sts-txt-syntax", "id")]),
    ("mta-sts txt ok", lambda: mtasts.check_txt("v=STSv1; id=20260101abc"), []),
    ("mta-sts policy syntax", lambda: mtasts.check_policy("version: STSv1\r\n"), [("mta-sts-policy-syntax", None)]),
    (
        "mta-sts policy",
        lambda: mtasts.check_policy(POLICY, mode="testing", mx_hosts=["mx.other.example"]),
        [("mta-sts-mode", "mode"), ("mta-sts-mx-not-covered", "mx"), ("mta-sts-max-age-short", "max_age")],
    ),
    ("tls-rpt", lambda: tlsrpt.check_tlsrpt("v=TLSRPTv1;"), [("tls-rpt-syntax", "rua")]),
    ("tls-rpt ok", lambda: tlsrpt.check_tlsrpt("v=TLSRPTv1; rua=mailto:tls@example.com"), []),
    ("txt too long", lambda: txt.check_route53_txt("a" * 300), [("txt-string-too-long", "0")]),
    ("txt syntax", lambda: txt.check_route53_txt('"unterminated'), [("txt-syntax", None)]),
]


@pytest.mark.parametrize(("call", "expected"), [(c, e) for _, c, e in CHECKS], ids=[n for n, _, _ in CHECKS])
def test_checks_return_problems_with_code_and_tag(call, expected) -> None:  # type: ignore[no-untyped-def]
    problems = call()
    assert all(isinstance(p, Problem) and str(p) for p in problems)
    assert [(p.code, p.tag) for p in problems] == expected
