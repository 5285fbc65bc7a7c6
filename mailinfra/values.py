"""In-memory encoding of plan values: unknowns and secrets.

A plan holds plain Python values (str, int, float, bool, None, list, dict) plus two
markers: `UNKNOWN`, a value a real preview cannot know yet (an ARN before create), and
`Secret`, a wrapper whose content never reaches a string, a log line or a report.
`to_jsonable` turns a value into JSON-ready data with both markers replaced by
"[unknown]" and "[secret]".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

UNKNOWN_TEXT: Final = "[unknown]"
SECRET_TEXT: Final = "[secret]"


class _Unknown:
    """The single unknown value; compare with `is UNKNOWN`."""

    __slots__ = ()
    def __new__(cls) -> _Unknown:  # noqa: PYI034 - a singleton, not a subclassable type
        existing = globals().get("UNKNOWN")
        return existing if isinstance(existing, cls) else super().__new__(cls)

    def __repr__(self) -> str:
        return UNKNOWN_TEXT

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return format(UNKNOWN_TEXT, spec)

    def __reduce__(self) -> str:
        return "UNKNOWN"

    def __copy__(self) -> _Unknown:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> _Unknown:
        return self


UNKNOWN: Final = _Unknown()


class Secret:
    """A value that must never be shown. `reveal()` is the only way to read it."""

    __slots__ = ("_value",)
    _value: Any

    def __init__(self, value: Any) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        object.__setattr__(self, "_value", value)

    def reveal(self) -> Any:
        return self._value

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Secret is immutable")

    def __repr__(self) -> str:
        return SECRET_TEXT

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return format(SECRET_TEXT, spec)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and bool(self._value == other._value)

    def __hash__(self) -> int:
        return hash((Secret, repr(type(self._value))))

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (Secret, (self._value,))


def is_unknown(value: Any) -> bool:
    return value is UNKNOWN


def is_secret(value: Any) -> bool:
    return isinstance(value, Secret)


def to_jsonable(value: Any) -> Any:
    """JSON-ready copy: UNKNOWN -> "[unknown]", Secret -> "[secret]", recursively.

    Tuples become lists, mapping keys become strings, anything else unknown to JSON
    becomes its str().
    """
    if value is UNKNOWN:
        return UNKNOWN_TEXT
    if isinstance(value, Secret):
        return SECRET_TEXT
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    return str(value)


def reveal_all(value: Any) -> Any:
    """Copy with every Secret unwrapped (UNKNOWN kept). For policy evaluation only."""
    if isinstance(value, Secret):
        return reveal_all(value.reveal())
    if isinstance(value, Mapping):
        return {k: reveal_all(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [reveal_all(v) for v in value]
    return value


def contains_unknown(value: Any) -> bool:
    if value is UNKNOWN:
        return True
    if isinstance(value, Secret):
        return contains_unknown(value.reveal())
    if isinstance(value, Mapping):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(contains_unknown(v) for v in value)
    return False


def contains_secret(value: Any) -> bool:
    if isinstance(value, Secret):
        return True
    if isinstance(value, Mapping):
        return any(contains_secret(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(contains_secret(v) for v in value)
    return False
