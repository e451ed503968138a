"""``EpisodicMemory.commit``: rows committed in one DB-API transaction, the index catching up later."""

from __future__ import annotations

import random
import signal
import sqlite3
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from writer_child import spawn_writer, vectors_for

import memory_store
from memory_store import EncodedEpisode, NewEpisode


def _episodes(rng: np.random.Generator, n: int, dim: int = 8) -> list[NewEpisode]:
    return [
        NewEpisode(vector=v, input=rng.random((1, 4), dtype=np.float32), route="system1", confidence=0.5)
        for v in rng.normal(size=(n, dim)).astype(np.float32)
    ]


def test_returned_ids_are_committed_and_the_index_catches_up(db_path: Path, rng: np.random.Generator) -> None:
    new = _episodes(rng, 5)
    with memory_store.open_memory(db_path, dim=8) as memory:
        [first] = memory.episodic.commit(new[:1])
        ids = memory.episodic.commit(new[1:])
        assert ids == list(range(first + 1, first + 5))
        # another connection (as another process would) sees every row at once
        other = sqlite3.connect(db_path)
        assert [r[0] for r in other.execute("SELECT id FROM episodes ORDER BY id")] == [first, *ids]
        other.close()
        stored = memory.episodic.get([first, *ids])
        assert [e.route for e in stored] == ["system1"] * 5
        np.testing.assert_array_equal(stored[2].input, new[2].input)
        # the index follows: a search syncs first, and the nearest episode to a stored vector is itself
        for eid, episode in zip([first, *ids], new, strict=True):
            assert memory.episodic.search(episode.vector, k=1)[0].id == eid
            assert memory.episodic.in_index(eid)


def test_rows_committed_without_index_survive_a_reopen(db_path: Path, rng: np.random.Generator) -> None:
    new = _episodes(rng, 20)
    with memory_store.open_memory(db_path, dim=8) as memory:
        memory.episodic.add_many(new[:10])
        memory.episodic.save_index()
        ids = memory.episodic.commit(new[10:])
    # close saved an index without the committed rows' points (nothing synced): reopening catches up
    with memory_store.open_memory(db_path) as memory:
        assert memory.episodic.index_repair == "caught up with 10 rows"
        assert memory.episodic.search(new[15].vector, k=1)[0].id == ids[5]


def test_commit_and_add_many_interleave(memory: memory_store.Memory, rng: np.random.Generator) -> None:
    new = _episodes(rng, 12)
    a = memory.episodic.commit(new[:4])
    b = memory.episodic.add_many(new[4:8])  # adds the committed rows' points before its own
    c = memory.episodic.commit(new[8:])
    assert a + b + c == list(range(a[0], a[0] + 12))
    assert all(memory.episodic.in_index(i) for i in a + b + c)
    assert len(memory.episodic) == 12


def test_encoded_episodes_commit_and_bad_ones_raise_at_encoding(memory: memory_store.Memory) -> None:
    good = memory.episodic.encode(NewEpisode(vector=np.ones(8, np.float32), label=1))
    assert isinstance(good, EncodedEpisode) and good.dim == 8
    for bad, error in (
        (np.ones(7, np.float32), memory_store.InvalidVectorError),
        (np.array([np.nan] * 8, np.float32), memory_store.InvalidVectorError),
        (np.full(8, 1e6, np.float32), memory_store.InvalidVectorError),
    ):
        with pytest.raises(error):
            memory.episodic.encode(NewEpisode(vector=bad))
    with pytest.raises(memory_store.InvalidMemoryInputError):
        memory.episodic.encode(NewEpisode(vector=np.ones(8), route=3))  # type: ignore[arg-type]
    with pytest.raises(memory_store.InvalidMemoryInputError):
        memory.episodic.encode("not an episode")  # type: ignore[arg-type]
    [eid] = memory.episodic.commit([good])
    assert memory.episodic.get([eid])[0].label == 1


@pytest.mark.parametrize(
    "bad",
    [
        NewEpisode(vector=np.ones(7)),
        NewEpisode(vector=[0.0] * 7 + [float("inf")]),
        NewEpisode(vector=np.ones(8), confidence=float("nan")),
        "not an episode",
    ],
)
def test_a_bad_episode_in_a_batch_writes_nothing(memory: memory_store.Memory, bad: object) -> None:
    memory.episodic.commit([NewEpisode(vector=np.zeros(8))])
    before = len(memory.episodic)
    good = [NewEpisode(vector=np.ones(8)) for _ in range(3)]
    with pytest.raises((memory_store.InvalidVectorError, memory_store.InvalidMemoryInputError)):
        memory.episodic.commit([*good, bad])  # type: ignore[list-item]
    assert len(memory.episodic) == before
    assert memory.episodic.commit([]) == []


