"""The one error shape of component arguments: ``"<argument>: <reason> (got <value!r>)"``.

Every component's args dataclass raises a subclass of :class:`ArgsError` before any
resource exists. It is an ``InputError`` (standards/errors.py), the one base class of
"the input is invalid": ``mailinfra plan`` turns it into one line on stderr and exit 2.
"""

from __future__ import annotations

from mailinfra.policies.mailinfra_policy.standards import aws as aws_std
from mailinfra.policies.mailinfra_policy.standards.errors import InputError


class ArgsError(InputError):
    """An invalid component argument; names the argument and the bad value."""

    def __init__(self, argument: str, value: object, reason: str) -> None:
        self.argument = argument
        self.value = value
        self.reason = reason
        super().__init__(f"{argument}: {reason} (got {value!r})")

    @classmethod
    def check_where(cls, region: object, account_id: object) -> None:
        """Raise ``cls`` unless ``region`` is an AWS region and ``account_id`` an account id:
        the first check of every account-wide component's arguments."""
        if not aws_std.is_aws_region(region):
            raise cls("region", region, "must be an AWS region such as eu-west-1")
        if not aws_std.is_account_id(account_id):
            raise cls("account_id", account_id, "must be a 12-digit AWS account id")
