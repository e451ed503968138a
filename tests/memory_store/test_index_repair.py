"""The index file beside the database: saved on close, loaded intact, repaired from rows when it is not."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import memory_store
from memory_store import NewEpisode


def _fill(path: Path, n: int, seed: int = 0) -> tuple[list[int], np.ndarray]:
    vectors = np.random.default_rng(seed).normal(size=(n, 8)).astype(np.float32)
    with memory_store.open_memory(path, dim=8) as memory:
        ids = memory.episodic.add_many([NewEpisode(vector=v) for v in vectors])
    return ids, vectors


def _all_found(path: Path, ids: list[int], vectors: np.ndarray) -> str:
    with memory_store.open_memory(path) as memory:
        assert all(memory.episodic.in_index(i) for i in ids)
        for i in (0, len(ids) // 2, len(ids) - 1):
            assert memory.episodic.search(vectors[i], k=1)[0].id == ids[i]
        return memory.episodic.index_repair


def test_saved_index_loads_without_repair(db_path: Path) -> None:
    ids, vectors = _fill(db_path, 200)
    assert Path(f"{db_path}.hnsw").exists() and Path(f"{db_path}.hnsw.json").exists()
    assert _all_found(db_path, ids, vectors) == ""


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: os.remove(f"{p}.hnsw"),
        lambda p: os.remove(f"{p}.hnsw.json"),
        lambda p: Path(f"{p}.hnsw").write_bytes(Path(f"{p}.hnsw").read_bytes()[:1000]),  # truncated
        lambda p: Path(f"{p}.hnsw").write_bytes(os.urandom(5000)),  # garbage
        lambda p: Path(f"{p}.hnsw.json").write_text("{not json"),
    ],
    ids=["index-missing", "sidecar-missing", "truncated", "garbage", "sidecar-garbage"],
)
def test_damaged_index_is_rebuilt_from_rows(db_path: Path, damage) -> None:  # type: ignore[no-untyped-def]
    ids, vectors = _fill(db_path, 200)
    damage(db_path)
    assert _all_found(db_path, ids, vectors).startswith("rebuilt from 200 rows")


def test_stale_index_catches_up_with_rows_added_while_it_was_not_saved(db_path: Path) -> None:
    ids, vectors = _fill(db_path, 100)
    saved = {s: Path(f"{db_path}{s}").read_bytes() for s in (".hnsw", ".hnsw.json")}
    more_ids, more_vectors = _fill(db_path, 50, seed=1)
    for suffix, data in saved.items():  # as if the second session had been killed before saving
        Path(f"{db_path}{suffix}").write_bytes(data)
    why = _all_found(db_path, ids + more_ids, np.concatenate([vectors, more_vectors]))
    assert why == "caught up with 50 rows"


def test_index_reconciles_rows_forgotten_while_it_was_not_saved(db_path: Path) -> None:
    ids, vectors = _fill(db_path, 100)
    saved = {s: Path(f"{db_path}{s}").read_bytes() for s in (".hnsw", ".hnsw.json")}
    with memory_store.open_memory(db_path) as memory:
        memory.episodic.forget(ids[:10])
    for suffix, data in saved.items():
        Path(f"{db_path}{suffix}").write_bytes(data)
    with memory_store.open_memory(db_path) as memory:
        assert memory.episodic.index_repair.startswith("reconciled")
        assert not any(memory.episodic.in_index(i) for i in ids[:10])
        assert {e.id for e in memory.episodic.search(vectors[0], k=100)} == set(ids[10:])


def test_two_open_stores_see_each_others_forgets(db_path: Path) -> None:
    ids, vectors = _fill(db_path, 50)
    with memory_store.open_memory(db_path) as a, memory_store.open_memory(db_path) as b:
        a.episodic.forget([ids[7]])
        assert ids[7] not in {e.id for e in b.episodic.search(vectors[7], k=5)}
        assert not b.episodic.in_index(ids[7])


def test_temporary_files_of_dead_processes_are_removed(db_path: Path) -> None:
    _fill(db_path, 10)
    dead = Path(f"{db_path}.hnsw.999999999.tmp")  # no such pid
    mine = Path(f"{db_path}.hnsw.{os.getpid()}.tmp")
    dead.write_bytes(b"x")
    mine.write_bytes(b"x")
    memory_store.open_memory(db_path).close()
    assert not dead.exists() and mine.exists()


def test_a_rebuild_in_chunks_indexes_every_row_with_its_own_vector(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the catch-up reads a chunk as one row (ids as JSON, the vectors' bytes joined): chunks of 7 over rows with
    # gaps (forgotten ids) and vectors holding zero bytes must give each live id exactly its row's vector
    import memory_store.episodic_index as episodic_index

    vectors = np.random.default_rng(5).normal(size=(60, 8)).astype(np.float32)
    vectors[3] = 0.0  # a vector of zero bytes only
    with memory_store.open_memory(db_path, dim=8) as memory:
        ids = memory.episodic.add_many([NewEpisode(vector=v) for v in vectors])
        memory.episodic.forget(ids[10:13] + ids[40:41])
    os.remove(f"{db_path}.hnsw")
    monkeypatch.setattr(episodic_index, "_REBUILD_CHUNK", 7)
    live = [i for i in ids if i not in ids[10:13] + ids[40:41]]
    with memory_store.open_memory(db_path) as memory:
        assert memory.episodic.index_repair.startswith(f"rebuilt from {len(live)} rows")
        index = memory.episodic._index
        assert sorted(index.labels().tolist()) == live
        stored = {e.id: e.vector for e in memory.episodic.get(live)}
        for i in live:
            np.testing.assert_array_equal(index._index.get_items([i])[0], stored[i])
