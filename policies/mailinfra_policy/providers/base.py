"""What every DNS provider adapter shares: the provider-neutral record and the adapter shape.

An adapter turns a record into the inputs of its provider's Pulumi resource and reads
those inputs (as the engine, a policy or a JSON plan holds them: camelCase names,
unknown values) back into a :class:`Record`. Pure Python: the pack ships this package
and only :meth:`Adapter.resource_class` imports a provider SDK, on demand.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..standards import txt
from ..standards._common import in_zone, normalize_host
from ..standards.errors import InputError, StandardError

__all__ = [
    "Adapter",
    "MapValues",
    "ProviderError",
    "Record",
    "RecordSpec",
    "UnknownProviderError",
    "is_placeholder",
    "normal_value",
    "presentation",
]

# How the JSON form of a plan spells a value it cannot show.
PLACEHOLDERS = frozenset({"[unknown]", "[secret]"})


class ProviderError(InputError):
    """A record the provider cannot hold as given (the message names the record)."""


class UnknownProviderError(ProviderError):
    """A provider name or resource type no adapter handles."""


def is_placeholder(value: Any) -> bool:
    """Default test for "not known": None, the plan's placeholders, an engine unknown."""
    if value is None:
        return True
    if isinstance(value, str):
        return value in PLACEHOLDERS
    return type(value).__name__ == "_Unknown"


class RecordSpec(Protocol):
    """What an adapter needs to write a record (mailinfra.components.records.DnsRecord fits)."""

    @property
    def name(self) -> Any: ...  # str, or a pulumi Input for a record known after deploy
    @property
    def type(self) -> str: ...
    @property
    def values(self) -> Any: ...  # Sequence[str], or a pulumi Input of one
    @property
    def ttl(self) -> int: ...
    @property
    def purpose(self) -> str: ...


# Applies a function to values that may only be known later (a pulumi Output); the
# component passes ``lambda v, f: Output.from_input(v).apply(f)``. Default: call it.
MapValues = Callable[[Any, Callable[[Sequence[str]], Any]], Any]


def _call(values: Any, fn: Callable[[Sequence[str]], Any]) -> Any:
    return fn(values)


@dataclass(frozen=True)
class Record:
    """One record resource, read back: the same shape whatever the provider.

    ``values`` holds the logical value of each entry (TXT unsplit, MX ``"pref host"``,
    hosts lowercase without trailing dot) or None where it is unknown; ``raw`` the
    provider form as written. ``name`` is lowercase without trailing dot, and as the
    resource gives it: possibly relative to the zone (see :meth:`absolute`).
    """

    provider: str
    name: str | None
    type: str | None
    values: tuple[str | None, ...] = ()
    raw: tuple[Any, ...] = ()
    ttl: int | None = None
    zone_id: Any = None

    @property
    def texts(self) -> list[str]:
        """The known values."""
        return [v for v in self.values if v is not None]

    @property
    def known_values(self) -> tuple[str, ...] | None:
        """Every value, or None when any is unknown (or the record has none, e.g. an alias)."""
        if not self.values or any(v is None for v in self.values):
            return None
        return tuple(v for v in self.values if v is not None)

    def absolute(self, zone: str | None) -> str | None:
        """The owner name made absolute in ``zone`` (``@`` is the apex)."""
        if self.name is None:
            return None
        if not zone:
            return self.name
        if self.name == "@":
            return zone
        if in_zone(self.name, zone):
            return self.name
        return f"{self.name}.{zone}"


def normal_value(rtype: str | None, value: str) -> str:
    """A host-valued rdata in the neutral form: MX ``"pref host"``, names lowercase, no dot."""
    value = value.strip()
    if rtype == "MX":
        pref, _, host = value.partition(" ")
        if not (pref.isascii() and pref.isdigit()):  # "²".isdigit() is True, int() refuses it
            return value
        return f"{int(pref)} {normalize_host(host)}"
    if rtype in ("CNAME", "NS", "PTR"):
        return normalize_host(value)
    return value


def presentation(rtype: str, value: str) -> str:
    """The zone-file (RFC 1035 master file) form of one neutral value."""
    if rtype == "TXT":
        return txt.to_rdata_text(value)
    if rtype in ("CNAME", "NS", "PTR"):
        return normalize_host(value) + "."
    if rtype == "MX":
        pref, _, host = value.partition(" ")
        return f"{pref} {normalize_host(host)}."
    return value


def _name(value: Any, unknown: Callable[[Any], bool]) -> str | None:
    if not isinstance(value, str) or unknown(value):
        return None
    return normalize_host(value)


def _ttl(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value)


class Adapter:
    """One DNS provider: its resource type and both directions of its record form."""

    name: str = ""
    record_type: str = ""  # Pulumi type token of its record resource
    zone_type: str = ""  # Pulumi type token of its zone resource
    one_value_per_resource = False  # Cloudflare: one resource per value

    # ------------------------------------------------------------ record -> inputs

    def resource_values(self, rtype: str, values: Sequence[str]) -> list[str]:
        """The provider form of each neutral value."""
        raise NotImplementedError

    def resource_inputs(
        self, record: RecordSpec, zone_id: Any, *, comment: str | None = None, map_values: MapValues = _call
    ) -> dict[str, Any]:
        """Keyword arguments of the provider's record resource for ``record``."""
        raise NotImplementedError

    def resource_class(self) -> Any:
        """The provider SDK's record resource class (imported on first use)."""
        raise NotImplementedError

    # ------------------------------------------------------------ inputs -> record

    def entries(self, inputs: Mapping[str, Any], unknown: Callable[[Any], bool]) -> list[Any]:
        """The value entries of the resource, in provider form (unknown entries kept)."""
        raise NotImplementedError

    def parse_txt(self, entry: str) -> list[str]:
        """The character-strings of one provider-form TXT entry."""
        raise NotImplementedError

    def read_value(self, rtype: str | None, entry: str, inputs: Mapping[str, Any], unknown: Callable[[Any], bool]) -> str | None:
        """The neutral value of one known entry (None if it depends on an unknown input)."""
        if rtype == "TXT":
            try:
                return txt.join_txt(self.parse_txt(entry))
            except StandardError:
                return entry  # unparseable quoting: judged as written
        return normal_value(rtype, entry)

    def read_ttl(self, inputs: Mapping[str, Any]) -> int | None:
        return _ttl(inputs.get("ttl"))

    def read(self, inputs: Mapping[str, Any], *, unknown: Callable[[Any], bool] = is_placeholder) -> Record:
        """The record that resource inputs (camelCase, as the engine gives them) declare."""
        rtype = inputs.get("type")
        rtype = rtype.upper() if isinstance(rtype, str) and not unknown(rtype) else None
        values: list[str | None] = []
        raw: list[Any] = []
        for entry in self.entries(inputs, unknown):
            raw.append(entry)
            if not isinstance(entry, str) or unknown(entry):
                values.append(None)
            else:
                values.append(self.read_value(rtype, entry, inputs, unknown))
        return Record(
            provider=self.name,
            name=_name(inputs.get("name"), unknown),
            type=rtype,
            values=tuple(values),
            raw=tuple(raw),
            ttl=self.read_ttl(inputs),
            zone_id=inputs.get("zoneId"),
        )

    # ------------------------------------------------------------ checks

    def check_txt(self, entry: str, name: str | None = None) -> list[str]:
        """Problems with one provider-form TXT entry (empty: the provider takes it)."""
        raise NotImplementedError
