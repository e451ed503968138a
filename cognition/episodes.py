"""The episode writer: a bounded channel into batched, committed transactions, and an indexer behind it.

Why not ``memory.episodic.add_many`` on the hot path: for one episode it costs ~380 µs here (an SQLAlchemy
transaction with three statements, then the HNSW insert in the same call), several times the whole MLP
inference. :class:`EpisodeRows` commits rows in the memory store's own row format
(:meth:`memory_store.NewEpisode.to_row`) through a dedicated ``sqlite3`` connection to the database file, as a
second process would; the memory store treats such rows as written by another process, and the indexer task
catches the HNSW index up with ``memory.episodic.sync()`` after each commit (DESIGN.md: the index point may
follow the row). An in-memory database has one shared connection: there the commit goes through
``memory.db.write``.

Durable mode: each ``submit`` waits for the commit of the batch that holds its row; everything that queued
while a commit ran shares the next one. Deferred mode: ``submit`` returns a ticket at once; the writer commits
at least every ``flush_interval_s``.
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Sequence
from typing import Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import numpy as np
from anyio.abc import TaskStatus

from memory_store import Memory, NewEpisode, codec

from .errors import BackgroundTaskError


class EpisodeRows:
    """Builds episode rows and commits batches of them (synchronous; one writer at a time)."""

    def __init__(self, memory: Memory, dim: int) -> None:
        self.memory = memory
        self.dim = dim
        self._sql: str | None = None
        self._columns: list[str] = []
        self._conn: sqlite3.Connection | None = None
        if memory.path is not None:
            db = memory.db
            self._conn = sqlite3.connect(memory.path, isolation_level=None, check_same_thread=False)
            self._conn.execute(f"PRAGMA busy_timeout = {int(db.busy_timeout_s * 1000)}")
            self._conn.execute(f"PRAGMA synchronous = {db.synchronous}")

    def row(self, episode: NewEpisode, now: float) -> dict[str, Any]:
        """The row of ``episode``; InvalidVectorError / InvalidMemoryInputError before anything is queued."""
        row = episode.to_row(now)
        vector = codec.check_vectors([episode.vector], self.dim, what="episode vector")[0]
        row["vector"] = codec.vector_to_blob(vector)
        return row

    def commit(self, rows: Sequence[dict[str, Any]]) -> list[int]:
        """Insert ``rows`` in one transaction; return their ids in order."""
        if self._sql is None:
            self._columns = list(rows[0])
            self._sql = (
                f"INSERT INTO episodes ({', '.join(self._columns)}) "
                f"VALUES ({', '.join('?' * len(self._columns))})"
            )
        params = [tuple(r[c] for c in self._columns) for r in rows]
        if self._conn is None:
            return self.memory.db.write(lambda c: self._insert(c.connection.driver_connection, params))
        deadline = time.monotonic() + self.memory.db.busy_timeout_s
        while True:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.002)
        try:
            ids = self._insert(self._conn, params)
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        return ids

    def _insert(self, conn: Any, params: list[tuple[Any, ...]]) -> list[int]:
        conn.executemany(self._sql, params)
        # AUTOINCREMENT inside our write transaction: the batch's ids are consecutive, ending at the last one
        last = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
        return list(range(last - len(params) + 1, last + 1))

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class Ticket:
    """One queued episode: ``id`` once committed; ``done`` is set after the commit (or its failure)."""

    __slots__ = ("row", "id", "error", "done")

    def __init__(self, row: dict[str, Any] | None) -> None:
        self.row = row
        self.id: int | None = None
        self.error: BaseException | None = None
        self.done = anyio.Event()

    async def wait(self) -> int | None:
        """The committed id (None for a flush marker); BackgroundTaskError if the commit failed."""
        await self.done.wait()
        if self.error is not None:
            raise BackgroundTaskError(f"the episode writer failed: {self.error!r}") from self.error
        return self.id


class EpisodeWriter:
    """The writer and indexer tasks; start both in the agent's nursery with ``tg.start``."""

    def __init__(
        self,
        rows: EpisodeRows,
        *,
        durable: bool,
        flush_interval_s: float,
        max_batch: int,
        queue: int,
        inline: bool,
    ) -> None:
        self.rows = rows
        self.durable = durable
        self.flush_interval_s = flush_interval_s
        self.max_batch = max_batch
        self.inline = inline
        self._send, self._receive = anyio.create_memory_object_stream[Ticket](queue)
        self._limiter = anyio.CapacityLimiter(1)
        self._index_wanted = anyio.Event()
        self._busy = False
        self.failure: BaseException | None = None
        self.pending = 0
        self.committed = 0
        self.commits = 0
        self.stopped = anyio.Event()

    def check(self) -> None:
        """Raise the failure of a background task, if one failed (it is sticky)."""
        if self.failure is not None:
            raise BackgroundTaskError(
                f"a background task of the agent failed: {self.failure!r}"
            ) from self.failure

    async def submit(self, row: dict[str, Any], *, alone: bool = False) -> Ticket:
        """Queue ``row``; under durable mode return only after its commit.

        ``alone``: the caller is the only one producing rows right now; with inline commits and an idle
        writer, the row is committed here, sparing two task switches (a group of one).
        """
        self.check()
        ticket = Ticket(row)
        if alone and self.durable and self.inline and not self._busy and self.pending == 0:
            self.pending += 1
            await self._commit([ticket])
            await anyio.lowlevel.checkpoint()
            return await self._finish(ticket)
        self.pending += 1
        try:
            await self._send.send(ticket)
        except BaseException:
            self.pending -= 1
            raise
        if self.durable:
            with anyio.CancelScope(shield=True):  # a cancelled caller's row still commits ...
                await ticket.wait()
            await anyio.lowlevel.checkpoint_if_cancelled()  # ... and then the caller sees its cancellation
        return ticket

    async def _finish(self, ticket: Ticket) -> Ticket:
        await ticket.wait()
        return ticket

    async def committed_id(self, ticket: Ticket) -> int | None:
        """The id of a queued episode, flushing the writer rather than waiting out the deferral."""
        if not ticket.done.is_set():
            await self.flush()
        return await ticket.wait()

    async def flush(self) -> None:
        """Return once every episode queued before the call is committed."""
        self.check()
        marker = Ticket(None)
        await self._send.send(marker)
        await marker.wait()

    async def close(self) -> None:
        """Commit everything queued and stop the writer. Call from a shielded scope."""
        await self._send.aclose()
        await self.stopped.wait()

    async def run_writer(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        try:
            async with self._receive:
                while True:
                    try:
                        first = await self._receive.receive()
                    except anyio.EndOfStream:
                        return
                    batch = [first]
                    ended = False
                    if not self.durable and first.row is not None:
                        with anyio.move_on_after(self.flush_interval_s):
                            while len(batch) < self.max_batch and batch[-1].row is not None:
                                try:
                                    batch.append(await self._receive.receive())
                                except anyio.EndOfStream:  # closing: commit what we hold, then stop
                                    ended = True
                                    break
                    while not ended and len(batch) < self.max_batch:
                        try:
                            batch.append(self._receive.receive_nowait())
                        except (anyio.WouldBlock, anyio.EndOfStream):
                            break
                    self._busy = True
                    try:
                        with anyio.CancelScope(shield=True):
                            await self._commit(batch)
                    finally:
                        self._busy = False
                    if ended:
                        return
        except anyio.EndOfStream:
            return
        finally:
            self.stopped.set()

    async def _commit(self, batch: list[Ticket]) -> None:
        rows = [t.row for t in batch if t.row is not None]
        if rows and self.failure is None:
            try:
                if self.inline:
                    ids = self.rows.commit(rows)
                else:
                    ids = await anyio.to_thread.run_sync(self.rows.commit, rows, limiter=self._limiter)
            except Exception as exc:  # reaches every waiting caller, and every later call
                self.failure = exc
            else:
                it = iter(ids)
                for t in batch:
                    if t.row is not None:
                        t.id = next(it)
                        t.row = None  # the payload is stored; drop it
                self.committed += len(rows)
                self.commits += 1
                self._index_wanted.set()
        for t in batch:
            if t.id is None and t.error is None and (t.row is not None or self.failure is not None):
                t.error = self.failure
            t.done.set()
        self.pending -= len(rows)

    async def run_indexer(
        self, *, interval_s: float = 0.05, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Catch the HNSW index up with committed rows, at most every ``interval_s``."""
        task_status.started()
        episodic = self.rows.memory.episodic
        while True:
            await self._index_wanted.wait()
            self._index_wanted = anyio.Event()
            try:
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(episodic.sync, limiter=self._limiter)
            except Exception as exc:
                self.failure = exc
                return
            await anyio.sleep(interval_s)


def episode(
    features: np.ndarray, feeds: dict[str, np.ndarray], output: np.ndarray, route: str, conf: float
) -> NewEpisode:
    """The episode of one answer: features as the vector, the (first) input and the score output."""
    x = next(iter(feeds.values()))
    return NewEpisode(
        vector=features, input=x, output=output, route=route, confidence=conf if math.isfinite(conf) else None
    )
