"""The sleep engine: what a sleep does (:class:`SleepEngine`); when it runs is :mod:`cognition.sleep_scheduler`.

A sleep runs in the agent's task group beside inference. Its database work runs in one worker thread at a time
(a limiter of one); its array work (importance, replay training, distillation, k-means:
:mod:`cognition.sleep_worker`) in a worker process (``AgentConfig.sleep_worker``), so that it does not hold
the GIL the event loop needs; the event loop only swaps results in (the learner's new slow weights, a
refreshed System 1 session), so ``infer`` keeps answering at its usual pace while the agent sleeps. Steps, in
order, each reported in the :class:`~cognition.config.SleepReport`:

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
6. **consolidate**: the batch is marked consolidated (one transaction, with its importance).
7. **forget**: while more than ``episode_capacity`` episodes remain, the least important consolidated
   ones are forgotten (row and index point together).
8. **save**: the index is written beside the database.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.to_process
import anyio.to_thread
import numpy as np

import memory_store
from memory_store import Consolidation, Episode

from . import sleep_worker
from .adaptation import Adaptation
from .concept_graph import MAX_CONCEPTS, write_concepts
from .config import AgentConfig, SleepReport
from .consolidation_steps import Concept, Relation, class_balanced_sample, select_forgetting
from .sleep_scheduler import SleepScheduler

_FORGET_CHUNK = 10_000


@dataclass
class _Batch:
    """The new episodes one sleep works on, oldest first."""

    episodes: list[Episode]
    vectors: np.ndarray
    importance: np.ndarray
    labels: np.ndarray  # -1: no label (nor a positive reward)
    raw: list[Any] = field(default_factory=list)


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
        self.last: SleepReport | None = None
        self.running = False
        #: where the array work runs: "process", "thread", or "thread (why the process failed)"
        self.worker: str = config.sleep_worker

    async def _thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await anyio.to_thread.run_sync(fn, *args, limiter=self._limiter)

    async def _compute(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Array work (a :mod:`cognition.sleep_worker` function) in the worker process, or the thread.
        Cancelling the sleep kills the process; nothing it computed has been installed by then. A worker
        that cannot start (it imports the parent's ``__main__``, like multiprocessing's spawn: a script
        without an ``if __name__ == "__main__"`` guard fails there) or dies sends this and every later
        call of this engine to the thread (:attr:`worker` says where the work runs)."""
        if self.worker == "process":
            try:
                return await anyio.to_process.run_sync(fn, *args, cancellable=True, limiter=self._limiter)
            except anyio.BrokenWorkerProcess as exc:
                self.worker = f"thread (the worker process failed: {exc!r})"
        return await self._thread(fn, *args)

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
            loaded = await self._thread(self._load)
            if loaded is None:
                break
            episodes, vectors, scoring, labels, raw = loaded
            importance = await self._compute(sleep_worker.score, *scoring)
            batch = _Batch(episodes, vectors, importance, labels, raw)
            _add(fields, scored=len(batch.episodes), importance_sum=float(batch.importance.sum()))
            step("importance")
            if self.adaptation is not None and self.config.learn:
                part: dict[str, Any] = {}
                replayed = await self._replay(batch, part)
                if replayed is not None:  # something was labelled
                    step("replay")
                    if await self._refresh_system1(*replayed, part):
                        step("system1")
                _merge(fields, part)
            found, links, self._rng = await self._compute(
                sleep_worker.concepts, batch.vectors, batch.labels, self._rng, self.config.concept_min_size
            )
            _add(fields, **await self._thread(self._concepts, batch, found, links))
            step("concepts")
            await self._thread(self._mark_consolidated, batch)
            _add(fields, consolidated=len(batch.episodes))
            step("consolidate")
            if len(batch.episodes) < self.config.sleep_batch:
                break
        if "importance_sum" in fields:
            fields["mean_importance"] = fields.pop("importance_sum") / fields["scored"]
        if self.config.episode_capacity is not None:
            fields["forgotten"] = await self._thread(self._forget, self.config.episode_capacity)
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

    def _load(self) -> tuple[list[Episode], np.ndarray, tuple[Any, ...], np.ndarray, list[Any]] | None:
        """The oldest ``sleep_batch`` new episodes: (episodes, vectors, the arguments of
        :func:`sleep_worker.score`, labels, raw inputs); None when there are none."""
        episodes = self.memory.episodic.between(
            consolidation=Consolidation.NEW, limit=self.config.sleep_batch, with_payload=True
        )
        if not episodes:
            return None
        vectors = np.stack([np.asarray(e.vector, np.float32) for e in episodes])
        now = time.time()
        confidence = np.empty(len(episodes))
        labels = np.full(len(episodes), -1, np.int64)
        for i, e in enumerate(episodes):
            predicted = _prediction(e.output)
            confidence[i] = 0.5 if e.confidence is None else e.confidence
            if e.label is not None:
                labels[i] = e.label
                if predicted is not None and predicted != e.label:
                    confidence[i] = 0.0  # a wrong answer: as surprising as it gets
            elif e.reward is not None and e.reward > 0 and predicted is not None:
                labels[i] = predicted  # a rewarded answer teaches itself
        scoring = (
            np.array([now - e.time for e in episodes]),
            np.array([e.access_count for e in episodes]),
            vectors,
            confidence,
            np.array([np.nan if e.reward is None else e.reward for e in episodes]),
            self.config.importance,
        )
        return episodes, vectors, scoring, labels, [e.input for e in episodes]

    # -- replay ------------------------------------------------------------------------------------

    async def _replay(self, batch: _Batch, fields: dict[str, Any]) -> tuple[np.ndarray, np.ndarray] | None:
        """Train a copy of the learner in the worker thread, install it on the loop, persist it. Returns the
        raw inputs replayed and their features (for System 1), or None when nothing was labelled."""
        adaptation = self.adaptation
        assert adaptation is not None
        new = np.flatnonzero(batch.labels >= 0)
        if not len(new):
            return None
        replayed = await self._thread(self._replay_set)
        async with adaptation.lock:
            snapshot, steps_then, fast_then = adaptation.snapshot()

        def inputs() -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
            raw = _stack([batch.raw[i] for i in new])
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

    def _replay_set(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Stored labelled episodes to replay: the most important consolidated ones, class-balanced."""
        per_class = self.config.replay_per_class
        candidates = self.memory.episodic.by_importance(
            Consolidation.CONSOLIDATED, limit=per_class * 64, labelled=True
        )
        if not candidates:
            return None
        labels = np.array([e.label for e in candidates], np.int64)
        priorities = np.array([e.importance for e in candidates])
        chosen = class_balanced_sample(labels, per_class, self._rng, priorities)
        ids = [candidates[i].id for i in chosen]
        stored = self.memory.episodic.get(ids, with_payload=True)
        self.memory.episodic.touch(ids)  # replayed: counts toward frequency
        return _stack([e.input for e in stored]), labels[chosen]

    async def _refresh_system1(self, raw: np.ndarray, features: np.ndarray, fields: dict[str, Any]) -> bool:
        adaptation = self.adaptation
        assert adaptation is not None
        teacher = await self._thread(adaptation.system1_teacher, raw, features)
        if teacher is None:
            return False
        if self.config.system1_refresh == "distill":
            cfg = self.config
            latent = await self._compute(
                sleep_worker.student, adaptation.head, teacher[0], features, adaptation.student,
                cfg.distill_epochs, cfg.seed,
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

    # -- the knowledge graph -----------------------------------------------------------------------

    def _concepts(self, batch: _Batch, found: list[Concept], links: list[Relation]) -> dict[str, int]:
        """Write the clusters found in ``batch`` (:func:`sleep_worker.concepts`) into the knowledge graph."""
        return write_concepts(self.memory.semantic, batch.vectors, found, links, self.config)

    # -- consolidation and forgetting --------------------------------------------------------------

    def _mark_consolidated(self, batch: _Batch) -> None:
        scores = {e.id: float(s) for e, s in zip(batch.episodes, batch.importance, strict=True)}
        self.memory.episodic.set_importance(scores, consolidation=Consolidation.CONSOLIDATED)

    def _forget(self, capacity: int) -> int:
        episodic = self.memory.episodic
        excess = episodic.count() - capacity
        if excess <= 0:
            return 0
        lowest = episodic.by_importance(Consolidation.CONSOLIDATED, limit=excess, lowest_first=True)
        importance = np.array([e.importance for e in lowest])
        chosen = select_forgetting(importance, np.ones(len(lowest), bool), len(lowest) - excess)
        ids = [lowest[i].id for i in chosen]
        for start in range(0, len(ids), _FORGET_CHUNK):
            episodic.forget(ids[start : start + _FORGET_CHUNK])
        return len(ids)


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


def _prediction(output: Any) -> int | None:
    if isinstance(output, np.ndarray) and output.size:
        return int(np.asarray(output).reshape(-1).argmax())
    return None


def _stack(inputs: list[Any]) -> np.ndarray:
    """Stored inputs (each one sample, with or without its batch axis) as one batch."""
    arrays = [np.asarray(x) for x in inputs]
    if all(a.ndim >= 1 and a.shape[0] == 1 for a in arrays):
        return np.concatenate(arrays)
    return np.stack(arrays)


__all__ = ["MAX_CONCEPTS", "SleepEngine", "SleepScheduler"]
