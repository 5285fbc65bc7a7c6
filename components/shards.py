"""Which shard of a sharded fleet a domain belongs to (``mailinfra:fleet``, components/fleet.py).

Pure: ``components/config.py`` selects a shard's domains with it, and must import
without pulumi (``mailinfra verify`` reads the config model).
"""

from __future__ import annotations

import hashlib

__all__ = ["MAX_SHARDS", "ROLES", "SELECTIONS", "shard_of"]

ROLES = ("core", "shard")
SELECTIONS = ("list", "hash")  # list: the shard's mailinfra:domains as written; hash: shard_of
MAX_SHARDS = 1024


def shard_of(name: str, shards: int) -> int:
    """The shard (0..shards-1) of a domain: sha256 of the lower-case name without a trailing dot, mod ``shards``.

    The same in every process, on every machine and in every Python version (unlike the
    salted ``hash()``), so a domain stays where it is as long as the shard count does not change.
    """
    if shards < 1:
        raise ValueError("shards must be at least 1")
    digest = hashlib.sha256(name.rstrip(".").lower().encode("utf-8")).digest()
    return int.from_bytes(digest, "big") % shards
