"""The sleep engine: what a sleep does (:class:`SleepEngine`); when it runs is :mod:`cognition.sleep_scheduler`.

A sleep runs in the agent's task group beside inference. Its reads (of a file: :mod:`memory_store.bulk`) and
its array work (importance, replay training, distillation, k-means, the knowledge-graph plan:
:mod:`cognition.sleep_worker`) run in a worker process (``AgentConfig.sleep_worker``), so that they do not hold
the GIL the event loop needs; its writes, short DB-API transactions, in one worker thread at a time; the
event loop only swaps results in (the learner's new slow weights, a refreshed System 1 session), so
``infer`` keeps answering at its usual pace while the agent sleeps. Steps, in order, each reported in the
:class:`~cognition.config.SleepReport`:

1. **flush + index**: commit pending episodes, catch the HNSW index up.
2. **importance**: the oldest ``sleep_batch`` new episodes are scored (recency, frequency, novelty within
   the batch, surprise = 1 − confidence, or 1 when the answer was wrong, and reward) and the scores written
   back.
3. **replay**: the labelled new episodes (a positive reward labels an episode with its own answer) train the
   slow weights under the configured strategy, mixed with stored episodes replayed by importance
   (class-balanced, ``replay_per_class``) and optional dream episodes; the Fisher estimate and anchor move.
4. **system1**: a ternary System 1 is refreshed from the new weights (distilled on the replayed inputs)
   and kept when it agrees with System 2 at least as well as the running one.
5. **concepts**: k-means clusters of the batch's episode vectors become concepts ``cluster/<n>`` with
   prototypes (merged into the nearest existing concept when it lies within twice the cluster's radius);
   relations from temporal succession (``follows``), shared labels (``same_label``, and ``has_label`` to a
   ``label/<k>`` concept) and similar prototypes (``similar``); Hebbian strengthening of each concept with
   its most frequent successor (``associated``), then every relation decays and faint ones are pruned.
6. **consolidate**: the batch is marked consolidated with its importance (:data:`WRITE_CHUNK` rows per
   transaction).
7. **forget**: while more than ``episode_capacity`` episodes remain, the least important consolidated
   ones are forgotten (row and index point together).
8. **save**: the index is written beside the database.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import numpy as np

import memory_store
from memory_store import Consolidation, bulk

from . import sleep_worker
from .adaptation import Adaptation
from .concept_graph import MAX_CONCEPTS, write_concepts
from .config import AgentConfig, SleepReport
from .episodes import INLINE_LOCK_WAIT_S
from .sleep_scheduler import SleepScheduler
from .sleep_worker import Loaded
from .worker_process import WorkerProcess

#: Rows per write transaction of a sleep (importance, forgetting): each holds the write lock ~0.3 ms, so a
#: durable ``infer`` that commits meanwhile waits at most that long; the event loop runs between chunks.
WRITE_CHUNK = 16
_CONSOLIDATED = int(Consolidation.CONSOLIDATED)


class SleepEngine:
    """Runs the steps of one sleep (module docstring) for an agent's memory and, if it learns, its
    :class:`~cognition.adaptation.Adaptation`."""

    def __init__(
        self,
        memory: memory_store.Memory,
        adaptation: Adaptation | None,
        config: AgentConfig,
        *,
        flush: Callable[[], Awaitable[None]],
        weights_changed: Callable[[], None],
    ) -> None:
        self.memory = memory
        self.adaptation = adaptation
        self.config = config
        self._flush = flush
        self._weights_changed = weights_changed
        self._lock = anyio.Lock()
        self._limiter = anyio.CapacityLimiter(1)
        self._rng = np.random.default_rng(config.seed)
        self.sleeps = 0
        self.forgotten = 0  #: episodes the sleeps forgot, all together (counted per committed chunk)
        self.last: SleepReport | None = None
        self.running = False
        #: where the array work runs: "process", "thread", or "thread (why the process failed)"
        self.worker: str = config.sleep_worker
        self._process = WorkerProcess()

    async def _thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await anyio.to_thread.run_sync(fn, *args, limiter=self._limiter)

    async def _compute(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Array work (a :mod:`cognition.sleep_worker` function) in the worker process, or the thread.
        Cancelling the sleep kills the process; nothing it computed has been installed by then. A worker
        that cannot start or dies sends this and every later call of this engine to the thread
        (:attr:`worker` says where the work runs). The worker never runs the caller's ``__main__``
        (:mod:`cognition.worker_process`)."""
        if self.worker == "process":
            try:
                async with self._limiter:
                    return await self._process.run(sleep_worker.run, self.config.sleep_niceness, fn, *args)
            except anyio.BrokenWorkerProcess as exc:
                self.worker = f"thread (the worker process failed: {exc!r})"
        return await self._thread(fn, *args)

    async def aclose(self) -> None:
        """Stop the worker process (the agent's exit)."""
        await self._process.aclose()

    async def _read(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(source, *args)`` (a :mod:`cognition.sleep_worker` reader of :mod:`memory_store.bulk`): in the
        worker process, on its own connection, when the memory is a file; in the thread when it is in memory
        (one connection, this process's)."""
        source = self.memory.episodic.source
        if isinstance(source, str):
            return await self._compute(fn, source, *args)
        return await self._thread(fn, source, *args)

    async def sleep(self, reason: str = "called") -> SleepReport:
        """One sleep; a sleep asked for while another runs waits for it, then runs."""
        async with self._lock:
            self.running = True
            try:
                report = await self._sleep(reason)
            finally:
                self.running = False
            self.sleeps += 1
            self.last = report
            return report

    async def _sleep(self, reason: str) -> SleepReport:
        start = time.perf_counter()
        times: dict[str, float] = {}
        fields: dict[str, Any] = {}
        mark = time.perf_counter()

        def step(name: str) -> None:
            nonlocal mark
            now = time.perf_counter()
            times[name] = times.get(name, 0.0) + now - mark
            mark = now

        episodic = self.memory.episodic
        await self._flush()
        await self._thread(episodic.sync)
        step("index")
        while True:  # every new episode, ``sleep_batch`` at a time
            batch = await self._load()
            if batch is None:
                break
            _add(fields, scored=len(batch), importance_sum=float(batch.importance.sum()))
            step("importance")
            if self.adaptation is not None and self.config.learn:
                part: dict[str, Any] = {}
                replayed = await self._replay(batch, part)
                if replayed is not None:  # something was labelled
                    step("replay")
                    if await self._refresh_system1(*replayed, part):
                        step("system1")
                _merge(fields, part)
            existing = episodic.source
            if not isinstance(existing, str):  # in memory: read here, plan in the worker
                existing = await self._thread(bulk.concepts_named, existing, "cluster/")
            update, self._rng = await self._compute(
                sleep_worker.concepts,
                batch.vectors,
                batch.labels,
                self._rng,
                self.config.concept_min_size,
                existing,
            )
            _add(fields, **await self._thread(write_concepts, self.memory.semantic, update, self.config))
            step("concepts")
            await self._mark_consolidated(batch)
            _add(fields, consolidated=len(batch))
            step("consolidate")
            if len(batch) < self.config.sleep_batch:
                break
        if "importance_sum" in fields:
            fields["mean_importance"] = fields.pop("importance_sum") / fields["scored"]
        if self.config.episode_capacity is not None:
            fields["forgotten"] = await self._forget(self.config.episode_capacity)
            step("forget")
        await self._thread(episodic.save_index)
        step("save")
        count = await self._thread(episodic.count)
        return SleepReport(
            count,
            True,
            time.perf_counter() - start,
            tuple(times),
            reason=reason,
            step_s=times,
            **fields,
        )

    # -- importance --------------------------------------------------------------------------------

    async def _load(self) -> Loaded | None:
        """The oldest ``sleep_batch`` new episodes, read, decoded and scored in the worker process (rows of an
        in-memory database are read here, then decoded there); None when there are none."""
        episodic, limit = self.memory.episodic, self.config.sleep_batch
        if episodic.dim is None:
            return None
        source: bulk.Source | bulk.Rows = episodic.source
        if callable(source):
            source = await self._thread(source, bulk.NEW_EPISODES, (limit,))
            if not source:
                return None
        loaded: Loaded | None = await self._compute(
            sleep_worker.load, source, limit, episodic.dim, self.config.importance
        )
        return loaded

    # -- replay ------------------------------------------------------------------------------------

    async def _replay(self, batch: Loaded, fields: dict[str, Any]) -> tuple[np.ndarray, np.ndarray] | None:
        """Train a copy of the learner in the worker process, install it on the loop, persist it. Returns the
        raw inputs replayed and their features (for System 1), or None when nothing was labelled."""
        adaptation = self.adaptation
        assert adaptation is not None
        new = np.flatnonzero(batch.labels >= 0)
        if not len(new) or batch.raw is None:
            return None
        # stored labelled episodes to replay: the most important consolidated ones, class-balanced
        stored, self._rng = await self._read(
            sleep_worker.replay_set, _CONSOLIDATED, self.config.replay_per_class, self._rng
        )
        replayed = None
        if stored is not None:
            ids, raw_old, y_old = stored
            await self._thread(self.memory.episodic.touch, ids.tolist())  # replayed: counts toward frequency
            replayed = raw_old, y_old
        async with adaptation.lock:
            snapshot, steps_then, fast_then = adaptation.snapshot()
        raw_new = batch.raw

        def inputs() -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
            raw = raw_new
            x = adaptation.features(raw)
            if replayed is None:
                return raw, x, x, None
            raw_old, y_old = replayed
            x_old = adaptation.features(raw_old)
            return np.concatenate([raw, raw_old]), x, np.concatenate([x, x_old]), (x_old, y_old)

        raw_all, x, features, replay = await self._thread(inputs)
        trained, stats, dreamed, self._rng = await self._compute(
            sleep_worker.train, snapshot, x, batch.labels[new], replay, float(self.config.dream), self._rng
        )
        async with adaptation.lock:
            adaptation.install(trained, steps_then, fast_then)
            adaptation.push()
            blobs = adaptation.state_blobs()
        self._weights_changed()
        await self._thread(self.memory.state.put, blobs)
        fields.update(
            learned=len(new),
            replayed=0 if replayed is None else len(replayed[1]),
            dreamed=dreamed,
            strategy=trained.config.strategy,
            loss=stats.loss,
            penalty=stats.penalty,
            fisher=trained.strategy.penalty != "none",
        )
        return raw_all, features

    async def _refresh_system1(self, raw: np.ndarray, features: np.ndarray, fields: dict[str, Any]) -> bool:
        adaptation = self.adaptation
        assert adaptation is not None
        teacher = await self._thread(adaptation.system1_teacher, raw, features)
        if teacher is None:
            return False
        if self.config.system1_refresh == "distill":
            cfg = self.config
            latent = await self._compute(
                sleep_worker.student,
                adaptation.head,
                teacher[0],
                features,
                adaptation.student,
                cfg.distill_epochs,
                cfg.seed,
            )
        else:
            latent = teacher[0]
        refresh = await self._thread(adaptation.system1_candidate, raw, latent, *teacher[1:])
        fields.update(
            system1_agreement_before=refresh.before,
            system1_agreement_after=refresh.after,
            system1_updated=refresh.accepted,
        )
        if refresh.accepted and refresh.session is not None:
            adaptation.system1.session = refresh.session  # one reference swap between runs
            async with adaptation.lock:
                adaptation.student = refresh.latent
                blobs = adaptation.state_blobs()
            self._weights_changed()
            await self._thread(self.memory.state.put, blobs)
        return True

    # -- consolidation and forgetting --------------------------------------------------------------

    async def _mark_consolidated(self, batch: Loaded) -> None:
        """The batch consolidated with its importance, :data:`WRITE_CHUNK` rows per transaction (the event loop
        commits its episodes in between). A sleep cancelled in the middle leaves the rest new: the next sleep
        takes them again."""
        chunks = [
            dict(
                zip(
                    batch.ids[s : s + WRITE_CHUNK].tolist(), batch.importance[s : s + WRITE_CHUNK].tolist(), strict=True
                )
            )
            for s in range(0, len(batch), WRITE_CHUNK)
        ]
        write = functools.partial(self.memory.episodic.set_importance, consolidation=Consolidation.CONSOLIDATED)
        await self._write_in_turns(write, chunks)

    async def _forget(self, capacity: int) -> int:
        """Forget the least important consolidated episodes down to ``capacity`` (chosen in the worker process;
        deleted :data:`WRITE_CHUNK` at a time, rows and index points together)."""
        episodic = self.memory.episodic
        excess = await self._thread(episodic.count) - capacity
        if excess <= 0:
            return 0
        ids: np.ndarray = await self._read(sleep_worker.forget_set, _CONSOLIDATED, excess)
        chunks = [ids[s : s + WRITE_CHUNK].tolist() for s in range(0, len(ids), WRITE_CHUNK)]

        def forget(chunk: list[int], wait: bool | float = True) -> None:
            episodic.forget(chunk, wait=wait)
            self.forgotten += len(chunk)  # a sleep cancelled later has still forgotten these

        await self._write_in_turns(forget, chunks)
        return len(ids)

    async def _write_in_turns(self, write: Callable[..., Any], chunks: list[Any]) -> None:
        """``write(chunk)`` for each chunk, one small transaction each (~0.1 ms), on the event loop with a
        checkpoint between two, so ``infer`` calls take turns with them. Measured: a worker thread doing the
        same writes slowed ``infer`` 2-3x (P50) while it ran, through GIL hand-offs at every SQLite step, each a
        thread wake-up on this VM; in turns on the loop, ~1.5x and only while a chunk runs. A chunk that would
        wait for another process's lock (or a long one of another thread) goes to the worker thread."""
        for chunk in chunks:
            try:
                write(chunk, wait=INLINE_LOCK_WAIT_S)
            except memory_store.DatabaseBusyError:
                await self._thread(functools.partial(write, chunk))
            await anyio.lowlevel.checkpoint()


def _add(fields: dict[str, Any], **counts: float) -> None:
    for name, value in counts.items():
        fields[name] = fields.get(name, 0) + value


def _merge(fields: dict[str, Any], part: dict[str, Any]) -> None:
    """Fold one batch's replay and System 1 results into the sleep's: counts add up, the first
    agreement-before and the last of everything else stand."""
    for name in ("learned", "replayed", "dreamed"):
        if name in part:
            _add(fields, **{name: part.pop(name)})
    if "system1_agreement_before" in fields:
        part.pop("system1_agreement_before", None)
    fields.update(part)


__all__ = ["MAX_CONCEPTS", "SleepEngine", "SleepScheduler"]
