"""A long-running process leaves what it built at start-up out of the collector's view and
collects less often; cycles formed later are still collected."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from hub import gc_tuning


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it


def test_tuning_freezes_the_start_up_heap_and_keeps_collecting_cycles(restored_gc: None) -> None:
    gc_tuning.tune()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (
        gc_tuning.FIRST_GENERATION,
        gc_tuning.OLDER_GENERATIONS,
        gc_tuning.OLDER_GENERATIONS,
    )
    node = _Node()
    gone = weakref.ref(node)
    del node
    assert gone() is not None  # waiting for a collection
    kept = [{} for _ in range(gc_tuning.FIRST_GENERATION + 100)]  # past the threshold: one runs
    assert gone() is None
    assert len(kept) > gc_tuning.FIRST_GENERATION
