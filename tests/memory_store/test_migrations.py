"""Migrations: upgrading keeps every row, head matches schema.py, released revisions never change."""

from __future__ import annotations

import functools
import hashlib
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Row, create_engine, text

import memory_store
import migrations
from memory_store import NewEpisode, codec
from memory_store.schema import metadata


def _select_all(table: str, conn: Connection) -> Sequence[Row[Any]]:
    return conn.execute(text(f"SELECT * FROM {table} ORDER BY id")).all()


# sha256 of every released revision file: a released migration is never edited, only followed by a new one.
# Adding a revision adds a line here; changing a line here means rewriting history, which users' databases
# cannot follow.
RELEASED = {
    "0001_initial_schema.py": "60898f387a68e269b9243e12f15df7fb8f7befb066c66a4fd0f0fd1e4577124b",
    "0002_episode_reward_consolidation.py": "25b50443571038b1fe15091d4c4758250f6d39e8357a49bea75736ebf4e3a90e",  # noqa: E501
    "0003_learner_state.py": "28e45505495c6f688c5ba604bd1d600f654a3d16772b53a78127330d9f1f5b41",
    "0004_episode_inputs.py": "a6dd1b7b9381c53387b13bb25c583f16a449c6a3c259ed90bf15111643f016d7",
    "0005_episode_ids_floor.py": "18038d4ce85c4c367181fdc7ccf9c5ea6ba5545f5f6120fd4bb321513c3503e1",
    "0006_episode_indexes_for_writes.py": "8adbe749adbfe5b2e3befec9ced9fa6808f7a704046dda363c1d8bd6bc29e46e",  # noqa: E501
}


def _revision_file(name: str) -> Path:
    return migrations.MIGRATIONS_DIR / "versions" / name


def test_released_revisions_are_unchanged() -> None:
    for name, digest in RELEASED.items():
        assert hashlib.sha256(_revision_file(name).read_bytes()).hexdigest() == digest, f"{name} was edited"
    shipped = {p.name for p in (migrations.MIGRATIONS_DIR / "versions").glob("0*.py")}
    assert shipped == set(RELEASED), "a new revision must be pinned in RELEASED"


def test_migrations_run_from_the_package_without_alembic_ini() -> None:
    config = migrations.alembic_config()
    assert Path(config.get_main_option("script_location") or "") == migrations.MIGRATIONS_DIR
    assert migrations.head_revision() == "0006"
    assert migrations.known_revisions() == {"0001", "0002", "0003", "0004", "0005", "0006"}


