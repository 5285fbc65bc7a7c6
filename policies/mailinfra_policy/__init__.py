"""The mailinfra-security CrossGuard rules, importable without starting the pack.

``ALL`` is every policy; ``policies/__main__.py`` is the only place that serves them
(``PolicyPack`` blocks forever). Relative imports only: the CLI runs the pack from
inside ``policies/``, where the repository root is not on ``sys.path``.

The rule modules (and ``pulumi_policy``/``pulumi`` behind them) load on first use of a
name below (PEP 562), so ``mailinfra_policy.standards`` - the record syntax that
``mailinfra verify`` and the zone export share - imports without them.
"""

from __future__ import annotations

import importlib
from typing import Any

PACK_NAME = "mailinfra-security"

_FROM_COMMON = ("LEVELS", "REMEDIATION", "SEVERITY", "level_for", "policy_config_for", "process_environment")
_RULE_MODULES = ("dns", "keys", "relay", "network", "compliance", "events", "privacy", "quotas", "audit")

__all__ = ["ALL", "PACK_NAME", *_FROM_COMMON]


def __getattr__(name: str) -> Any:
    if name == "ALL":
        modules = [importlib.import_module(f".{m}", __name__) for m in _RULE_MODULES]
        value: Any = [p for module in modules for p in module.POLICIES]
    elif name in _FROM_COMMON:
        # LEVELS, SEVERITY and REMEDIATION are registries that the rule modules fill
        # as they define their policies: load every rule first.
        __getattr__("ALL")
        value = getattr(importlib.import_module(".common", __name__), name)
    elif name in _RULE_MODULES or name == "common":
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value