def test_the_first_commit_fixes_the_dimension(db_path: Path) -> None:
    with memory_store.open_memory(db_path) as memory:
        assert memory.episodic.dim is None
        [eid] = memory.episodic.commit([NewEpisode(vector=np.ones(6))])
        assert memory.episodic.dim == 6
        assert memory.episodic.search(np.ones(6), k=1)[0].id == eid
        with pytest.raises(memory_store.InvalidVectorError, match="6-d"):
            memory.episodic.commit([NewEpisode(vector=np.ones(5))])


def test_wait_false_raises_at_once_while_another_process_writes(db_path: Path) -> None:
    with memory_store.open_memory(db_path, dim=8, busy_timeout_s=5.0) as memory:
        memory.episodic.commit([NewEpisode(vector=np.ones(8))])
        other = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")  # another process holds SQLite's write lock
        start = time.perf_counter()
        with pytest.raises(memory_store.DatabaseBusyError):
            memory.episodic.commit([NewEpisode(vector=np.ones(8))], wait=False)
        assert time.perf_counter() - start < 0.5
        threading.Timer(0.2, lambda: other.execute("COMMIT")).start()
        [eid] = memory.episodic.commit([NewEpisode(vector=np.ones(8))])  # waits for the lock
        other.close()
        assert len(memory.episodic) == 2 and memory.episodic.get([eid])


def _hold_write_lock(memory: memory_store.Memory) -> tuple[threading.Thread, threading.Event]:
    """Another thread inside a write transaction until the returned event is set."""
    held, release = threading.Event(), threading.Event()

    def hold(_conn: object) -> None:
        held.set()
        release.wait(5)

    writer = threading.Thread(target=memory.db.write, args=(hold,))
    writer.start()
    held.wait(5)
    return writer, release


def test_wait_false_raises_while_another_thread_writes(memory: memory_store.Memory) -> None:
    writer, release = _hold_write_lock(memory)
    try:
        with pytest.raises(memory_store.DatabaseBusyError):
            memory.episodic.commit([NewEpisode(vector=np.ones(8))], wait=False)
    finally:
        release.set()
        writer.join()
    assert len(memory.episodic.commit([NewEpisode(vector=np.ones(8))])) == 1


def test_wait_seconds_waits_that_long_for_another_thread_only(db_path: Path) -> None:
    with memory_store.open_memory(db_path, dim=8, busy_timeout_s=5.0) as memory:
        memory.episodic.commit([NewEpisode(vector=np.ones(8))])
        writer, release = _hold_write_lock(memory)
        start = time.perf_counter()
        with pytest.raises(memory_store.DatabaseBusyError, match="another thread"):
            memory.episodic.commit([NewEpisode(vector=np.ones(8))], wait=0.05)
        assert 0.04 < time.perf_counter() - start < 1.0  # waited its time, then gave up
        threading.Timer(0.02, release.set).start()
        [eid] = memory.episodic.commit([NewEpisode(vector=np.ones(8))], wait=2.0)  # the thread let go in time
        writer.join()
        assert memory.episodic.get([eid])

        other = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")  # another process: no waiting on the event loop's behalf
        start = time.perf_counter()
        with pytest.raises(memory_store.DatabaseBusyError, match="another process"):
            memory.episodic.commit([NewEpisode(vector=np.ones(8))], wait=2.0)
        assert time.perf_counter() - start < 0.5
        other.execute("COMMIT")
        other.close()
        assert len(memory.episodic) == 2


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_loses_no_committed_episode(db_path: Path) -> None:
    chance = random.Random(7)
    printed: dict[int, tuple[int, int, int]] = {}
    for trial in range(6):
        child = spawn_writer(db_path, str(trial), "--commit")
        assert child.stdout is not None
        assert child.stdout.readline().startswith("ready")
        time.sleep(chance.uniform(0.02, 0.2))
        child.send_signal(signal.SIGKILL)
        out, _ = child.communicate(timeout=30)
        for line in out.split("\n")[:-1]:  # the last piece may be cut by the kill
            seed, batch, *ids = (int(x) for x in line.split())
            printed.update({eid: (seed, batch, p) for p, eid in enumerate(ids)})
    with memory_store.open_memory(db_path) as memory:
        stored = memory.episodic.get(sorted(printed), with_payload=True)
        for episode in stored[-40:]:
            seed, batch, position = printed[episode.id]
            expected = vectors_for(seed, batch, 1 + batch % 7)[position]
            assert episode.vector is not None
            np.testing.assert_allclose(episode.vector, expected, rtol=1e-3, atol=1e-3)
            assert memory.episodic.search(expected, k=1)[0].distance == pytest.approx(0.0, abs=1e-2)