def test_upgrade_from_the_first_revision_keeps_every_row(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        migrations.upgrade(conn, "0001")
        conn.execute(text("INSERT INTO ronn_meta VALUES ('application', 'ronn'), ('episode_dim', '4')"))
        conn.execute(text("INSERT INTO ronn_meta VALUES ('episode_space', 'l2')"))
        vector = np.arange(4, dtype="<f2").tobytes()
        for i in range(1, 101):
            conn.execute(
                text(
                    "INSERT INTO episodes (time, input_digest, vector, route, label, importance,"
                    " access_count) VALUES (:t, :d, :v, 'system1', :l, 1.0, :a)"
                ),
                {"t": float(i), "d": bytes(16), "v": vector, "l": i % 10, "a": i},
            )
        conn.execute(text("INSERT INTO concepts (name, created) VALUES ('cat', 1.0), ('animal', 1.0)"))
        conn.execute(
            text(
                "INSERT INTO relations (source_id, target_id, type, weight, updated)"
                " VALUES (1, 2, 'is_a', 0.5, 1)"
            )
        )
        conn.execute(text("INSERT INTO concept_uses (concept_id, time) VALUES (1, 1.0)"))
        before = {
            t: conn.execute(text(f"SELECT * FROM {t} ORDER BY id")).all()
            for t in ("episodes", "concepts", "relations", "concept_uses")
        }
    engine.dispose()

    with memory_store.open_memory(path) as memory:  # migrates to head on open
        after = {
            t: memory.db.read(functools.partial(_select_all, t))
            for t in before
        }
        assert memory.episodic.index_repair == "rebuilt from 100 rows: index file missing"
        found = memory.episodic.search(np.arange(4), k=100)
        assert len(found) == 100 and {e.label for e in found} == set(range(10))
        assert memory.semantic.neighbourhood([1], 1) == {1: 0, 2: 1}
    for table, rows in before.items():
        if table == "episodes":  # 0002 appended reward (NULL) and consolidation (0) to every row
            assert [tuple(r)[:-2] for r in after[table]] == [tuple(r) for r in rows]
            assert {tuple(r)[-2:] for r in after[table]} == {(None, 0)}
        else:
            assert after[table] == rows


def test_head_matches_schema_py_and_keeps_autoincrement_where_it_is_wanted(db_path: Path) -> None:
    memory_store.open_memory(db_path).close()
    engine = create_engine(f"sqlite:///{db_path}")
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diff == [], diff
    engine.dispose()
    with sqlite3.connect(db_path) as conn:
        sql = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE name IN ('episodes', 'concepts')"))
    assert "AUTOINCREMENT" in sql["concepts"], "concepts lost AUTOINCREMENT: ids could be reused"
    assert "AUTOINCREMENT" not in sql["episodes"]  # 0005: the id floor instead (its counter cost a page a commit)


def _at_0004_with_the_newest_forgotten(path: Path) -> None:
    """A database at 0004 holding episodes 1-5 of the 7 its AUTOINCREMENT handed out (6 and 7 were forgotten)."""
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        migrations.upgrade(conn, "0004")
        conn.execute(text("INSERT INTO ronn_meta VALUES ('application', 'ronn'), ('episode_dim', '2')"))
        conn.execute(text("INSERT INTO ronn_meta VALUES ('episode_space', 'l2')"))
        for _ in range(7):
            conn.execute(
                text("INSERT INTO episodes (time, input_digest, vector) VALUES (1.0, :d, :v)"),
                {"d": b"\0" * 16, "v": np.ones(2, "<f2").tobytes()},
            )
        conn.execute(text("DELETE FROM episodes WHERE id > 5"))
    engine.dispose()


def test_0005_keeps_every_id_and_reuses_none_handed_out_before(tmp_path: Path) -> None:
    path = tmp_path / "at_0004.db"
    _at_0004_with_the_newest_forgotten(path)
    with memory_store.open_memory(path) as memory:  # upgrades to 0005
        assert [e.id for e in memory.episodic.get([1, 2, 3, 4, 5])] == [1, 2, 3, 4, 5]
        assert memory.episodic.add(np.ones(2)) == 8  # 6 and 7 named episodes once: never again
        memory.episodic.forget([8])
    with memory_store.open_memory(path) as memory:  # the floor outlives the process
        assert memory.episodic.commit([NewEpisode(vector=np.ones(2)), NewEpisode(vector=np.ones(2))]) == [9, 10]
    with sqlite3.connect(path) as conn:
        index_names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'episodes'")}
    assert "ix_episodes_input_digest" in index_names  # and 0006's (test_0006_...)


def test_0005_downgrades_to_autoincrement_that_remembers_the_floor(tmp_path: Path) -> None:
    path = tmp_path / "at_0004.db"
    _at_0004_with_the_newest_forgotten(path)
    memory_store.open_memory(path).close()  # upgrade to 0005 (floor 7)
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        from alembic import command

        command.downgrade(migrations.alembic_config(conn), "0004")
        assert conn.execute(text("SELECT seq FROM sqlite_sequence WHERE name = 'episodes'")).scalar() == 7
        assert conn.execute(text("SELECT count(*) FROM ronn_meta WHERE key = 'episode_id_floor'")).scalar() == 0
        conn.execute(
            text("INSERT INTO episodes (time, input_digest, vector) VALUES (1.0, :d, :v)"),
            {"d": b"\0" * 16, "v": np.ones(2, "<f2").tobytes()},
        )
        assert conn.execute(text("SELECT max(id) FROM episodes")).scalar() == 8
    engine.dispose()


def test_downgrade_and_upgrade_again(db_path: Path) -> None:
    memory_store.open_memory(db_path, dim=2).close()
    engine = create_engine(f"sqlite:///{db_path}")
    with engine.begin() as conn:
        from alembic import command

        command.downgrade(migrations.alembic_config(conn), "0001")
        assert migrations.current_revision(conn) == "0001"
    engine.dispose()
    with memory_store.open_memory(db_path) as memory:
        assert memory.episodic.dim == 2
        memory.episodic.add(np.ones(2), reward=1.0)
        memory.state.put({"learner": b"blob"})  # 0003's table is back


def _episode_indexes(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'episodes'")
        return {r[0] for r in rows if r[0].startswith("ix_")}


def test_0006_swaps_the_time_and_importance_indexes_both_ways_keeping_every_row(db_path: Path) -> None:
    with memory_store.open_memory(db_path, dim=2) as memory:
        memory.episodic.add_many([NewEpisode(vector=np.ones(2), time=float(t)) for t in (3, 1, 2)])
        memory.episodic.update([2], consolidation=memory_store.Consolidation.CONSOLIDATED, importance=0.5)
    head = {"ix_episodes_input_digest", "ix_episodes_consolidation_time", "ix_episodes_settled_importance"}
    assert _episode_indexes(db_path) == head
    engine = create_engine(f"sqlite:///{db_path}")
    with engine.begin() as conn:
        before = _select_all("episodes", conn)
        from alembic import command

        command.downgrade(migrations.alembic_config(conn), "0005")
        assert _select_all("episodes", conn) == before
    engine.dispose()
    old = {"ix_episodes_input_digest", "ix_episodes_time", "ix_episodes_consolidation_importance"}
    assert _episode_indexes(db_path) == old
    with memory_store.open_memory(db_path) as memory:  # up again
        assert [e.id for e in memory.episodic.between()] == [2, 3, 1]
        assert [e.id for e in memory.episodic.by_importance(memory_store.Consolidation.CONSOLIDATED, limit=3)] == [2]
    assert _episode_indexes(db_path) == head


def test_learner_state_survives_reopening(db_path: Path) -> None:
    with memory_store.open_memory(db_path) as memory:
        memory.state.put({"learner": b"\x00weights", "system1": b"latent"})
        memory.state.put({"learner": b"newer"})
    with memory_store.open_memory(db_path) as memory:
        assert memory.state.get_many(["learner", "system1", "absent"]) == {"learner": b"newer", "system1": b"latent"}
        assert memory.state.get("absent") is None and memory.state.keys() == ["learner", "system1"]


def _inputs_in_rows(path: Path) -> dict[int, Any]:
    with sqlite3.connect(path) as conn:
        return {i: codec.decode_payload(b) for i, b in conn.execute("SELECT id, input FROM episodes ORDER BY id")}


def test_0004_keeps_inputs_readable_both_ways(tmp_path: Path) -> None:
    path = tmp_path / "at_0003.db"
    rng = np.random.default_rng(7)
    old = {i: rng.standard_normal((96, 288)).astype(np.float32) for i in (1, 2)} | {3: b"raw", 4: None}
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        migrations.upgrade(conn, "0003")
        conn.execute(text("INSERT INTO ronn_meta VALUES ('application', 'ronn'), ('episode_dim', '4')"))
        conn.execute(text("INSERT INTO ronn_meta VALUES ('episode_space', 'l2')"))
        for i, x in old.items():
            conn.execute(
                text("INSERT INTO episodes (id, time, input_digest, input, vector) VALUES (:i, :i, :d, :x, :v)"),
                {"i": i, "d": codec.digest(x), "x": codec.encode_payload(x), "v": np.ones(4, "<f2").tobytes()},
            )
    engine.dispose()

    def check(memory: memory_store.Memory, want: dict[int, Any]) -> None:
        for episode in memory.episodic.get(list(want)):
            expected = want[episode.id]
            if isinstance(expected, np.ndarray):
                assert isinstance(episode.input, np.ndarray) and episode.input.dtype == expected.dtype
                np.testing.assert_array_equal(episode.input, expected)
            else:
                assert episode.input == expected

    with memory_store.open_memory(path) as memory:  # upgrades to 0004: the rows keep their inputs
        check(memory, old)
        new = rng.standard_normal((96, 288)).astype(np.float32)
        [eid] = memory.episodic.commit([NewEpisode(vector=np.ones(4), input=memory.episodic.store_input(new))])
        check(memory, {**old, eid: new})
    assert _inputs_in_rows(path)[eid] is None  # at 0004 the new input lives in episode_inputs

    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        from alembic import command

        command.downgrade(migrations.alembic_config(conn), "0003")
        assert "episode_inputs" not in set(conn.execute(text("SELECT name FROM sqlite_master")).scalars())
    engine.dispose()
    rows = _inputs_in_rows(path)  # what RONN at 0003 reads: every input back in its row
    for i, x in {**old, eid: new}.items():
        if isinstance(x, np.ndarray):
            np.testing.assert_array_equal(rows[i], x)
        else:
            assert rows[i] == x

    with memory_store.open_memory(path) as memory:  # and up again
        check(memory, {**old, eid: new})
        assert memory.db.read(lambda c: c.execute(text("SELECT count(*) FROM episode_inputs")).scalar()) == 0
