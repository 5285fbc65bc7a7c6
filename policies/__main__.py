"""Entry point the Pulumi CLI runs for `--policy-pack policies`. Serves forever: never import it."""

from mailinfra_policy import ALL, PACK_NAME
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(
    name=PACK_NAME,
    policies=ALL,
    enforcement_level=EnforcementLevel.MANDATORY,
    description="mailinfra: secure email-sending infrastructure (DNS auth, keys, relay, network, compliance).",
)
