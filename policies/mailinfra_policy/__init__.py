"""The mailinfra-security CrossGuard rules, importable without starting the pack.

``ALL`` is every policy; ``policies/__main__.py`` is the only place that serves them
(``PolicyPack`` blocks forever). Relative imports only: the CLI runs the pack from
inside ``policies/``, where the repository root is not on ``sys.path``.
"""

from __future__ import annotations

from . import compliance, dns, keys, network, relay
from .common import (
    LEVELS,
    REMEDIATION,
    SEVERITY,
    level_for,
    policy_config_for,
    process_environment,
)

ALL = [*dns.POLICIES, *keys.POLICIES, *relay.POLICIES, *network.POLICIES, *compliance.POLICIES]
PACK_NAME = "mailinfra-security"

__all__ = ["ALL", "LEVELS", "PACK_NAME", "REMEDIATION", "SEVERITY", "level_for", "policy_config_for", "process_environment"]
