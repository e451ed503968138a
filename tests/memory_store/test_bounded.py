"""A store that forgets as fast as it learns stays bounded: index slots are reused, and id lists of every
length share a few prepared statements (sqlite3 caches 128, and a 2,000-id ``IN`` costs ~250 KB of SQLite
memory each)."""

from __future__ import annotations

import ctypes
import ctypes.util

import numpy as np
import pytest

import memory_store
from memory_store import NewEpisode
from memory_store.records import padded


def test_padded_rounds_lengths_up_to_powers_of_two_with_the_last_id() -> None:
    assert padded([]) == [] and padded([7]) == [7]
    assert padded([1, 2, 3]) == [1, 2, 3, 3]
    assert padded(list(range(5))) == [0, 1, 2, 3, 4, 4, 4, 4]
    assert len({len(padded(list(range(n)))) for n in range(1, 2049)}) == 12


def test_index_reuses_forgotten_slots_instead_of_growing() -> None:
    memory = memory_store.open_memory(":memory:", dim=8)
    rng = np.random.default_rng(0)
    index = memory.episodic._index
    assert index is not None and index._index.get_max_elements() == 1024

    def add(n: int) -> list[int]:
        return memory.episodic.add_many([NewEpisode(vector=v, route="system1") for v in rng.normal(size=(n, 8))])

    live = add(700)
    for _ in range(10):  # 300 in, the oldest 300 out: never more than 1,000 live points
        live += add(300)
        memory.episodic.forget(live[:300])
        live = live[300:]
    assert index.live == 700 and index._index.element_count == 1000
    assert index._index.get_max_elements() == 1024  # sized by slots used, it doubled on the second round
    assert [e.id for e in memory.episodic.search(memory.episodic.get([live[-1]])[0].vector, k=1)] == [live[-1]]
    memory.close()


@pytest.mark.skipif(ctypes.util.find_library("sqlite3") is None, reason="reads SQLite's own memory counter")
def test_id_lists_of_many_lengths_do_not_pin_sqlite_memory() -> None:
    lib = ctypes.CDLL(ctypes.util.find_library("sqlite3"))
    lib.sqlite3_memory_used.restype = ctypes.c_int64
    memory = memory_store.open_memory(":memory:", dim=4)
    ids = memory.episodic.add_many([NewEpisode(vector=[0, 0, 0, i], route="system1") for i in range(2048)])
    memory.episodic.get(ids[:1024])
    before = lib.sqlite3_memory_used()
    for n in range(1025, 2048, 7):  # 146 distinct lengths
        memory.episodic.get(ids[:n], with_payload=False)
    assert lib.sqlite3_memory_used() - before < 4 * 2**20
    memory.close()
