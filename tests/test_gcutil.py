"""gcutil.long_lived: no collection until keep(), then what exists is frozen; the caller's
collector settings are what they were afterwards, error or not."""

from __future__ import annotations

import gc

import pytest

from mailinfra.gcutil import THRESHOLDS, long_lived


@pytest.fixture(autouse=True)
def _restore():
    state = (gc.isenabled(), gc.get_threshold())
    yield
    gc.set_threshold(*state[1])
    gc.unfreeze()
    gc.enable() if state[0] else gc.disable()


def test_paused_then_kept_then_restored() -> None:
    gc.enable()
    gc.set_threshold(700, 10, 10)
    with long_lived() as keep:
        assert not gc.isenabled()
        kept = [[i] for i in range(1000)]
        keep()
        assert gc.isenabled() and gc.get_threshold() == THRESHOLDS and gc.get_freeze_count() >= len(kept)
    assert gc.isenabled() and gc.get_threshold() == (700, 10, 10) and gc.get_freeze_count() == 0


def test_without_pause_the_collector_runs_until_keep() -> None:
    gc.enable()
    with long_lived(pause=False) as keep:
        assert gc.isenabled() and gc.get_freeze_count() == 0
        keep()
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0


def test_a_disabled_collector_and_the_callers_frozen_objects_stay_so_even_on_error() -> None:
    gc.disable()
    gc.freeze()
    frozen = gc.get_freeze_count()
    with pytest.raises(RuntimeError), long_lived() as keep:
        keep()
        assert gc.get_freeze_count() >= frozen * 0.9  # not frozen again, not thawed
        raise RuntimeError("bad input on the way")
    assert not gc.isenabled() and gc.get_freeze_count() > frozen * 0.9
