"""The SQLite engine under the memory store: pragmas, one writer, retries, and migrations on open.

Every write runs in ``BEGIN IMMEDIATE``: the writer takes SQLite's write lock before it reads anything, so
two processes never deadlock on a lock upgrade, and SQLite's busy timeout makes the second one wait instead
of failing. If the lock is still taken when the timeout ends, the whole transaction is retried with backoff
until ``busy_timeout_s`` has passed; only then does :class:`DatabaseBusyError` (never sqlite's "database is
locked") reach the caller. Inside one process a lock admits one writer at a time.
"""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, select, text
from sqlalchemy.exc import DatabaseError, OperationalError
from sqlalchemy.pool import StaticPool

import migrations

from .errors import (
    DatabaseBusyError,
    DatabaseVersionError,
    InvalidMemoryInputError,
    NotARonnDatabaseError,
)
from .schema import ronn_meta
from .sqlite_file import check_header, sync_through_sqlite

T = TypeVar("T")
Synchronous = Literal["NORMAL", "FULL"]

APPLICATION = "ronn"
_BUSY_CODES = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}


def default_path() -> Path:
    """Where the memory lives when no path is given.

    ``$RONN_HOME/memory.db`` if ``RONN_HOME`` is set, else ``$XDG_DATA_HOME/ronn/memory.db``, else
    ``~/.local/share/ronn/memory.db``.
    """
    if home := os.environ.get("RONN_HOME"):
        return Path(home).expanduser() / "memory.db"
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data).expanduser() / "ronn" / "memory.db"


def is_busy(exc: BaseException) -> bool:
    """True for SQLite's "database is locked" / "database table is locked" errors."""
    orig = getattr(exc, "orig", exc)
    if not isinstance(orig, sqlite3.OperationalError):
        return False
    code = getattr(orig, "sqlite_errorcode", None)
    return (code is not None and code & 0xFF in _BUSY_CODES) or "locked" in str(orig) or "busy" in str(orig)


#: Bytes a WAL file is cut back to when SQLite rewinds it after a complete checkpoint (``journal_size_limit``):
#: a rewound WAL is overwritten in place, so it keeps the size of the longest run between checkpoints (an
#: agent's stream of commits: tens of MB); cutting it back each time stalled the next commit ~10 ms, so only a
#: WAL grown past this (a long reader, a burst) is cut.
WAL_SIZE_LIMIT = 128 << 20
#: Page size of a new database file (an existing one keeps its own). A commit writes every page it changed to
#: the WAL, each with a checksum and two writes; an agent's one-row commit changes ~6 (the row's leaf, three
#: index leaves, sqlite_sequence, at times page 1): at 2 KB it took ~7 µs less than at SQLite's default 4 KB
#: (~55 -> ~48 µs on the agent's path here); at 1 KB a ~500-byte row filled a page per commit and it gained less.
#: Larger inputs (episode_inputs) span twice the overflow pages, written beside the model's run.
PAGE_SIZE = 2048
#: checkpoint passes without the writer lock at most, and the pass time under which the next one is the last
CHECKPOINT_PASSES = 4
CHECKPOINT_SHORT_S = 0.002


