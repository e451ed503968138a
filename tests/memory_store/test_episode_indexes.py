"""The episodes' indexes (revision 0006): an insert keeps two, and every read by time or by importance still
reads an index in order, with the same answers as a sort of all rows."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import event

import memory_store
from memory_store import Consolidation, NewEpisode, bulk

STATES = list(Consolidation)


@pytest.fixture
def mixed(db_path: Path) -> Iterator[tuple[memory_store.Memory, list[tuple[float, int, int, float]]]]:
    """60 episodes, states and importances mixed, times out of id order with ties: (time, id, state, importance)."""
    rng = np.random.default_rng(5)
    times = rng.integers(0, 20, 60).astype(float)  # ties: order falls back to id
    with memory_store.open_memory(db_path, dim=2) as memory:
        ids = memory.episodic.add_many(
            [NewEpisode(vector=np.ones(2), time=t, label=int(i % 3) if i % 4 else None) for i, t in enumerate(times)]
        )
        states = rng.integers(0, len(STATES), 60)
        importance = rng.random(60).round(3)
        for eid, state, imp in zip(ids, states, importance, strict=True):
            memory.episodic.update([eid], consolidation=Consolidation(int(state)), importance=float(imp))
        yield memory, [(t, i, int(s), float(m)) for t, i, s, m in zip(times, ids, states, importance, strict=True)]


def test_reads_by_time_merge_every_state_in_time_then_id_order(
    mixed: tuple[memory_store.Memory, list[tuple[float, int, int, float]]],
) -> None:
    memory, rows = mixed
    by_time = [i for _, i, _, _ in sorted(rows)]
    assert [e.id for e in memory.episodic.between()] == by_time
    assert [e.id for e in memory.episodic.between(limit=7)] == by_time[:7]
    newest = [i for _, i, _, _ in sorted(rows, key=lambda r: (-r[0], -r[1]))]
    assert [e.id for e in memory.episodic.between(newest_first=True, limit=9)] == newest[:9]
    in_range = [i for t, i, _, _ in sorted(rows) if 5 <= t < 12]
    assert [e.id for e in memory.episodic.between(5, 12)] == in_range
    assert [e.id for e in memory.episodic.between(5, 12, limit=4, newest_first=True)] == in_range[::-1][:4]
    replayed = [i for t, i, s, _ in sorted(rows) if s == Consolidation.REPLAYED and t >= 3]
    assert [e.id for e in memory.episodic.between(3, consolidation=Consolidation.REPLAYED)] == replayed
    got = memory.episodic.between(2, 8, limit=3, with_payload=True, newest_first=True)
    assert [e.id for e in got] == [i for t, i, _, _ in sorted(rows, reverse=True) if 2 <= t < 8][:3]
    assert all(e.vector is not None for e in got)
    vectors = memory.episodic.recent_vectors(5)
    assert vectors.shape == (5, 2)


def test_reads_by_importance_match_a_sort_in_every_state(
    mixed: tuple[memory_store.Memory, list[tuple[float, int, int, float]]],
) -> None:
    memory, rows = mixed
    labelled = {e.id for e in memory.episodic.between() if e.label is not None}
    for state in STATES:
        mine = [(imp, i) for _, i, s, imp in rows if s == state]
        most = [i for _, i in sorted(mine, key=lambda r: (-r[0], r[1]))]
        assert [e.id for e in memory.episodic.by_importance(state, limit=5)] == most[:5]
        least = [i for _, i in sorted(mine)]
        assert [e.id for e in memory.episodic.by_importance(state, limit=5, lowest_first=True)] == least[:5]
        assert bulk.least_important(str(memory.episodic.source), int(state), 4)[0].tolist() == least[:4]
        ids, _, _ = bulk.labelled_by_importance(str(memory.episodic.source), int(state), 6)
        assert ids.tolist() == [i for i in most if i in labelled][:6]


def _plans(memory: memory_store.Memory, read: Any) -> list[str]:
    """SQLite's query plan of every statement ``read`` runs through SQLAlchemy, one string each."""
    seen: list[tuple[str, Any]] = []

    def note(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        seen.append((statement, parameters))

    engine = memory.db.engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        read()
    finally:
        event.remove(engine, "before_cursor_execute", note)
    with sqlite3.connect(str(memory.path)) as conn:
        return [
            " | ".join(r[3] for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))
            for sql, params in seen
            if sql.lstrip().upper().startswith("SELECT")
        ]


def test_every_read_by_time_or_importance_reads_an_index_in_order(
    mixed: tuple[memory_store.Memory, list[tuple[float, int, int, float]]],
) -> None:
    memory, _ = mixed
    episodic, path = memory.episodic, str(memory.episodic.source)
    reads = {
        "newest": lambda: episodic.between(newest_first=True, limit=10),
        "range": lambda: episodic.between(3, 9),
        "recent vectors": lambda: episodic.recent_vectors(10),
        "most important settled": lambda: episodic.by_importance(Consolidation.CONSOLIDATED, limit=5),
    }
    for name, read in reads.items():
        plans = _plans(memory, read)
        assert plans, name
        for plan in plans:
            assert "SCAN episodes" not in plan, (name, plan)  # no pass over the whole table
            index = "settled_importance" if "important" in name else "consolidation_time"
            assert f"ix_episodes_{index}" in plan, (name, plan)
    with sqlite3.connect(path) as conn:
        for sql, params, index in [
            (bulk.NEW_EPISODES, (10,), "consolidation_time"),
            (bulk.LEAST_IMPORTANT.format(state=bulk.in_state(2)), (2, 10), "settled_importance"),
            (bulk.LABELLED_BY_IMPORTANCE.format(state=bulk.in_state(1)), (1, 10), "settled_importance"),
        ]:
            plan = " | ".join(r[3] for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))
            assert f"ix_episodes_{index}" in plan and "TEMP B-TREE FOR ORDER BY" not in plan, (sql, plan)


def test_an_insert_leaves_the_settled_index_alone(db_path: Path) -> None:
    with memory_store.open_memory(db_path, dim=2) as memory:
        a, b = memory.episodic.add_many([NewEpisode(vector=np.ones(2)), NewEpisode(vector=np.ones(2))])
        memory.episodic.update([b], consolidation=Consolidation.REPLAYED)
    with sqlite3.connect(db_path) as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'episodes'")}
        assert {n for n in names if n.startswith("ix_")} == {
            "ix_episodes_input_digest", "ix_episodes_consolidation_time", "ix_episodes_settled_importance",
        }  # fmt: skip
        # the partial index holds b alone: counted through it (INDEXED BY fails if SQLite cannot use it)
        through = "SELECT id FROM episodes INDEXED BY ix_episodes_settled_importance WHERE consolidation != 0"
        assert [r[0] for r in conn.execute(through)] == [b]
        assert conn.execute("SELECT count(*) FROM episodes").fetchone()[0] == 2 and a != b
