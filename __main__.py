"""mailinfra: the stack's config -> one MailStack (key store, firewall, sending domains,
zone records, DNSSEC, log group) -> exports (never a secret value)."""

import pulumi

from mailinfra.components import config
from mailinfra.components.stack import MailStack

stack = MailStack("mailinfra", config.load())
for key, value in stack.exports.items():
    pulumi.export(key, value)
