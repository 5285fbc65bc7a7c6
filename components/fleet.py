"""Sharded fleets: one core stack (key store, firewall, security alerts, audit) and shard
stacks that hold the sending domains and read the core's outputs.

- :func:`shard_of` (components/shards.py) is the stable hash that puts a domain in one of N shards: sha256 of
  the lower-case name, mod N. Never Python's ``hash()``, which is salted per process.
- :class:`CoreReference` is a shard's view of the core: a ``pulumi.StackReference`` to
  the stack ``mailinfra:fleet.core`` names, and the outputs the shard builds on. Offline,
  ``mailinfra plan`` answers the reference from the core's own offline plan (the mock
  runtime's StackReference, mailinfra/mockstate.py).
- :class:`CoreKeys` stands where a shard would have its KeyStore: secrets of the shard's
  domains are made in the shard, encrypted under the core's key.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from .keystore import KeyStoreArgs, SecretStore, make_secret
from .mtasts_hosting import MtaStsTenancyRef
from .shards import shard_of

# The core's shared MTA-STS distribution (mtaStsHosting: shared), in MtaStsTenancyRef's order.
MTA_STS_OUTPUTS = ("mtaStsBucket", "mtaStsDistributionId", "mtaStsConnectionGroupId", "mtaStsRoutingEndpoint")

__all__ = ["CORE_OUTPUTS", "MTA_STS_OUTPUTS", "CoreKeys", "CoreReference", "shard_of"]

# The core's stack outputs a shard reads (MailStack exports them on the core).
CORE_OUTPUTS = ("keyArn", "keyAlarmTopicArn", "smtpVpcEndpointId", *MTA_STS_OUTPUTS)


class CoreReference:
    """The core stack's outputs, read through ``pulumi.StackReference`` (not a component:
    the reference is its only resource, a child of the MailStack)."""

    def __init__(self, core: str, opts: pulumi.ResourceOptions | None = None) -> None:
        self.name = core
        self.reference = pulumi.StackReference(core, stack_name=core, opts=opts)
        self.key_arn: pulumi.Output[Any] = self.reference.require_output("keyArn")
        self.topic_arn: pulumi.Output[Any] = self.reference.require_output("keyAlarmTopicArn")
        # None when the core has no SMTP interface endpoint (no mailinfra:network)
        self.vpc_endpoint_id: pulumi.Output[Any] = self.reference.get_output("smtpVpcEndpointId")

    def mta_sts_tenancy(self) -> MtaStsTenancyRef:
        """The core's MTA-STS distribution, for the shard's Route53 domains to be tenants of
        (a core with mtaStsHosting: own exports none: the reference then fails, naming the output)."""
        return MtaStsTenancyRef(*(self.reference.require_output(o) for o in MTA_STS_OUTPUTS))


class CoreKeys(SecretStore):
    """A shard's secrets, under the core's key (the KeyStore interface SendingDomain uses)."""

    def __init__(
        self,
        name: str,
        args: KeyStoreArgs,
        core: CoreReference,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mailinfra:fleet:CoreKeys", name, None, opts)
        self._name = name
        self.args = args
        self.key_arn = core.key_arn
        self.topic_arn = core.topic_arn
        self._secrets: dict[str, aws.secretsmanager.Secret] = {}
        self.secret_versions: dict[str, aws.secretsmanager.SecretVersion] = {}
        self.register_outputs({"key_arn": self.key_arn, "topic_arn": self.topic_arn})

    def secret(
        self,
        name: str,
        value: pulumi.Input[str],
        description: str,
        *,
        opts: pulumi.ResourceOptions | None = None,
    ) -> aws.secretsmanager.Secret:
        """As KeyStore.secret, encrypted under the core's key."""
        return make_secret(
            self, self._name, self.key_arn, self.args, self._secrets, self.secret_versions, name, value, description, opts
        )
