"""Working memory: eviction by score, frequency, recency and attention; cosine search against numpy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import memory_store
from memory_store import WorkingMemory


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_lowest_score_is_evicted() -> None:
    clock = Clock()
    wm = WorkingMemory(3, dim=2, half_life_s=10.0, clock=clock)
    wm.put("old", [1, 0], attention=0.5)
    clock.now = 5
    wm.put("busy", [0, 1], attention=0.5)
    wm.get("busy")
    wm.get("busy")
    wm.put("important", [1, 1], attention=1.0)
    clock.now = 20
    assert wm.put("new", [1, -1], attention=0.5) == "old"  # oldest, least used, no more attention
    assert set(k.key for k in wm.items()) == {"busy", "important", "new"}
    wm.attend("busy", 0.0)
    clock.now = 60
    assert wm.put("newer", [0, 0.5]) == "busy"


def test_refreshing_a_key_does_not_evict() -> None:
    wm = WorkingMemory(2, dim=1)
    wm.put("a", [1.0], payload=1)
    wm.put("b", [2.0])
    assert wm.put("a", [3.0], payload=2) is None
    item = wm.get("a")
    assert item.payload == 2 and item.count == 3 and len(wm) == 2


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 30), st.integers(1, 10), st.integers(0, 2**31))
def test_search_matches_numpy_cosine(n: int, k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n, 5))
    wm = WorkingMemory(64)
    for i, v in enumerate(vectors):
        wm.put(i, v)
    q = rng.normal(size=5)
    sims = vectors @ q / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(q))
    found = wm.search(q, k)
    assert [f.key for f in found] == np.argsort(-sims, kind="stable")[:k].tolist()
    similarities = np.array([f.similarity for f in found], dtype=np.float64)  # a None would become NaN
    np.testing.assert_allclose(similarities, np.sort(sims)[::-1][:k], rtol=1e-5, atol=1e-6)


def test_bad_input() -> None:
    wm = WorkingMemory(2, dim=3)
    with pytest.raises(memory_store.InvalidVectorError):
        wm.put("a", [1, 2])
    with pytest.raises(memory_store.InvalidMemoryInputError):
        wm.put("a", [1, 2, 3], attention=2.0)
    with pytest.raises(memory_store.UnknownIdError):
        wm.get("missing")
    with pytest.raises(memory_store.InvalidQueryError):
        wm.search([1, 2, 3], k=0)
    assert len(wm) == 0


def test_open_memory_gives_working_memory_the_episode_dimension() -> None:
    with memory_store.open_memory(":memory:", dim=4, working_capacity=8) as memory:
        assert memory.working.capacity == 8
        with pytest.raises(memory_store.InvalidVectorError):
            memory.working.put("x", np.ones(3))
