"""The one error shape of component arguments: ``"<argument>: <reason> (got <value!r>)"``.

Every component's args dataclass raises a subclass of :class:`ArgsError` before any
resource exists; ``mailinfra plan`` turns it into one line on stderr and exit 2.
"""

from __future__ import annotations


class ArgsError(ValueError):
    """An invalid component argument; names the argument and the bad value."""

    mailinfra_exit_code = 2  # bad input: `mailinfra plan` exits 2 with this message

    def __init__(self, argument: str, value: object, reason: str) -> None:
        self.argument = argument
        self.value = value
        self.reason = reason
        super().__init__(f"{argument}: {reason} (got {value!r})")
