"""Bad input raises a RonnError subclass that says what is wrong, and nothing is written."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Row, text

import memory_store
from engine.errors import InvalidInputError, RonnError
from memory_store import NewEpisode


def _snapshot(memory: memory_store.Memory) -> Sequence[Row[Any]]:
    return memory.db.read(lambda c: c.execute(text("SELECT * FROM episodes ORDER BY id")).all())


@pytest.mark.parametrize(
    ("vector", "match"),
    [
        (np.ones(7), "differ in size"),
        (np.full(8, np.nan), "NaN or infinity"),
        (np.full(8, np.inf), "NaN or infinity"),
        (np.full(8, 1e6), "float16"),
        (np.ones((2, 2, 2)), "shape"),
        (["a"] * 8, "numbers"),
    ],
)
def test_bad_vectors_write_nothing(memory: memory_store.Memory, vector: object, match: str) -> None:
    memory.episodic.add(np.ones(8))
    before = _snapshot(memory)
    good = [NewEpisode(vector=np.zeros(8)) for _ in range(3)]
    with pytest.raises(memory_store.InvalidVectorError, match=match) as info:
        memory.episodic.add_many([*good, NewEpisode(vector=vector)])
    assert isinstance(info.value, RonnError) and isinstance(info.value, InvalidInputError)
    assert _snapshot(memory) == before and memory.episodic.search(np.zeros(8), k=10)[0].id == before[0].id


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 7), st.sampled_from([np.nan, np.inf, -np.inf, 7e4]))
def test_one_bad_component_anywhere_is_caught(position: int, value: float) -> None:
    with memory_store.open_memory(":memory:", dim=8) as memory:
        vector = np.zeros(8)
        vector[position] = value
        with pytest.raises(memory_store.InvalidVectorError):
            memory.episodic.add(vector)
        assert memory.episodic.count() == 0


def test_bad_fields_write_nothing(memory: memory_store.Memory) -> None:
    for fields in (
        {"confidence": float("nan")},
        {"importance": "high"},
        {"route": 3},
        {"input": np.array([{}])},
    ):
        with pytest.raises(memory_store.InvalidMemoryInputError):
            memory.episodic.add(np.ones(8), **fields)
    with pytest.raises(memory_store.InvalidVectorError, match="differ in size"):
        memory.episodic.add_many([NewEpisode(vector=np.ones(8)), NewEpisode(vector=np.ones(9))])
    assert memory.episodic.count() == 0


def test_unknown_ids_change_nothing(memory: memory_store.Memory) -> None:
    a, b = memory.episodic.add_many([NewEpisode(vector=np.ones(8)) for _ in range(2)])
    before = _snapshot(memory)
    for call in (
        lambda: memory.episodic.get([a, 999]),
        lambda: memory.episodic.touch([a, 999]),
        lambda: memory.episodic.update([b, 998, 999], label=1),
        lambda: memory.episodic.forget([a, 999]),
    ):
        with pytest.raises(memory_store.UnknownIdError, match="999") as info:
            call()
        assert isinstance(info.value, RonnError) and isinstance(info.value, KeyError)
    assert _snapshot(memory) == before
    assert memory.episodic.in_index(a)


def test_bad_queries(memory: memory_store.Memory) -> None:
    memory.episodic.add(np.ones(8))
    for kwargs in (
        {"k": 0},
        {"k": 2.5},
        {"since": 5, "until": 1},
        {"since": float("nan")},
        {"consolidation": 9},
    ):
        with pytest.raises(memory_store.InvalidQueryError):
            memory.episodic.search(np.ones(8), **kwargs)  # type: ignore[arg-type]
    with pytest.raises(memory_store.InvalidQueryError):
        memory.episodic.get(["1"])  # type: ignore[list-item]


def test_a_file_that_is_not_sqlite_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are my notes, not a database\n" * 20)
    before = path.read_bytes()
    with pytest.raises(memory_store.NotARonnDatabaseError, match="not an SQLite database"):
        memory_store.open_memory(path)
    assert path.read_bytes() == before and not Path(f"{path}-wal").exists()


def test_a_foreign_sqlite_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    before = path.read_bytes()
    with pytest.raises(memory_store.NotARonnDatabaseError, match="customers"):
        memory_store.open_memory(path)
    assert path.read_bytes() == before
    with sqlite3.connect(path) as conn:
        assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")] == [
            "customers"
        ]


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(memory_store.NotARonnDatabaseError):
        memory_store.open_memory(tmp_path)


def test_a_database_from_a_newer_ronn_is_refused(db_path: Path) -> None:
    memory_store.open_memory(db_path).close()
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(memory_store.DatabaseVersionError, match="9999"):
        memory_store.open_memory(db_path)


def test_wrong_size_alone_names_both_sizes(memory: memory_store.Memory) -> None:
    memory.episodic.add(np.ones(8))
    with pytest.raises(memory_store.InvalidVectorError, match="7 components but this database stores 8"):
        memory.episodic.add_many([NewEpisode(vector=np.ones(7))] * 2)
    assert memory.episodic.count() == 1


def test_dimension_mismatch_on_open(db_path: Path) -> None:
    memory_store.open_memory(db_path, dim=8).close()
    with pytest.raises(memory_store.InvalidVectorError, match="8-d"):
        memory_store.open_memory(db_path, dim=16)


def test_bad_open_arguments() -> None:
    for kwargs in ({"synchronous": "OFF"}, {"space": "ip"}, {"busy_timeout_s": 0}, {"dim": 0}):
        with pytest.raises(memory_store.InvalidMemoryInputError):
            memory_store.open_memory(":memory:", **kwargs)  # type: ignore[arg-type]
    with pytest.raises(memory_store.InvalidMemoryInputError, match="SQLite"):
        memory_store.open_memory("postgresql://localhost/ronn")
