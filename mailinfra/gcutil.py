"""The garbage collector around runs that hold millions of long-lived objects (a plan of a
thousand domains read from a file, a fleet's merged plans).

With the default thresholds the collector walks those objects again and again: a
third of `mailinfra verify` at 1,000 domains, half of a fleet's cross-shard rules. Inside
``long_lived()`` nothing is collected until ``keep()``; ``keep()`` freezes what exists
(``gc.freeze``: out of every later collection) and collects young objects less often.
On exit the caller's settings - enabled or not, thresholds, its own frozen objects -
are as they were.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator

__all__ = ["long_lived"]

THRESHOLDS = (50_000, 20, 100)  # the engine's while a program runs (mailinfra/engine.py)


@contextlib.contextmanager
def long_lived(*, pause: bool = True) -> Iterator[Callable[[], None]]:
    """``pause=False``: collect as before until ``keep()`` (objects made then may form cycles)."""
    saved = gc.get_threshold()
    enabled = gc.isenabled()
    frozen_before = gc.get_freeze_count()  # a caller's frozen objects (before a fork) stay frozen
    froze = False

    def keep() -> None:
        nonlocal froze
        if frozen_before == 0:
            gc.freeze()
            froze = True
        gc.set_threshold(*THRESHOLDS)
        gc.enable()

    if pause:
        gc.disable()
    try:
        yield keep
    finally:
        gc.set_threshold(*saved)
        if froze:
            gc.unfreeze()
        if enabled:
            gc.enable()
        else:
            gc.disable()
