"""Two processes (and many threads, and trio tasks) writing to one database at once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trio
from writer_child import spawn_writer

import memory_store
from memory_store import NewEpisode


def test_two_processes_write_at_once_without_database_is_locked(db_path: Path) -> None:
    memory_store.open_memory(db_path, dim=8).close()  # both children find a migrated database
    children = [spawn_writer(db_path, str(seed), "150", "--semantic") for seed in (1, 2)]
    outputs = [child.communicate(timeout=120) for child in children]
    for child, (_, err) in zip(children, outputs, strict=True):
        assert "locked" not in err and "busy" not in err.lower(), err
        assert child.returncode == 0, err
    ids = [int(x) for out, _ in outputs for line in out.splitlines()[1:] for x in line.split()[2:]]
    assert len(ids) == len(set(ids)) == 2 * sum(1 + b % 7 for b in range(150))
    with memory_store.open_memory(db_path) as memory:
        assert memory.episodic.count() == len(ids)
        assert all(memory.episodic.in_index(i) for i in ids)
        assert memory.semantic.count() == 2 * 151


def test_two_processes_racing_to_create_the_database(tmp_path: Path) -> None:
    db = tmp_path / "fresh.db"
    children = [spawn_writer(db, str(seed), "5") for seed in (1, 2)]
    for child in children:
        _, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
    with memory_store.open_memory(db) as memory:
        assert memory.episodic.count() == 2 * sum(1 + b % 7 for b in range(5))


def test_an_open_store_sees_rows_another_process_added(db_path: Path) -> None:
    with memory_store.open_memory(db_path, dim=8) as mine:
        child = spawn_writer(db_path, "7", "10")
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
        theirs = [int(x) for line in out.splitlines()[1:] for x in line.split()[2:]]
        [episode] = mine.episodic.get([theirs[-1]], with_payload=True)
        [nearest] = mine.episodic.search(episode.vector, k=1)  # the index caught up before searching
        assert nearest.id == theirs[-1]


async def test_trio_tasks_share_one_writer(db_path: Path) -> None:
    memory = memory_store.open_memory(db_path, dim=8)
    rng = np.random.default_rng(0)
    results: list[list[int]] = []

    async def writer(n: int) -> None:
        batch = [NewEpisode(vector=v, label=n) for v in rng.normal(size=(5, 8))]
        results.append(await memory.aio.episodic.add_many(batch))

    async def reader() -> None:
        for _ in range(5):
            await memory.aio.episodic.search(rng.normal(size=8), k=3)

    async with trio.open_nursery() as nursery:
        for n in range(20):
            nursery.start_soon(writer, n)
        nursery.start_soon(reader)
    ids = [i for r in results for i in r]
    assert len(ids) == len(set(ids)) == 100
    assert await memory.aio.episodic.count() == 100
    await memory.aio.close()


async def test_cancelled_caller_still_gets_its_started_write_committed(db_path: Path) -> None:
    memory = memory_store.open_memory(db_path, dim=8)
    batch = [NewEpisode(vector=np.ones(8)) for _ in range(2000)]
    with trio.move_on_after(0.001):
        await memory.aio.episodic.add_many(batch)
    # the thread was not abandoned: either nothing or the whole batch is there, never part of it
    assert memory.episodic.count() in (0, 2000)
    memory.close()
