"""Inputs committed ahead of their episodes (``store_input``): read back everywhere, shared, forgotten, swept."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import text

import memory_store
from memory_store import NewEpisode, StoredInput, bulk, codec

DIM = 8


@pytest.fixture(params=["file", "memory"])
def memory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[memory_store.Memory]:
    """Both kinds of database: bulk reads take a file path for one, a query function for the other."""
    where = tmp_path / "memory.db" if request.param == "file" else ":memory:"
    with memory_store.open_memory(where, dim=DIM) as m:
        yield m


def _big_input(rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal((96, 288)).astype(np.float32)  # 110,592 bytes: overflow pages, incompressible


def _assert_same(got: Any, want: np.ndarray) -> None:
    assert isinstance(got, np.ndarray)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def _scalar(memory: memory_store.Memory, sql: str) -> Any:
    return memory.db.read(lambda c: c.execute(text(sql)).scalar())


def _stored_rows(memory: memory_store.Memory) -> int:
    return int(_scalar(memory, "SELECT count(*) FROM episode_inputs"))


def test_a_stored_input_reads_back_through_every_reader(
    memory: memory_store.Memory, rng: np.random.Generator
) -> None:
    x = _big_input(rng)
    stored = memory.episodic.store_input(x)
    assert stored.digest == codec.digest(x) and codec.decode_payload(stored.blob).tobytes() == x.tobytes()
    vector = rng.standard_normal(DIM)
    [eid] = memory.episodic.commit([NewEpisode(vector=vector, input=stored, output=b"out", route="r")])

    row = memory.db.read(lambda c: c.execute(text("SELECT input, input_digest FROM episodes")).one())
    assert row.input is None and row.input_digest == codec.digest(x)  # the row refers, it does not hold
    [got] = memory.episodic.get([eid])
    _assert_same(got.input, x)
    assert got.output == b"out" and got.input_digest == codec.digest(x)
    _assert_same(memory.episodic.between(with_payload=True)[0].input, x)
    _assert_same(memory.episodic.search(vector, k=1, with_payload=True)[0].input, x)  # the index's path
    _assert_same(memory.episodic.search(vector, k=1, route="r", with_payload=True)[0].input, x)  # exact path
    assert memory.episodic.get([eid], with_payload=False)[0].input is None  # not asked for
    _assert_same(bulk.new_episodes(memory.episodic.source, 10, DIM).inputs[0], x)
    _assert_same(bulk.inputs(memory.episodic.source, [eid])[eid], x)
    assert memory.episodic.find_input(x) == [eid]


def test_the_same_input_twice_is_one_stored_row_and_two_episodes(
    memory: memory_store.Memory, rng: np.random.Generator
) -> None:
    x = _big_input(rng)
    first = memory.episodic.store_input(x)
    second = memory.episodic.store_input(x.copy(), digest=codec.digest(x))  # a caller that hashed it already
    assert first == second
    ids = memory.episodic.commit([NewEpisode(vector=np.ones(DIM), input=s) for s in (first, second)])
    assert _stored_rows(memory) == 1 and len(memory.episodic) == 2
    for episode in memory.episodic.get(ids):
        _assert_same(episode.input, x)
    assert memory.episodic.find_input(x) == ids


def test_forgetting_deletes_an_input_with_its_last_episode(
    memory: memory_store.Memory, rng: np.random.Generator
) -> None:
    x, y = _big_input(rng), _big_input(rng)
    sx, sy = memory.episodic.store_input(x), memory.episodic.store_input(y)
    a, b, c, plain = memory.episodic.commit(
        [
            NewEpisode(vector=np.ones(DIM), input=sx),
            NewEpisode(vector=np.ones(DIM), input=sx),
            NewEpisode(vector=np.ones(DIM), input=sy),
            NewEpisode(vector=np.ones(DIM), input=x),  # the same input held in its own row
        ]
    )
    memory.episodic.forget([a, c])  # c was y's only episode; x still has b (and plain)
    assert _stored_rows(memory) == 1
    _assert_same(memory.episodic.get([b])[0].input, x)
    memory.episodic.forget([b])  # plain still refers to x's digest: the stored row may stay until it goes
    _assert_same(memory.episodic.get([plain])[0].input, x)
    memory.episodic.forget([plain])
    assert _stored_rows(memory) == 0 and len(memory.episodic) == 0


def test_a_failed_forget_deletes_no_input(memory: memory_store.Memory, rng: np.random.Generator) -> None:
    x = _big_input(rng)
    [eid] = memory.episodic.commit([NewEpisode(vector=np.ones(DIM), input=memory.episodic.store_input(x))])
    with pytest.raises(memory_store.UnknownIdError):
        memory.episodic.forget([eid, eid + 100])
    assert _stored_rows(memory) == 1
    _assert_same(memory.episodic.get([eid])[0].input, x)


def test_an_input_without_an_episode_is_swept_on_reopen(db_path: Path, rng: np.random.Generator) -> None:
    kept, orphan = _big_input(rng), _big_input(rng)
    with memory_store.open_memory(db_path, dim=DIM) as memory:
        [eid] = memory.episodic.commit([NewEpisode(vector=np.ones(DIM), input=memory.episodic.store_input(kept))])
        memory.episodic.store_input(orphan)  # the process stops before the episode's commit
        assert _stored_rows(memory) == 2
    with memory_store.open_memory(db_path) as memory:
        digests = memory.db.read(lambda c: c.execute(text("SELECT digest FROM episode_inputs")).scalars().all())
        assert digests == [codec.digest(kept)]
        _assert_same(memory.episodic.get([eid])[0].input, kept)


def test_a_commit_restores_an_input_deleted_since_store_input(
    memory: memory_store.Memory, rng: np.random.Generator
) -> None:
    x = _big_input(rng)
    stored = memory.episodic.store_input(x)
    memory.db.write(lambda c: c.execute(text("DELETE FROM episode_inputs")))  # a sweep or a forget, in between
    assert _stored_rows(memory) == 0
    [eid] = memory.episodic.commit([NewEpisode(vector=np.ones(DIM), input=stored)])
    assert _stored_rows(memory) == 1
    _assert_same(memory.episodic.get([eid])[0].input, x)

    memory.db.write(lambda c: c.execute(text("DELETE FROM episode_inputs")))
    [other] = memory.episodic.add_many([NewEpisode(vector=np.ones(DIM), input=stored)])  # the indexed path too
    _assert_same(memory.episodic.get([other])[0].input, x)


def test_forgetting_the_previous_episode_of_a_pending_input_does_not_lose_it(
    memory: memory_store.Memory, rng: np.random.Generator
) -> None:
    x = _big_input(rng)
    [old] = memory.episodic.commit([NewEpisode(vector=np.ones(DIM), input=memory.episodic.store_input(x))])
    pending = memory.episodic.store_input(x)  # already there: nothing new is written
    memory.episodic.forget([old])  # x's only episode: its stored row goes, though ``pending`` still needs it
    assert _stored_rows(memory) == 0
    [eid] = memory.episodic.commit([NewEpisode(vector=np.ones(DIM), input=pending)])
    _assert_same(memory.episodic.get([eid])[0].input, x)


@pytest.mark.parametrize(
    ("value", "digest", "match"),
    [
        (np.array([object()]), None, "numeric array or bytes"),
        (None, None, "got None"),
        (np.ones(3), b"short", "16 bytes"),
    ],
)
def test_a_bad_input_raises_and_writes_nothing(
    memory: memory_store.Memory, value: Any, digest: bytes | None, match: str
) -> None:
    with pytest.raises(memory_store.InvalidMemoryInputError, match=match):
        memory.episodic.store_input(value, digest=digest)
    assert _stored_rows(memory) == 0


def test_a_stored_input_must_be_well_formed() -> None:
    with pytest.raises(memory_store.InvalidMemoryInputError, match="16 bytes"):
        StoredInput(b"x", b"blob")
    with pytest.raises(memory_store.InvalidMemoryInputError, match="bytes"):
        StoredInput(bytes(16), "blob")  # type: ignore[arg-type]


def test_an_input_digest_must_match_the_stored_input(memory: memory_store.Memory) -> None:
    stored = memory.episodic.store_input(b"percept")
    with pytest.raises(memory_store.InvalidMemoryInputError, match="differs from the stored input"):
        memory.episodic.commit([NewEpisode(vector=np.ones(DIM), input=stored, input_digest=codec.digest(b"other"))])
    assert len(memory.episodic) == 0
    [eid] = memory.episodic.commit([NewEpisode(vector=np.ones(DIM), input=stored, input_digest=stored.digest)])
    assert memory.episodic.get([eid])[0].input == b"percept"


def test_ordinary_inputs_and_none_are_unaffected(memory: memory_store.Memory, rng: np.random.Generator) -> None:
    x, y = _big_input(rng), rng.integers(0, 9, (3, 4)).astype(np.int16)
    ids = memory.episodic.commit(
        [
            NewEpisode(vector=np.ones(DIM), input=memory.episodic.store_input(x)),
            NewEpisode(vector=np.ones(DIM), input=y),
            NewEpisode(vector=np.ones(DIM), input=None),
            NewEpisode(vector=np.ones(DIM), input=b"raw"),
        ]
    )
    held = memory.db.read(lambda c: c.execute(text("SELECT input IS NOT NULL FROM episodes ORDER BY id")).scalars())
    assert list(held) == [0, 1, 0, 1] and _stored_rows(memory) == 1  # only the stored input left its row
    stored_x, plain_y, none, raw = memory.episodic.get(ids)
    _assert_same(stored_x.input, x)
    _assert_same(plain_y.input, y)
    assert none.input is None and raw.input == b"raw"
    assert [e.input is None for e in memory.episodic.between(with_payload=True)] == [False, False, True, False]
    inputs = bulk.new_episodes(memory.episodic.source, 10, DIM).inputs
    assert inputs[2] is None and inputs[3] == b"raw"
    _assert_same(inputs[1], y)


def test_store_input_runs_in_another_thread_while_this_one_commits(db_path: Path, rng: np.random.Generator) -> None:
    x = _big_input(rng)
    with memory_store.open_memory(db_path, dim=DIM) as memory, ThreadPoolExecutor(1) as pool:
        pending = pool.submit(memory.episodic.store_input, x)  # while the model runs
        first = memory.episodic.commit([NewEpisode(vector=np.ones(DIM), input=b"earlier")])
        [eid] = memory.episodic.commit([NewEpisode(vector=np.ones(DIM), input=pending.result())])
        assert eid == first[0] + 1
        _assert_same(memory.episodic.get([eid])[0].input, x)


def test_store_input_wait_false_raises_while_another_process_writes(db_path: Path) -> None:
    with memory_store.open_memory(db_path, dim=DIM) as memory:
        other = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(memory_store.DatabaseBusyError):
            memory.episodic.store_input(b"percept", wait=False)
        threading.Timer(0.1, lambda: other.execute("COMMIT")).start()
        stored = memory.episodic.store_input(b"percept")  # waits for the lock
        other.close()
        assert _stored_rows(memory) == 1 and stored.digest == codec.digest(b"percept")


async def test_store_input_awaitable(rng: np.random.Generator) -> None:
    x = _big_input(rng)
    with memory_store.open_memory(":memory:", dim=DIM) as memory:
        stored = await memory.aio.episodic.store_input(x)
        [eid] = await memory.aio.episodic.commit([NewEpisode(vector=np.ones(DIM), input=stored)])
        [got] = await memory.aio.episodic.get([eid])
        _assert_same(got.input, x)