def test_checkpoints_keep_the_wal_bounded_under_a_stream_of_commits(db_path: Path, rng: np.random.Generator) -> None:
    # the agent's set-up: no automatic checkpoint, another thread checkpoints while one commits a row at a time;
    # a checkpoint overtaken by commits never completes, and SQLite restarts the WAL only after a complete one
    n, every = 5000, 250
    with memory_store.open_memory(db_path, dim=8, autocheckpoint=0) as memory:
        encoded = [memory.episodic.encode(e) for e in _episodes(rng, n)]
        wal = db_path.with_name(db_path.name + "-wal")
        sizes: list[int] = []
        committed, checkpointed = threading.Semaphore(0), threading.Semaphore(0)

        def checkpoints() -> None:
            for _ in range(n // every):
                for _ in range(every):
                    committed.acquire()
                memory.db.checkpoint()
                sizes.append(wal.stat().st_size)
                checkpointed.release()

        thread = threading.Thread(target=checkpoints)
        thread.start()
        for i, e in enumerate(encoded, 1):
            memory.episodic.commit([e])
            committed.release()
            if i % every == 0 and i > every:
                # the checkpoint that started `every` commits ago has ended: commits overtake each checkpoint,
                # by at most `every` (a slow checkpoint thread would otherwise let the WAL grow by any amount)
                checkpointed.acquire()
        thread.join()
        frames = 4096 + 24
        # the WAL header's checkpoint sequence number counts restarts (bytes 12-16, big-endian)
        restarts = int.from_bytes(wal.read_bytes()[12:16], "big")
        assert restarts >= n // every // 2
        # rewound, the file is overwritten in place: it holds at most two intervals' commits (a few pages each)
        assert max(sizes) <= 2 * every * 8 * frames
        assert memory.episodic.count() == n


def test_sync_indexes_the_rows_committed_before_it_and_leaves_later_ones_to_the_next(
    db_path: Path, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # an indexer that chased a busy writer ran one query per new row for as long as the writer kept up, holding
    # the GIL the writer's event loop needed; a catch-up stops at the newest row of its start
    import memory_store.hnsw_index as hnsw_index

    with memory_store.open_memory(db_path, dim=8) as memory:
        first = memory.episodic.commit(_episodes(rng, 10))
        later = _episodes(rng, 3)
        add = hnsw_index.EpisodeIndex.add
        meanwhile: list[int] = []

        def add_while_a_writer_commits(
            index: hnsw_index.EpisodeIndex, ids: np.ndarray, vectors: np.ndarray, **kw: object
        ) -> None:
            if later:  # one row committed by "another thread" during each catch-up step
                meanwhile.extend(memory.episodic.commit([later.pop()]))
            add(index, ids, vectors, **kw)  # type: ignore[arg-type]

        monkeypatch.setattr(hnsw_index.EpisodeIndex, "add", add_while_a_writer_commits)
        memory.episodic.sync()
        assert all(memory.episodic._index.contains(i) for i in first)
        assert meanwhile and not any(memory.episodic._index.contains(i) for i in meanwhile)
        monkeypatch.setattr(hnsw_index.EpisodeIndex, "add", add)
        memory.episodic.sync()
        assert all(memory.episodic._index.contains(i) for i in meanwhile)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="the file is synced through /proc/self/fd (Linux)")
def test_the_checkpoint_syncs_the_file_before_its_last_pass_without_a_descriptor_of_its_own(
    db_path: Path, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # only the pass no commit overtook syncs the database file, so it would write back every page the passes
    # before it copied, under the writer lock; the file is synced before the lock is taken instead, through a
    # descriptor SQLite holds: opening and closing one of our own drops SQLite's POSIX locks on the file
    import os

    with memory_store.open_memory(db_path, dim=8, autocheckpoint=0) as memory:
        memory.episodic.commit(_episodes(rng, 50))
        inode = os.stat(db_path).st_ino
        events: list[str] = []
        fsync, open_, close = os.fsync, os.open, os.close
        monkeypatch.setattr(os, "fsync", lambda fd: (events.append(f"fsync {os.fstat(fd).st_ino}"), fsync(fd))[1])
        monkeypatch.setattr(os, "open", lambda path, *a, **k: (events.append(f"open {path}"), open_(path, *a, **k))[1])
        monkeypatch.setattr(os, "close", lambda fd: (events.append(f"close {os.fstat(fd).st_ino}"), close(fd))[1])

        class RecordingLock:  # records the checkpoint's ``with`` (commits call acquire and release)
            def __init__(self, lock: threading.Lock) -> None:
                self.lock = lock

            def acquire(self, *args: object, **kwargs: object) -> bool:
                return self.lock.acquire(*args, **kwargs)  # type: ignore[arg-type]

            def release(self) -> None:
                self.lock.release()

            def __enter__(self) -> None:
                self.lock.acquire()
                events.append("locked")

            def __exit__(self, *exc: object) -> None:
                self.lock.release()

        monkeypatch.setattr(memory.db, "_write_lock", RecordingLock(memory.db._write_lock))
        for _ in range(2):  # the second time through the descriptor found the first
            events.clear()
            assert memory.db.checkpoint() > 0
            assert events.index(f"fsync {inode}") < events.index("locked")
            assert not [e for e in events if e.startswith("open") and str(db_path) in e]
            assert f"close {inode}" not in events
            memory.episodic.commit(_episodes(rng, 20))
