"""Issue 11, defect 3: one BIMI precondition (standards.bimi.dmarc_precondition), used by
config validation, the record builder and the policy pack, so the three agree.

Before, ``p=reject; sp=none`` with BIMI passed the pack and was refused by the builder."""

from __future__ import annotations

import pytest

from mailinfra.components import records
from mailinfra.components.config import ConfigError, parse_config
from mailinfra.policies.mailinfra_policy import ALL
from mailinfra.policies.mailinfra_policy.standards import bimi, dmarc, txt
from tests.test_config import stack_raw
from tests.test_policies_helpers import run_stack

R53 = "aws:route53/record:Record"
POLICY = next(p for p in ALL if p.name == "bimi-requires-enforcing-dmarc")
LOGO = "https://brand.example.com/logo.svg"

# (DMARC record, the precondition's problem codes); [] = BIMI may be published
CASES = [
    ("v=DMARC1; p=reject", []),
    ("v=DMARC1; p=quarantine; sp=reject", []),
    ("v=DMARC1; p=reject; sp=quarantine", []),
    ("v=DMARC1; p=reject; sp=none", ["bimi-dmarc-subdomain-none"]),
    ("v=DMARC1; p=none", ["bimi-dmarc-not-enforcing"]),
    ("v=DMARC1; p=quarantine; t=y", ["bimi-dmarc-testing"]),
    ("v=DMARC1; p=none; sp=none; t=y", ["bimi-dmarc-not-enforcing", "bimi-dmarc-testing", "bimi-dmarc-subdomain-none"]),
]


def _record(name: str, value: str) -> dict:
    props = {"zoneId": "Z1", "name": name, "type": "TXT", "ttl": 300, "records": [txt.route53_txt(value)]}
    return {"type": R53, "name": name.replace(".", "-"), "props": props}


def _config_verdict(text: str) -> str | None:
    raw, region = stack_raw("prod")  # domains[0] (mail.example.com) publishes BIMI
    parsed = dmarc.parse_dmarc(text)
    raw["domains"][0]["dmarc"] = {
        "policy": parsed.policy,
        **({"subdomainPolicy": parsed.sp} if parsed.sp else {}),
        "testing": parsed.testing,
        "rua": ["mailto:dmarc@example.com"],
    }
    try:
        parse_config(raw, stack="prod", region=region)
    except ConfigError as exc:
        return str(exc)
    return None


def _builder_verdict(text: str) -> str | None:
    try:
        records.bimi_record("mail.example.com", "default", LOGO, None, text)
    except records.RecordError as exc:
        return str(exc)
    return None


def _policy_verdict(text: str) -> list[str]:
    specs = [_record("default._bimi.mail.example.com", bimi.build_bimi(LOGO)), _record("_dmarc.mail.example.com", text)]
    return [message for message, _ in run_stack(POLICY, specs)]


@pytest.mark.parametrize(("text", "codes"), CASES, ids=[c[0] for c in CASES])
def test_config_builder_and_policy_agree(text: str, codes: list[str]) -> None:
    problems = bimi.dmarc_precondition(dmarc.parse_dmarc(text))
    assert [p.code for p in problems] == codes
    config, builder, policy = _config_verdict(text), _builder_verdict(text), _policy_verdict(text)
    if not codes:
        assert (config, builder, policy) == (None, None, [])
        return
    assert config is not None and config.startswith("mailinfra.domains[0](mail.example.com).bimi: ")
    assert builder is not None and builder.startswith("BIMI for 'mail.example.com': ")
    assert policy == [f"BIMI record for mail.example.com: {p}" for p in problems]
    for problem in problems:  # the same words everywhere
        assert problem in config and problem in builder


def test_reject_with_sp_none_is_refused_by_all_three() -> None:
    text = "v=DMARC1; p=reject; sp=none"
    assert _config_verdict(text) is not None
    assert _builder_verdict(text) is not None
    assert _policy_verdict(text) == ["BIMI record for mail.example.com: BIMI needs a DMARC subdomain policy other than sp=none"]


def test_subdomain_under_the_organisational_record() -> None:
    # no own DMARC record: the organisational domain's applies, sp=none included
    specs = [
        _record("default._bimi.mail.example.com", bimi.build_bimi(LOGO)),
        _record("_dmarc.example.com", "v=DMARC1; p=reject; sp=none"),
    ]
    assert [m for m, _ in run_stack(POLICY, specs)] == [
        "BIMI record for mail.example.com: BIMI needs a DMARC subdomain policy other than sp=none"
    ]