class Database:
    """A synchronous SQLAlchemy engine on one SQLite database, migrated to head.

    Use :meth:`read` and :meth:`write` with a function of a ``Connection``; they run it in one transaction.
    ``path=None`` keeps the database in memory (one shared connection, every call serialized).
    """

    def __init__(
        self,
        path: Path | None,
        *,
        synchronous: Synchronous = "NORMAL",
        busy_timeout_s: float = 30.0,
        autocheckpoint: int = 1000,
    ) -> None:
        if synchronous not in ("NORMAL", "FULL"):
            raise InvalidMemoryInputError(f"synchronous must be 'NORMAL' or 'FULL', got {synchronous!r}")
        if busy_timeout_s <= 0:
            raise InvalidMemoryInputError(f"busy_timeout_s must be positive, got {busy_timeout_s}")
        self.path = path
        self.synchronous = synchronous
        self._sqlite_fd: int | None = None  # a descriptor SQLite holds on the file (checkpoint)
        self.busy_timeout_s = busy_timeout_s
        #: WAL pages after which a commit checkpoints (SQLite's ``wal_autocheckpoint``); 0: only
        #: :meth:`checkpoint` does (an agent checkpoints in a worker thread, not in a commit on its event loop)
        self.autocheckpoint = max(int(autocheckpoint), 0)
        self._write_lock = threading.RLock()
        self._writer: sqlite3.Connection | None = None  # write_dbapi's connection (in memory: the shared one)
        # an in-memory database is one connection shared by every thread: serialize reads too
        self._read_lock: threading.RLock | None = threading.RLock() if path is None else None
        if path is not None:
            check_header(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(f"sqlite:///{path}", pool_size=8, max_overflow=8)
        else:
            self.engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
        event.listen(self.engine, "connect", self._on_connect)
        event.listen(self.engine, "begin", _on_begin)
        try:
            self.write(self._migrate, _foreign_keys=False)
            if path is not None:  # only now: switching to WAL rewrites the header of a file we may refuse
                self.write(_enable_wal, _transaction=False)
        except DatabaseError as exc:
            self.engine.dispose()
            if is_busy(exc):
                raise
            raise NotARonnDatabaseError(f"{path} cannot be opened as a RONN database: {exc.orig}") from None
        except BaseException:
            self.engine.dispose()
            raise

    # -- connections -------------------------------------------------------------------------------

    def _on_connect(self, dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" event emits BEGIN itself
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # takes effect on a new file only
        cursor.execute(f"PRAGMA busy_timeout = {int(min(self.busy_timeout_s, 5.0) * 1000)}")
        cursor.execute(f"PRAGMA synchronous = {self.synchronous}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA wal_autocheckpoint = {self.autocheckpoint}")
        cursor.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
        cursor.close()

    def read(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn(connection)`` in a read transaction (a consistent snapshot) and return its result."""
        return self._run(fn, write=False, foreign_keys=True)

    def write(self, fn: Callable[[Connection], T], *, _foreign_keys: bool = True, _transaction: bool = True) -> T:
        """Run ``fn(connection)`` in one ``BEGIN IMMEDIATE`` transaction, retried while the file is busy.

        ``fn`` may run more than once, so it must not have effects outside the database. An exception from
        ``fn`` rolls the transaction back and propagates.
        """
        deadline = time.monotonic() + self.busy_timeout_s
        delay = 0.002
        while True:
            try:
                with self._write_lock:
                    if not _transaction:
                        with self.engine.connect() as conn:
                            return fn(conn)
                    return self._run(fn, write=True, foreign_keys=_foreign_keys)
            # a busy file, through SQLAlchemy or straight from the DB-API connection (``fn`` may use it: switching
            # to WAL does, and two processes creating one file met "database is locked" there, unretried)
            except (OperationalError, sqlite3.OperationalError) as exc:
                if not is_busy(exc):
                    raise
                if time.monotonic() >= deadline:
                    raise DatabaseBusyError(
                        f"{self.path}: another process held the write lock for over {self.busy_timeout_s:g} s"
                    ) from exc
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.25)

    def write_dbapi(
        self, fn: Callable[[sqlite3.Connection], T], *, wait: bool | float = True, single: bool = False
    ) -> T:
        """Run ``fn(sqlite3_connection)`` in one ``BEGIN IMMEDIATE`` transaction: the fast path for hot writes.

        ``single=True``: ``fn`` runs exactly one statement, which SQLite makes its own transaction (autocommit):
        no ``BEGIN`` and ``COMMIT`` round trips (~2-3 µs of a one-row commit), the same atomicity.

        Same guarantees as :meth:`write` (one writer in this process, busy retries, rollback on an exception,
        ``fn`` may run more than once) without SQLAlchemy: for a file, a DB-API connection kept for this
        purpose; in memory, the shared connection. A one-row insert and commit costs ~30 µs here, against
        ~150 µs through :meth:`write`.

        ``wait=False``: raise :class:`DatabaseBusyError` at once, instead of waiting, when another thread or
        process holds the write lock (an event loop uses it to commit inline and falls back to a thread).
        ``wait=seconds`` (a float): wait at most that long for another thread of this process (its
        transactions are short: an event loop may afford a millisecond, not a thread hop), and raise at once
        when another process holds the lock.
        """
        deadline = time.monotonic() + self.busy_timeout_s
        delay = 0.001
        while True:
            got = (
                self._write_lock.acquire(timeout=wait)
                if not isinstance(wait, bool) and wait > 0
                else self._write_lock.acquire(blocking=bool(wait))
            )
            if not got:
                raise DatabaseBusyError(f"{self.path}: another thread is writing")
            try:
                if self.path is None:
                    with _not_none(self._read_lock):
                        if self._writer is None:  # StaticPool: the one connection, for good (~35 µs saved)
                            with self.engine.connect() as conn:
                                self._writer = conn.connection.driver_connection
                        assert self._writer is not None
                        return fn(self._writer) if single else _transaction(self._writer, fn)
                if self._writer is None:
                    self._writer = self._connect_writer(self.path)
                return fn(self._writer) if single else _transaction(self._writer, fn)
            except sqlite3.OperationalError as exc:
                if not is_busy(exc):
                    raise
                if wait is not True or time.monotonic() >= deadline:
                    raise DatabaseBusyError(
                        f"{self.path}: another process holds the write lock"
                        + ("" if wait is not True else f" for over {self.busy_timeout_s:g} s")
                    ) from exc
            finally:
                self._write_lock.release()
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.25)

    def _connect_writer(self, path: Path) -> sqlite3.Connection:
        # busy_timeout 0: a busy lock fails at once and write_dbapi decides whether to wait (backoff above)
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 0")
        conn.execute(f"PRAGMA synchronous = {self.synchronous}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute(f"PRAGMA wal_autocheckpoint = {self.autocheckpoint}")
        conn.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
        return conn

    def _run(self, fn: Callable[[Connection], T], *, write: bool, foreign_keys: bool) -> T:
        lock = self._read_lock if self._read_lock is not None else _NO_LOCK
        with lock, self.engine.connect() as conn:
            raw = conn.connection.driver_connection
            assert raw is not None
            if not foreign_keys:
                raw.execute("PRAGMA foreign_keys = OFF")  # must happen outside a transaction
            try:
                conn.execution_options(ronn_write=write)
                with conn.begin():
                    return fn(conn)
            finally:
                if not foreign_keys:
                    raw.execute("PRAGMA foreign_keys = ON")

    def checkpoint(self) -> int:
        """Passive WAL checkpoints (copy committed pages into the database file without waiting for readers);
        returns the WAL frames now copied (0 in memory).

        SQLite rewinds the WAL only after a *complete* checkpoint, and one that this process's commits overtake
        never completes: a commit every 0.2 ms grew the WAL by ~24 KB an episode, without bound. So the passes
        run until one is short (each copies what arrived during the one before, while commits go on), and the
        last runs under the writer lock, which it holds for the few frames left (holding it for the whole copy,
        ~40 ms of an agent's commits, stalled ``infer`` that long). That last pass is the only one no commit
        overtakes, so it alone syncs the database file: it would write back every page the passes before it
        copied (~10,000 after 0.3 s of an agent's lone calls: 1.7-4.9 ms under the lock here, each one a
        stalled ``infer``). So the file is synced before the lock is taken, through a descriptor SQLite holds
        (:func:`~memory_store.sqlite_file.sync_through_sqlite`), and one more pass copies what arrived meanwhile:
        the last pass holds the lock 0.5-1.3 ms.
        """
        if self.path is None:
            return 0
        with self.engine.connect() as conn:
            raw = conn.connection.driver_connection
            assert raw is not None
            for _ in range(CHECKPOINT_PASSES):
                start = time.monotonic()
                raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                if time.monotonic() - start < CHECKPOINT_SHORT_S:
                    break
            self._sqlite_fd = sync_through_sqlite(self.path, self._sqlite_fd)
            if self._sqlite_fd is not None:
                raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()  # what arrived during the sync
            with self._write_lock:
                row = raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return 0 if row is None else int(row[2])

    # -- opening -----------------------------------------------------------------------------------

    def _migrate(self, conn: Connection) -> None:
        """Check that this is a RONN database (or an empty one) and upgrade it to head, in one transaction."""
        try:
            tables = set(conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'")).scalars())
        except DatabaseError as exc:
            raise NotARonnDatabaseError(f"{self.path} is not an SQLite database ({exc.orig})") from None
        tables.discard("sqlite_sequence")
        if tables and "ronn_meta" not in tables:
            raise NotARonnDatabaseError(
                f"{self.path} is an SQLite database that RONN did not create (tables: "
                f"{', '.join(sorted(tables)[:8])}); it was left untouched"
            )
        if tables:
            app = conn.execute(select(ronn_meta.c.value).where(ronn_meta.c.key == "application")).scalar()
            if app != APPLICATION:
                raise NotARonnDatabaseError(f"{self.path} has a ronn_meta table but is not a RONN database")
            revision = migrations.current_revision(conn)
            if revision is not None and revision not in migrations.known_revisions():
                raise DatabaseVersionError(
                    f"{self.path} is at migration {revision!r}, unknown to this RONN (made by a newer "
                    f"version?); upgrade RONN to open it"
                )
            if revision == migrations.head_revision():
                return
        migrations.upgrade(conn)
        conn.execute(ronn_meta.insert().prefix_with("OR IGNORE").values(key="application", value=APPLICATION))
        problems = conn.execute(text("PRAGMA foreign_key_check")).all()
        if problems:  # a migration broke a reference: roll everything back
            raise DatabaseVersionError(f"migration left dangling references: {problems[:5]}")

    # -- meta facts --------------------------------------------------------------------------------

    def get_meta(self, conn: Connection, key: str) -> str | None:
        return conn.execute(select(ronn_meta.c.value).where(ronn_meta.c.key == key)).scalar()

    def set_meta(self, conn: Connection, key: str, value: str) -> None:
        conn.execute(ronn_meta.insert().prefix_with("OR REPLACE").values(key=key, value=value))

    def meta_setdefault(self, key: str, value: Callable[[], str]) -> str:
        """The meta fact ``key``; when there is none, ``value()`` is stored and returned (one transaction)."""

        def get_or_set(conn: Connection) -> str:
            known = self.get_meta(conn, key)
            if known is None:
                known = value()
                self.set_meta(conn, key, known)
            return known

        return self.write(get_or_set)

    def close(self) -> None:
        """Release every connection (a WAL checkpoint happens when the last one closes)."""
        with self._write_lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
        self.engine.dispose()


class _NoLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


_NO_LOCK = _NoLock()


def _not_none(lock: threading.RLock | None) -> threading.RLock:
    assert lock is not None
    return lock


def _transaction(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = fn(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return result


def driver(conn: Connection) -> sqlite3.Connection:
    """The DB-API connection under a SQLAlchemy one: bulk reads build plain tuples in C, where SQLAlchemy's rows
    are Python that holds the GIL (an event loop in another thread feels it)."""
    raw = conn.connection.driver_connection
    assert raw is not None
    return raw  # type: ignore[no-any-return]


def _enable_wal(conn: Connection) -> None:
    driver(conn).execute("PRAGMA journal_mode = WAL")  # persistent: every connection, now and later, uses it


def _on_begin(conn: Connection) -> None:
    write = conn.get_execution_options().get("ronn_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


__all__ = ["APPLICATION", "Database", "Synchronous", "default_path", "driver", "is_busy"]
