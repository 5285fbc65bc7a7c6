"""DNS provider adapters: one module per provider, each in both directions.

record -> the inputs of the provider's Pulumi record resource (used by
``mailinfra.components.dns.AuthRecords``), and resource inputs -> a provider-neutral
:class:`Record` (used by the policies, ``mailinfra``'s plan reader and zone export).
A third provider is one module with an :class:`Adapter` subclass, listed in ``ADAPTERS``.

API:
    NAMES: tuple[str, ...]                       # ("route53", "cloudflare")
    RECORD_TYPES: tuple[str, ...]                # their record resource type tokens
    ZONE_TYPES: tuple[str, ...]                  # their zone resource type tokens
    adapter(provider_name) -> Adapter            # UnknownProviderError for any other name
    adapter_for_type(type_token) -> Adapter      # UnknownProviderError for any other type
    read(type_token, inputs, *, unknown=...) -> Record
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .base import (
    Adapter,
    ProviderError,
    Record,
    RecordSpec,
    UnknownProviderError,
    is_placeholder,
    normal_value,
    presentation,
)
from .cloudflare import CLOUDFLARE
from .route53 import ROUTE53

__all__ = [
    "ADAPTERS",
    "CLOUDFLARE",
    "NAMES",
    "RECORD_TYPES",
    "ROUTE53",
    "ZONE_TYPES",
    "Adapter",
    "ProviderError",
    "Record",
    "RecordSpec",
    "UnknownProviderError",
    "adapter",
    "adapter_for_type",
    "is_placeholder",
    "normal_value",
    "presentation",
    "read",
]

ADAPTERS: tuple[Adapter, ...] = (ROUTE53, CLOUDFLARE)
NAMES: tuple[str, ...] = tuple(a.name for a in ADAPTERS)
RECORD_TYPES: tuple[str, ...] = tuple(a.record_type for a in ADAPTERS)
ZONE_TYPES: tuple[str, ...] = tuple(a.zone_type for a in ADAPTERS)
_BY_NAME = {a.name: a for a in ADAPTERS}
_BY_TYPE = {a.record_type: a for a in ADAPTERS}


def adapter(provider_name: str) -> Adapter:
    """The adapter of a provider named in config (``route53``, ``cloudflare``)."""
    found = _BY_NAME.get(provider_name) if isinstance(provider_name, str) else None
    if found is None:
        raise UnknownProviderError(f"must be one of {', '.join(NAMES)} (got {provider_name!r})")
    return found


def adapter_for_type(type_token: str) -> Adapter:
    """The adapter whose record resource has Pulumi type ``type_token``."""
    found = _BY_TYPE.get(type_token) if isinstance(type_token, str) else None
    if found is None:
        raise UnknownProviderError(f"no DNS provider adapter for resource type {type_token!r}")
    return found


def read(type_token: str, inputs: Mapping[str, Any], *, unknown: Callable[[Any], bool] = is_placeholder) -> Record:
    """The record a DNS record resource of ``type_token`` declares."""
    return adapter_for_type(type_token).read(inputs, unknown=unknown)
