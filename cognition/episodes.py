"""The episode writer: a bounded channel into batched, committed transactions, and an indexer behind it.

Episodes are checked and encoded by the caller (:meth:`memory_store.EpisodicMemory.encode`: a bad one
raises there, alone, before anything is queued) and committed in batches by
:meth:`memory_store.EpisodicMemory.commit`, which writes rows only (one DB-API transaction, ~30 µs for one
row); the indexer task catches the HNSW index up with ``memory.episodic.sync()`` behind it (DESIGN.md: the
index point may follow the row).

Durable mode: each ``submit`` waits for the commit of the batch that holds its row; everything that queued
while a commit ran shares the next one. The commit runs on the event loop: when another thread of this process
holds the write lock (a sleep's chunked writes, ~0.1-0.3 ms each) it waits at most ``INLINE_LOCK_WAIT_S`` for
it, blocking the loop that long at most: cheaper than a worker-thread round trip (0.1-0.4 ms here) and the
wait behind the lock on top. When another process holds it, or the wait runs out, the batch is committed in a
worker thread instead.

Deferred mode: ``submit`` puts the row in the channel without a task switch and returns its ticket; the
writer, woken by the first row of a batch, waits out ``flush_interval_s`` (or less: a flush, closing or a full
batch wake it) and commits the batch: a lone caller's rows (and the inputs its jobs encoded but did not commit
ahead) cost it one transaction per interval, not one each. When the models run off the loop's Python
(``deferred_in_thread``) the batch commits in a worker thread, beside the next model run.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import numpy as np
from anyio.abc import TaskStatus

from memory_store import DatabaseBusyError, EncodedEpisode, EpisodicMemory, StoredInput

from .errors import BackgroundTaskError

#: how long an inline commit may block the event loop waiting for another thread's write transaction
INLINE_LOCK_WAIT_S = 0.001
#: an agent's lone calls on the event loop yield at least this often (EpisodeWriter.yield_every_s): tasks that
#: are about to call ``infer`` get in within it, so concurrent callers still share commits and worker threads
LONE_YIELD_S = 0.001


class Ticket:
    """One queued episode: ``id`` once committed; ``finished`` after the commit (or its failure)."""

    __slots__ = ("episode", "id", "error", "finished", "_event")

    def __init__(self, episode: EncodedEpisode | None) -> None:
        self.episode = episode
        self.id: int | None = None
        self.error: BaseException | None = None
        self.finished = False
        self._event: anyio.Event | None = None  # made only when someone waits before the commit

    # a Ticket is a handle on one queued row: copies of a Thought share it, and a pickled one carries only what
    # is known (the id once committed), so feedback on a copy never waits for a commit nobody will finish
    def __copy__(self) -> Ticket:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Ticket:
        return self

    def __reduce__(self) -> tuple[Any, tuple[int | None]]:
        return _detached, (self.id,)

    def finish(self) -> None:
        self.finished = True
        if self._event is not None:
            self._event.set()

    async def wait(self) -> int | None:
        """The committed id (None for a flush marker); BackgroundTaskError if the commit failed."""
        if not self.finished:
            if self._event is None:
                self._event = anyio.Event()
            await self._event.wait()
        self.raise_failure()
        return self.id

    def raise_failure(self) -> None:
        """BackgroundTaskError if the (finished) commit of this episode failed."""
        if self.error is not None:
            raise BackgroundTaskError(f"the episode writer failed: {self.error!r}") from self.error


def _detached(episode_id: int | None) -> Ticket:
    """An unpickled ticket: finished, with the id its original had when it was pickled (None: not yet known)."""
    ticket = Ticket(None)
    ticket.id = episode_id
    ticket.finished = True
    return ticket


class EpisodeWriter:
    """The writer and indexer tasks; start both in the agent's nursery with ``tg.start``."""

    def __init__(
        self,
        episodic: EpisodicMemory,
        *,
        durable: bool,
        flush_interval_s: float,
        max_batch: int,
        queue: int,
        inline: bool,
        index_interval_s: float = 0.25,
        checkpoint: Callable[[], Any] | None = None,
        yield_every_s: float = 0.0,
        deferred_in_thread: bool = False,
    ) -> None:
        self.episodic = episodic
        self.durable = durable
        self.flush_interval_s = flush_interval_s
        self.max_batch = max_batch
        self.inline = inline
        self.index_interval_s = index_interval_s
        #: run after each index catch-up, in the indexer's thread: the WAL checkpoint (the agent turns
        #: SQLite's automatic one off: it ran inside a commit on the event loop, ~5-10 ms)
        self.checkpoint = checkpoint
        #: a lone inline commit yields to the scheduler only once this long has passed since the last time
        #: it did (a yield costs ~11 µs here, a tenth of a tiny model's whole call); in between it is a cancel
        #: point only, so a stream of lone calls holds the event loop at most this long (plus one call)
        self.yield_every_s = yield_every_s
        self._yielded = 0.0
        #: deferred mode: commit batches in a worker thread, off the loop: for models that run off the loop's
        #: Python (in slices or threads; a batch of 110 KB inputs would hold the loop ~1-2 ms), not for models
        #: run inline, whose loop is all Python: there the thread fights it for the GIL (digits MLP: deferred
        #: overhead 43 -> 63-100 µs, bare runs beside it 23 -> 36-60 µs)
        self.deferred_in_thread = deferred_in_thread
        self._send, self._receive = anyio.create_memory_object_stream[Ticket](queue)
        self._limiter = anyio.CapacityLimiter(1)
        self._index_wanted = anyio.Event()
        self._wake = anyio.Event()  # deferred mode: commit the batch now (a flush, closing, a full batch)
        self._flushes = 0  # flush markers queued or being committed
        self._closing = False
        self._busy = False
        self.failure: BaseException | None = None
        self.pending = 0
        self.committed = 0
        self.commits = 0
        self.stopped = anyio.Event()
        #: the commit call (tests replace it to simulate a failing disk)
        self.commit_rows: Callable[..., list[int]] = episodic.commit

    def check(self) -> None:
        """Raise the failure of a background task, if one failed (it is sticky)."""
        if self.failure is not None:
            raise BackgroundTaskError(f"a background task of the agent failed: {self.failure!r}") from self.failure

    async def submit(
        self, episode: EncodedEpisode, *, alone: bool = False, checkpoint: bool = True, yield_now: bool = False
    ) -> Ticket:
        """Queue ``episode``; under durable mode return only after its commit.

        ``alone``: the caller is the only one producing episodes right now; with an idle writer the row is
        committed here, on the event loop (a group of one, without the two task switches through the
        writer), followed by a cancel point, and by a yield to the scheduler when ``yield_every_s`` has passed
        since the last one, unless ``checkpoint`` is False (the caller has just passed several: its model ran
        in slices); ``yield_now``: yield whatever the time (the caller has just woken another task).
        """
        self.check()
        ticket = Ticket(episode)
        if alone and self.durable and self.inline and not self._busy and self.pending == 0:
            self.pending += 1
            self._busy = True
            try:
                if not self._commit_inline([ticket]):  # the lock was taken: a worker thread, shielded
                    with anyio.CancelScope(shield=True):
                        await self._commit([ticket], inline=False)
            finally:
                self._busy = False
            await self._cancel_point(checkpoint, yield_now)  # the row is committed whatever happens
            ticket.raise_failure()  # the commit has finished, here or in a worker thread
            return ticket
        self.pending += 1
        try:
            waited = await self._put(ticket)
        except BaseException:
            self.pending -= 1
            raise
        if self.durable:
            with anyio.CancelScope(shield=True):  # a cancelled caller's row still commits ...
                await ticket.wait()
            await anyio.lowlevel.checkpoint_if_cancelled()  # ... and then the caller sees its cancellation
        elif not waited:  # the row is queued whatever happens
            if alone:
                await self._cancel_point(checkpoint, yield_now)
            else:
                await anyio.lowlevel.checkpoint()
        return ticket

    async def _put(self, ticket: Ticket) -> bool:
        """Put ``ticket`` in the channel; True when that waited (a checkpoint passed). Deferred mode puts it
        without a task switch while the channel has room: the writer is not woken per episode (it waits out
        ``flush_interval_s`` once per batch), only early once a batch is full."""
        if self.durable:
            await self._send.send(ticket)
            return True
        try:
            self._send.send_nowait(ticket)
        except anyio.WouldBlock:  # the channel is full: the writer is behind; wait for room
            self._wake.set()
            await self._send.send(ticket)
            return True
        if self.pending >= self.max_batch:
            self._wake.set()
        return False

    async def _cancel_point(self, checkpoint: bool, yield_now: bool) -> None:
        """After a lone call's episode is committed or queued: a cancel point, and a yield to the scheduler when
        ``yield_every_s`` has passed since the last one or ``yield_now``; nothing when ``checkpoint`` is False
        and not ``yield_now`` (the caller has just passed several)."""
        if checkpoint or yield_now:
            if yield_now or time.perf_counter() - self._yielded >= self.yield_every_s:
                await anyio.lowlevel.checkpoint()
                self._yielded = time.perf_counter()
            else:
                await anyio.lowlevel.checkpoint_if_cancelled()

    async def committed_id(self, ticket: Ticket) -> int | None:
        """The id of a queued episode, flushing the writer rather than waiting out the deferral."""
        if not ticket.finished:
            await self.flush()
        return await ticket.wait()

    async def flush(self) -> None:
        """Return once every episode queued before the call is committed."""
        self.check()
        marker = Ticket(None)
        self._flushes += 1
        try:
            await self._send.send(marker)
            self._wake.set()
            await marker.wait()
        finally:
            self._flushes -= 1

    async def close(self) -> None:
        """Commit everything queued and stop the writer. Call from a shielded scope."""
        self._closing = True
        await self._send.aclose()
        self._wake.set()
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
                    self._wake = anyio.Event()  # (a wake from now on ends the wait below)
                    if not self.durable and first.episode is not None and not self._batch_ready():
                        # deferred: wait out the interval for the whole batch (callers queue without waking
                        # this task); a flush, closing or a full batch ends it early
                        with anyio.move_on_after(self.flush_interval_s):
                            await self._wake.wait()
                    while len(batch) < self.max_batch:
                        try:
                            batch.append(self._receive.receive_nowait())
                        except (anyio.WouldBlock, anyio.EndOfStream):
                            break
                    self._busy = True
                    try:
                        with anyio.CancelScope(shield=True):
                            await self._commit(batch, inline=self.durable or not self.deferred_in_thread)
                    finally:
                        self._busy = False
        except anyio.EndOfStream:
            return
        finally:
            self.stopped.set()

    def _batch_ready(self) -> bool:
        """Deferred mode: commit without waiting out the interval (a flush waits, the writer is closing, or
        a whole batch is queued already)."""
        queued = self._receive.statistics().current_buffer_used + 1
        return self._flushes > 0 or self._closing or queued >= self.max_batch

    def _commit_inline(self, batch: list[Ticket]) -> bool:
        """Commit ``batch`` on the event loop (no await, so no cancellation point); False, with nothing done,
        when another process or a long write of another thread holds the lock."""
        episodes = [t.episode for t in batch if t.episode is not None]
        if not (self.inline and episodes and self.failure is None):
            return False
        ids: list[int] | None
        try:
            ids = self.commit_rows(episodes, wait=INLINE_LOCK_WAIT_S)
        except DatabaseBusyError:
            return False
        except Exception as exc:  # reaches every waiting caller, and every later call
            self.failure = exc
            ids = None
        self._finish(batch, episodes, ids)
        return True

    async def _commit(self, batch: list[Ticket], *, inline: bool = True) -> None:
        """Commit ``batch`` inline when it can (``inline``: try), else in a worker thread."""
        if inline and self._commit_inline(batch):
            return
        episodes = [t.episode for t in batch if t.episode is not None]
        ids: list[int] | None = None
        if episodes and self.failure is None:
            try:
                ids = await anyio.to_thread.run_sync(self.commit_rows, episodes, limiter=self._limiter)
            except Exception as exc:  # reaches every waiting caller, and every later call
                self.failure = exc
        self._finish(batch, episodes, ids)

    def _finish(self, batch: list[Ticket], episodes: list[EncodedEpisode], ids: list[int] | None) -> None:
        if ids is not None:
            it = iter(ids)
            for t in batch:
                if t.episode is not None:
                    t.id = next(it)
                    t.episode = None  # the payload is stored; drop it
            self.committed += len(episodes)
            self.commits += 1
            self._index_wanted.set()
        for t in batch:
            if t.id is None and t.error is None and (t.episode is not None or self.failure is not None):
                t.error = self.failure
            t.finish()
        self.pending -= len(episodes)

    async def run_indexer(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Catch the HNSW index up with committed rows, at most every ``index_interval_s``: in batches, so
        its thread competes with inference for the cores (and the GIL) rarely."""
        task_status.started()
        while True:
            await self._index_wanted.wait()
            self._index_wanted = anyio.Event()
            try:
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(self.episodic.sync, limiter=self._limiter)
                    if self.checkpoint is not None:
                        await anyio.to_thread.run_sync(self.checkpoint, limiter=self._limiter)
            except Exception as exc:
                self.failure = exc
                return
            await anyio.sleep(self.index_interval_s)


def encode_episode(
    episodic: EpisodicMemory,
    vector: np.ndarray,
    feeds: dict[str, np.ndarray],
    output: np.ndarray,
    route: str,
    conf: float,
    digest: bytes | None = None,
    stored: StoredInput | None = None,
) -> EncodedEpisode:
    """The encoded episode of one answer: its vector, the (first) input and the score output. ``digest``: the
    input's ``codec.digest`` when the caller has it (a single-input percept's digest). ``stored``: the input,
    already committed by :meth:`memory_store.EpisodicMemory.store_input` (the row then refers to it).
    Raises as :meth:`memory_store.EpisodicMemory.encode` (a bad vector), before anything is queued."""
    return episodic.encode_fields(
        vector,
        input=next(iter(feeds.values())) if stored is None else stored,
        output=output,
        route=route,
        confidence=conf if math.isfinite(conf) else None,
        input_digest=digest if len(feeds) == 1 else None,
    )
