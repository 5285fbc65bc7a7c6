"""In-memory encoding of plan values: unknowns and secrets.

A plan holds plain Python values (str, int, float, bool, None, list, dict) plus two
markers: `UNKNOWN`, a value a real preview cannot know yet (an ARN before create), and
`Secret`, a wrapper whose content never reaches a string, a log line or a report.
`to_jsonable` turns a value into JSON-ready data with both markers replaced by
"[unknown]" and "[secret]". `Redactor` (from `redactor_for(plan)`) removes the text of
the stack's secure values from every report string: the last line of defence when a
program copied a secret into a plain string or a policy message quotes one.
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


# --- redaction: the text of a secret never reaches a report ---------------------------

MIN_REDACTED_LENGTH: Final = 8  # shorter secrets cannot be told from ordinary words


def secret_texts(value: Any) -> frozenset[str]:
    """The plain text of every string inside a `Secret` in `value` (recursively)."""
    found: set[str] = set()

    def walk(item: Any, inside: bool) -> None:
        if isinstance(item, Secret):
            walk(item.reveal(), True)
        elif isinstance(item, str):
            if inside:
                found.add(item)
        elif isinstance(item, Mapping):
            for v in item.values():
                walk(v, inside)
        elif isinstance(item, (list, tuple)):
            for v in item:
                walk(v, inside)

    walk(value, False)
    return frozenset(found)


class Redactor:
    """Replaces the text of known secrets with "[secret]" in report strings.

    Secrets are `Secret` wrappers wherever the program kept them secret; a program that
    copies a secret into a plain string (an f-string, a tag) loses the wrapper, and a
    policy message may quote what it judged. Every report format passes its strings
    through the plan's redactor, so neither reaches the output."""

    __slots__ = ("texts",)

    def __init__(self, texts: Any = ()) -> None:
        # "[secret]" itself is exempt: it is the marker, and would be replaced by itself forever
        unique = {t for t in texts if isinstance(t, str) and len(t) >= MIN_REDACTED_LENGTH and t != SECRET_TEXT}
        self.texts: tuple[str, ...] = tuple(sorted(unique, key=lambda t: (-len(t), t)))

    def __bool__(self) -> bool:
        return bool(self.texts)

    def text(self, text: str) -> str:
        found = False
        for secret in self.texts:
            if secret in text:
                text = text.replace(secret, SECRET_TEXT)
                found = True
        if found and any(secret in text for secret in self.texts):
            return SECRET_TEXT  # the marker and its neighbours spell a secret again
        return text

    def jsonable(self, value: Any) -> Any:
        """A copy of JSON-ready data (see `to_jsonable`) with every string redacted."""
        if not self.texts:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.text(str(k)): self.jsonable(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.jsonable(v) for v in value]
        return value


def redactor_for(plan: Any) -> Redactor:
    """The redactor of a plan: the stack's secure config values (placeholders on the mock
    engine, the decrypted values when a real engine supplies them)."""
    return Redactor(secret_texts(getattr(plan, "config", None) or {}))
