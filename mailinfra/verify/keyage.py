"""Key lifetime of `mailinfra verify`: SMTP access keys and BYODKIM keys past or near their maximum age.

The program exports, per domain, ``keyCreated`` = {``smtp``: {generation: creation time
of the IAM access key}, ``dkim``: {selector: the day it was published (its key is made
then)}} and ``keyMaxAgeDays`` (``mailinfra:keys.maxAgeDays``, default 90). The access
keys' times exist only after deploy: pass ``--outputs`` (``pulumi stack output --json``);
the BYODKIM dates are config, known in the plan. A key older than the maximum fails,
one within ``standards.aws.KEY_AGE_WARNING_DAYS`` of it warns; README "Runbook: a leaked
SMTP credential" and "Runbook: rotating a BYODKIM selector" say how to rotate.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from functools import partial
from typing import Any

from mailinfra.policies.mailinfra_policy.standards import aws

from .context import Context, Task
from .expect import Expectations
from .report import CheckResult
from .result import result

__all__ = ["CHECKS", "check_key_age", "key_ages", "tasks"]

CHECKS = ("key-age",)
RUNBOOK = {"smtp": "README 'Runbook: a leaked SMTP credential'", "dkim": "README 'Runbook: rotating a BYODKIM selector'"}


def _when(value: Any) -> dt.datetime | None:
    """An RFC 3339 time or an ISO date (UTC); None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def key_ages(outputs: Mapping[str, Any]) -> Iterator[tuple[str, str, str, dt.datetime]]:
    """(domain, kind smtp|dkim, generation or selector, created) of every exported key."""
    domains = outputs.get("domains")
    if not isinstance(domains, Mapping):
        return
    for domain, info in sorted(domains.items()):
        created = info.get("keyCreated") if isinstance(info, Mapping) else None
        if not isinstance(created, Mapping):
            continue
        for kind in ("smtp", "dkim"):
            keys = created.get(kind)
            for label, value in sorted(keys.items()) if isinstance(keys, Mapping) else []:
                when = _when(value)
                if when is not None:
                    yield str(domain), kind, str(label), when


def _max_age(outputs: Mapping[str, Any]) -> int:
    value = outputs.get("keyMaxAgeDays")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else aws.KEY_MAX_AGE_DAYS


def check_key_age(name: str, kind: str, created: dt.datetime, now: dt.datetime, max_days: int) -> list[CheckResult]:
    age = (now - created).days
    expected = f"younger than {max_days} days (mailinfra:keys.maxAgeDays)"
    found = f"created {created.date().isoformat()}, {age} days old"
    if age >= max_days:
        return [result(name, "key-age", "fail", expected, found, f"past the maximum age: rotate it ({RUNBOOK[kind]})")]
    if age >= max_days - aws.KEY_AGE_WARNING_DAYS:
        left = max_days - age
        return [result(name, "key-age", "warn", expected, found, f"reaches the maximum age in {left} days ({RUNBOOK[kind]})")]
    return [result(name, "key-age", "pass", expected, found)]


def tasks(exp: Expectations, ctx: Context) -> Iterable[Task]:
    outputs = exp.outputs
    now = ctx.options.now or dt.datetime.now(dt.timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.timezone.utc)
    max_days = _max_age(outputs)
    for domain, kind, label, created in key_ages(outputs):
        what = "SMTP access key" if kind == "smtp" else "BYODKIM key"
        name = f"{domain} {what} {label}"

        async def run(name: str = name, kind: str = kind, created: dt.datetime = created) -> list[CheckResult]:
            return check_key_age(name, kind, created, now, max_days)

        yield Task(name, "key-age", partial(run))
