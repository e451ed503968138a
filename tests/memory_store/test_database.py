"""Opening: where the database lives, URLs, SQLite settings, the exported names."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

import memory_store
from memory_store import NewEpisode, default_path


def _pragma(memory: memory_store.Memory, name: str) -> object:
    return memory.db.read(lambda c: c.exec_driver_sql(f"PRAGMA {name}").scalar())


def test_default_path_honours_ronn_home_then_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RONN_HOME", str(tmp_path / "home"))
    assert default_path() == tmp_path / "home" / "memory.db"
    monkeypatch.delenv("RONN_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_path() == tmp_path / "xdg" / "ronn" / "memory.db"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert default_path() == tmp_path / "user" / ".local" / "share" / "ronn" / "memory.db"


def test_open_with_no_path_creates_the_default_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RONN_HOME", str(tmp_path / "ronn"))
    with memory_store.open_memory() as memory:
        assert memory.path == tmp_path / "ronn" / "memory.db" and memory.path.exists()


def test_sqlite_settings(db_path: Path) -> None:
    with memory_store.open_memory(db_path) as memory:
        assert _pragma(memory, "journal_mode") == "wal"
        assert _pragma(memory, "synchronous") == 1  # NORMAL
        assert _pragma(memory, "foreign_keys") == 1
        assert _pragma(memory, "busy_timeout") == 5000
    with memory_store.open_memory(f"sqlite:///{db_path}", synchronous="FULL") as memory:
        assert memory.path == db_path.resolve()
        assert _pragma(memory, "synchronous") == 2  # FULL


@pytest.mark.parametrize("spec", [":memory:", "sqlite://", "sqlite:///:memory:"])
def test_in_memory_databases(spec: str) -> None:
    with memory_store.open_memory(spec, dim=2) as memory:
        assert memory.path is None
        memory.episodic.add([1.0, 2.0])
        assert memory.db.read(lambda c: c.execute(text("SELECT count(*) FROM episodes")).scalar()) == 1


@pytest.mark.parametrize("bad", [123, b"/tmp/a.db", ["a.db"]])
def test_a_memory_that_is_no_path_or_url_is_refused(bad: object) -> None:
    with pytest.raises(memory_store.InvalidMemoryInputError, match="path, an SQLite URL"):
        memory_store.open_memory(bad)  # type: ignore[arg-type]


def test_close_is_idempotent(db_path: Path) -> None:
    memory = memory_store.open_memory(db_path)
    memory.close()
    memory.close()


def test_exported_names() -> None:
    assert set(memory_store.__all__) == {
        "UNSET",
        "AsyncMemory",
        "Concept",
        "Consolidation",
        "DatabaseBusyError",
        "DatabaseVersionError",
        "EncodedEpisode",
        "Episode",
        "EpisodicMemory",
        "HnswParams",
        "InvalidMemoryInputError",
        "InvalidQueryError",
        "InvalidVectorError",
        "Memory",
        "MemoryStoreError",
        "NewEpisode",
        "NotARonnDatabaseError",
        "Relation",
        "SemanticMemory",
        "StateStore",
        "StoredInput",
        "UnknownIdError",
        "WorkingItem",
        "WorkingMemory",
        "default_path",
        "open_memory",
    }
    for name in memory_store.__all__:
        assert getattr(memory_store, name) is not None


def test_meta_setdefault_stores_once_and_keeps_what_is_there(db_path: Path) -> None:
    calls: list[int] = []

    def default() -> str:
        calls.append(1)
        return "first"

    with memory_store.open_memory(db_path) as memory:
        assert memory.db.meta_setdefault("some_key", default) == "first"
        assert memory.db.meta_setdefault("some_key", lambda: "second") == "first"
    with memory_store.open_memory(db_path) as memory:  # it was committed
        assert memory.db.read(lambda c: memory.db.get_meta(c, "some_key")) == "first"
    assert calls == [1]


def test_a_new_file_gets_the_page_size_and_an_old_one_keeps_its_own(tmp_path: Path) -> None:
    import sqlite3

    import numpy as np

    from memory_store.database import PAGE_SIZE

    new = tmp_path / "new.db"
    memory_store.open_memory(new, dim=4).close()
    old = tmp_path / "old.db"  # a file made with SQLite's default page size, as before PAGE_SIZE
    with sqlite3.connect(old) as conn:
        conn.execute("PRAGMA page_size = 4096")
        conn.execute("VACUUM")
    for path, size in ((new, PAGE_SIZE), (old, 4096)):
        memory = memory_store.open_memory(path, dim=4)
        try:
            ids = memory.episodic.commit([memory_store.NewEpisode(vector=np.ones(4, np.float32), input=b"x" * 5000)])
            assert memory.episodic.get([ids[0]], with_payload=True)[0].input == b"x" * 5000
        finally:
            memory.close()
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA page_size").fetchone()[0] == size
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_opening_a_file_this_process_has_open_keeps_sqlites_locks(db_path: Path) -> None:
    # closing any descriptor of a file drops every POSIX lock this process holds on it, SQLite's included: a
    # second open that read the header through a descriptor of its own and closed it let another process take
    # itself for the file's last user, checkpoint and delete the WAL, and this process's later commits were
    # lost to every other reader (SQLite's "How To Corrupt An SQLite Database File", 2.2)
    import subprocess
    import sys

    import numpy as np

    from memory_store import NewEpisode

    vector = np.ones(4, np.float32)
    with memory_store.open_memory(db_path, dim=4) as first:
        first.episodic.commit([NewEpisode(vector=vector)])
        with memory_store.open_memory(db_path) as second:  # reads the header while `first` holds the file
            assert second.episodic.count() == 1
            read = (
                "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); print(c.execute(sys.argv[2]).fetchone()[0]); "
                "c.close()"
            )
            count = [sys.executable, "-c", read, str(db_path), "SELECT count(*) FROM episodes"]
            subprocess.run(count, check=True, capture_output=True)  # another process reads, then closes
            assert Path(f"{db_path}-wal").exists()  # ... without taking itself for the file's last user
            first.episodic.commit([NewEpisode(vector=vector)])
            seen = subprocess.run(count, check=True, capture_output=True, text=True)
            assert seen.stdout.strip() == "2"


def test_dbapi_statements_use_plain_placeholders() -> None:
    """Python's sqlite3 takes a numbered placeholder (``?1``) as a named one, which a sequence of parameters may
    not fill from Python 3.14 on (ProgrammingError; a DeprecationWarning from 3.12, an error in this suite's
    settings): every statement the store runs through the DB-API with a sequence uses plain ``?``."""
    import re

    from memory_store import bulk, episode_writes, episodic_index

    checked = 0
    for module in (episode_writes, bulk, episodic_index):
        for name, value in vars(module).items():
            if name.isupper() and isinstance(value, str) and "?" in value:
                checked += 1
                assert not re.search(r"\?\d|[:@$][A-Za-z_]", value), f"{module.__name__}.{name}: {value}"
    assert checked >= 10


def test_an_episode_with_its_input_stored_ahead_and_a_forget_bind_plain_placeholders(db_path: Path) -> None:
    """The two statements that repeat a value (the insert of an episode whose input was stored ahead, the
    forget's stored-input clean-up) get it twice: the row is in, and its input goes with its last episode."""
    import numpy as np

    with memory_store.open_memory(db_path, dim=2) as memory:
        x = np.arange(600, dtype=np.float32)
        stored = memory.episodic.store_input(x)
        [a] = memory.episodic.commit([NewEpisode(vector=np.ones(2), input=stored)])
        [b] = memory.episodic.commit([NewEpisode(vector=np.ones(2), input=stored)])
        assert memory.episodic.find_input(x) == [a, b]
        memory.episodic.forget([a])
        assert memory.episodic.query("SELECT count(*) FROM episode_inputs")[0][0] == 1  # b still refers to it
        memory.episodic.forget([b])
        assert memory.episodic.query("SELECT count(*) FROM episode_inputs")[0][0] == 0


@pytest.mark.parametrize("transaction", [True, False])
def test_a_busy_file_met_through_the_dbapi_connection_is_retried(db_path: Path, transaction: bool) -> None:
    """``Database.write`` retries a busy file also when ``fn`` meets it on the DB-API connection (opening switches
    to WAL that way: two processes creating one file failed with a raw ``sqlite3.OperationalError``, seen in CI)
    and, past ``busy_timeout_s``, raises DatabaseBusyError."""
    import sqlite3

    with memory_store.open_memory(db_path) as memory:
        calls: list[int] = []

        def busy_twice(conn: object) -> str:
            calls.append(1)
            if len(calls) < 3:
                raise sqlite3.OperationalError("database is locked")
            return "done"

        assert memory.db.write(busy_twice, _transaction=transaction) == "done"
        assert len(calls) == 3

        def always_busy(conn: object) -> None:
            raise sqlite3.OperationalError("database is locked")

        memory.db.busy_timeout_s = 0.05
        with pytest.raises(memory_store.DatabaseBusyError, match="write lock"):
            memory.db.write(always_busy, _transaction=transaction)

        def broken(conn: object) -> None:
            raise sqlite3.OperationalError("no such table: nowhere")

        with pytest.raises(sqlite3.OperationalError, match="no such table"):  # not busy: not retried
            memory.db.write(broken, _transaction=transaction)
