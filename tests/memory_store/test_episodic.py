"""Episodic memory: rows, payloads, searches (checked against brute force), time ranges, bookkeeping."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import memory_store
from memory_store import Consolidation, NewEpisode, episodic_search


def _brute(vectors: np.ndarray, query: np.ndarray, k: int) -> list[int]:
    return np.argsort(((vectors - query) ** 2).sum(axis=1), kind="stable")[:k].tolist()


def _distances(found: list[memory_store.Episode]) -> list[float]:
    """The distances a search set on its results (all of them)."""
    out = []
    for e in found:
        assert e.distance is not None
        out.append(e.distance)
    return out


def _add(memory: memory_store.Memory, vectors: np.ndarray, **fields: object) -> list[int]:
    return memory.episodic.add_many([NewEpisode(vector=v, **fields) for v in vectors])  # type: ignore[arg-type]


def test_add_and_get_round_trip_every_field(memory: memory_store.Memory) -> None:
    x = np.arange(12, dtype=np.int16).reshape(3, 4)
    eid = memory.episodic.add(
        np.linspace(-1, 1, 8), input=x, output=b"\x00raw", route="system2", confidence=0.25, label=3,
        reward=-1.5, importance=2.0, time=1000.0,
    )  # fmt: skip
    [e] = memory.episodic.get([eid])
    assert (e.id, e.time, e.route, e.confidence, e.label, e.reward, e.importance) == (
        eid, 1000.0, "system2", 0.25, 3, -1.5, 2.0,
    )  # fmt: skip
    assert isinstance(e.input, np.ndarray)
    assert e.input.dtype == np.int16 and np.array_equal(e.input, x) and e.output == b"\x00raw"
    np.testing.assert_array_equal(e.vector, np.linspace(-1, 1, 8).astype(np.float16).astype(np.float32))
    assert e.consolidation is Consolidation.NEW and e.access_count == 0 and e.last_access is None
    assert memory.episodic.find_input(x.copy()) == [eid]
    assert memory.episodic.find_input(x.astype(np.int32)) == []  # the dtype is part of the digest


def test_search_returns_the_brute_force_nearest(
    memory: memory_store.Memory, rng: np.random.Generator
) -> None:
    vectors = rng.normal(size=(300, 8)).astype(np.float16).astype(np.float32)
    ids = _add(memory, vectors)
    for query in rng.normal(size=(20, 8)).astype(np.float32):
        found = memory.episodic.search(query, k=5, ef=200)
        assert [e.id for e in found] == [ids[i] for i in _brute(vectors, query, 5)]
        expected = np.sqrt(((vectors[_brute(vectors, query, 5)] - query) ** 2).sum(axis=1))
        np.testing.assert_allclose(_distances(found), expected, rtol=1e-4)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 40), st.integers(1, 12), st.integers(0, 2**31))
def test_search_never_returns_more_than_stored_or_asked(n: int, k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    with memory_store.open_memory(":memory:", dim=4) as memory:
        _add(memory, rng.normal(size=(n, 4)))
        found = memory.episodic.search(rng.normal(size=4), k=k)
        assert len(found) == min(n, k)
        assert _distances(found) == sorted(_distances(found))


@pytest.mark.parametrize("exact_limit", [10_000, 0], ids=["exact-from-rows", "index-overfetch"])
def test_filtered_search_matches_brute_force_over_matching_rows(
    memory: memory_store.Memory, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch, exact_limit: int
) -> None:
    monkeypatch.setattr(episodic_search, "EXACT_SEARCH_LIMIT", exact_limit)
    vectors = rng.normal(size=(400, 8)).astype(np.float16).astype(np.float32)
    times = np.arange(400, dtype=float)
    routes = np.where(np.arange(400) % 3 == 0, "system1", "system2")
    ids = memory.episodic.add_many(
        [NewEpisode(vector=v, time=t, route=r) for v, t, r in zip(vectors, times, routes, strict=True)]
    )
    keep = (times >= 100) & (times < 300) & (routes == "system1")
    query = rng.normal(size=8).astype(np.float32)
    found = memory.episodic.search(query, k=7, since=100, until=300, route="system1", ef=400)
    subset = np.flatnonzero(keep)
    expected = [ids[subset[i]] for i in _brute(vectors[subset], query, 7)]
    assert [e.id for e in found] == expected


def test_cosine_space(rng: np.random.Generator) -> None:
    with memory_store.open_memory(":memory:", dim=6, space="cosine") as memory:
        vectors = rng.normal(size=(50, 6))
        ids = _add(memory, vectors * rng.uniform(0.5, 3, size=(50, 1)))  # scale must not matter
        [e] = memory.episodic.search(vectors[17] * 10, k=1)
        assert e.id == ids[17] and e.distance == pytest.approx(0.0, abs=1e-3)


def test_between_uses_half_open_time_ranges(memory: memory_store.Memory) -> None:
    ids = memory.episodic.add_many([NewEpisode(vector=np.ones(8), time=float(t)) for t in range(10)])
    assert [e.id for e in memory.episodic.between(3, 6)] == ids[3:6]
    assert [e.id for e in memory.episodic.between(7)] == ids[7:]
    assert [e.id for e in memory.episodic.between(until=2, newest_first=True)] == ids[1::-1]
    assert [e.id for e in memory.episodic.between(limit=2)] == ids[:2]


def test_touch_update_and_importance_order(memory: memory_store.Memory) -> None:
    a, b, c = _add(memory, np.eye(8)[:3])
    memory.episodic.touch([a, a, b], time=50.0)
    memory.episodic.update([b], label=4, reward=0.5, importance=9.0)
    memory.episodic.update([c], importance=5.0, consolidation=Consolidation.REPLAYED)
    ea, eb, ec = memory.episodic.get([a, b, c], with_payload=False)
    assert (ea.access_count, ea.last_access, eb.access_count) == (2, 50.0, 1)
    assert (eb.label, eb.reward, eb.importance) == (4, 0.5, 9.0)
    assert [e.id for e in memory.episodic.by_importance(Consolidation.NEW, limit=5)] == [b, a]
    assert [e.id for e in memory.episodic.between(consolidation=Consolidation.REPLAYED)] == [c]
    memory.episodic.update([b], label=None)
    assert memory.episodic.get([b])[0].label is None


def test_forget_removes_row_and_index_point(memory: memory_store.Memory, rng: np.random.Generator) -> None:
    vectors = rng.normal(size=(30, 8))
    ids = _add(memory, vectors)
    memory.episodic.forget(ids[:10])
    assert memory.episodic.count() == 20
    assert not any(memory.episodic.in_index(i) for i in ids[:10])
    found = memory.episodic.search(vectors[3], k=30)
    assert {e.id for e in found} == set(ids[10:])


def test_ids_are_never_reused(db_path) -> None:  # type: ignore[no-untyped-def]
    with memory_store.open_memory(db_path, dim=2) as memory:
        ids = _add(memory, np.ones((3, 2)))
        memory.episodic.forget([ids[-1]])
        [new] = _add(memory, np.ones((1, 2)))
        assert new == ids[-1] + 1  # the id floor: an HNSW label never names two episodes
        memory.episodic.forget(ids[:2] + [new])  # the newest again, with older ones
        [newer] = _add(memory, np.ones((1, 2)))
        assert newer == new + 1 and memory.episodic.count() == 1


def test_dimension_is_fixed_by_the_first_episode() -> None:
    with memory_store.open_memory(":memory:") as memory:
        assert memory.episodic.dim is None and memory.episodic.search(np.ones(3)) == []
        memory.episodic.add(np.ones(3))
        assert memory.episodic.dim == 3
        with pytest.raises(memory_store.InvalidVectorError, match="3-d"):
            memory.episodic.add(np.ones(4))


def test_index_grows_past_its_capacity(memory: memory_store.Memory, rng: np.random.Generator) -> None:
    vectors = rng.normal(size=(2500, 8))
    ids = _add(memory, vectors)
    [e] = memory.episodic.search(vectors[2400], k=1)
    assert e.id == ids[2400]


def test_recent_vectors_are_the_newest_oldest_first(db_path: Path) -> None:
    vectors = np.arange(40, dtype=np.float32).reshape(10, 4) / 8  # float16-exact values
    with memory_store.open_memory(db_path, dim=4) as memory:
        assert memory.episodic.recent_vectors(5).shape == (0, 4)
        memory.episodic.add_many(
            [NewEpisode(vector=v, input=np.zeros(10_000, np.float32), time=100.0 + i) for i, v in enumerate(vectors)]
        )
        np.testing.assert_array_equal(memory.episodic.recent_vectors(3), vectors[7:])
        np.testing.assert_array_equal(memory.episodic.recent_vectors(50), vectors)
        with pytest.raises(memory_store.InvalidQueryError):
            memory.episodic.recent_vectors(0)


def test_encode_fields_is_encode_of_the_record() -> None:
    from memory_store import InvalidMemoryInputError, InvalidVectorError, NewEpisode, codec

    with memory_store.open_memory(":memory:", dim=3) as memory:
        x = np.arange(6, dtype=np.float32).reshape(1, 6)
        fields = dict(input=x, output=np.ones(2, np.float32), route="system1", confidence=0.5)
        for digest in (None, codec.digest(x)):
            direct = memory.episodic.encode_fields(np.ones(3, np.float32), input_digest=digest, **fields)
            record = memory.episodic.encode(NewEpisode(np.ones(3, np.float32), input_digest=digest, **fields))
            assert direct.dim == record.dim and direct.values[1:] == record.values[1:]  # [0] is the time
        for bad, error in (([1.0, np.nan, 0.0], InvalidVectorError), ([1.0, 1.0], InvalidVectorError)):
            with pytest.raises(error):
                memory.episodic.encode_fields(np.asarray(bad, np.float32), **fields)
        with pytest.raises(InvalidMemoryInputError, match="input_digest"):
            memory.episodic.encode_fields(np.ones(3, np.float32), input_digest=b"short", **fields)
        [eid] = memory.episodic.commit([memory.episodic.encode_fields(np.ones(3, np.float32), **fields)])
        np.testing.assert_array_equal(memory.episodic.get([eid], with_payload=True)[0].input, x)
