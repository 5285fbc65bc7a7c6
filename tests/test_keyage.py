"""`mailinfra verify`'s key-age check: SMTP access keys (creation times from --outputs) and
BYODKIM keys (published dates, in the plan) past or near mailinfra:keys.maxAgeDays."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from mailinfra.verify import VerifyOptions
from mailinfra.verify.context import Context
from mailinfra.verify.expect import build_expectations
from mailinfra.verify.keyage import key_ages, tasks

NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.timezone.utc)
PLAN: dict[str, Any] = {
    "project": "mailinfra",
    "stack": "prod",
    "resources": [],
    "outputs": {
        "keyMaxAgeDays": 90,
        "domains": {
            "news.example.org": {
                "keyCreated": {"smtp": {"1": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"}, "dkim": {"s2026a": "2026-01-05"}}
            },
            "mail.example.com": {"keyCreated": {"smtp": {"1": "[unknown]"}, "dkim": {}}},
        },
    },
}
OUTPUTS = {
    "domains": {
        "news.example.org": {"keyCreated": {"smtp": {"1": "2026-05-20T08:00:00Z"}}},
        "mail.example.com": {"keyCreated": {"smtp": {"1": "2026-03-10T08:00:00Z"}}},
    }
}


def _run(plan: dict[str, Any], outputs: dict[str, Any] | None) -> dict[str, tuple[str, str]]:
    exp = build_expectations(plan, outputs)
    ctx = Context(None, VerifyOptions(stack="prod", now=NOW))  # type: ignore[arg-type] # no DNS asked

    async def go() -> list[Any]:
        return [r for t in tasks(exp, ctx) for r in await t.run()]

    return {r.name: (r.status, r.message) for r in asyncio.run(go())}


def test_keys_past_near_and_within_their_maximum_age() -> None:
    found = _run(PLAN, OUTPUTS)
    assert found["news.example.org BYODKIM key s2026a"][0] == "fail"  # 147 days
    assert "Runbook: rotating a BYODKIM selector" in found["news.example.org BYODKIM key s2026a"][1]
    assert found["news.example.org SMTP access key 1"] == ("pass", "")  # 12 days
    status, message = found["mail.example.com SMTP access key 1"]  # 83 days: within 14 of 90
    assert status == "warn" and message.startswith("reaches the maximum age in 7 days")


def test_without_outputs_only_the_plan_dates_are_judged_and_config_sets_the_bound() -> None:
    assert set(_run(PLAN, None)) == {"news.example.org BYODKIM key s2026a"}  # unknown access-key times skipped
    longer = {**PLAN, "outputs": {**PLAN["outputs"], "keyMaxAgeDays": 365}}
    assert _run(longer, None)["news.example.org BYODKIM key s2026a"][0] == "pass"


def test_malformed_outputs_never_crash() -> None:
    assert list(key_ages({"domains": {"x": {"keyCreated": {"smtp": ["2026-01-01"], "dkim": {"s": 5}}}}})) == []
    assert list(key_ages({"domains": ["x"]})) == []
    assert _run({"outputs": {"keyMaxAgeDays": "ninety", "domains": {"x": "y"}}}, {"domains": 3}) == {}
