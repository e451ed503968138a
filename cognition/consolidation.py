"""The sleep engine: when the agent sleeps (:class:`SleepScheduler`) and what a sleep does (:class:`SleepEngine`).

A sleep runs in the agent's task group beside inference. Its database work and its numpy run in one worker
thread at a time (a limiter of one); the event loop only swaps results in (the learner's new slow weights,
a refreshed System 1 session), so ``infer`` keeps answering while the agent sleeps. Steps, in order, each
reported in the :class:`~cognition.config.SleepReport`:

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

import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.to_thread
import numpy as np
from anyio.abc import TaskStatus

import memory_store
from memory_store import Consolidation, Episode

from .adaptation import Adaptation
from .config import AgentConfig, SleepReport
from .consolidation_steps import (
    class_balanced_sample,
    discover_concepts,
    dream,
    importance_scores,
    select_forgetting,
)

#: At most this many ``cluster/`` concepts; past it, new clusters merge into the nearest one.
MAX_CONCEPTS = 512
_FORGET_CHUNK = 10_000


class SleepScheduler:
    """Calls ``sleep(reason)`` every ``sleep_every_episodes`` episodes, every ``sleep_interval_s``, and after
    ``sleep_idle_s`` without ``infer`` (once per idle spell with new episodes). Start :meth:`run` in the
    agent's task group; the agent reports episodes with :meth:`episode`. A failed sleep is kept in
    :attr:`failure` (the agent raises it from its next call) and stops the scheduler."""

    def __init__(self, config: AgentConfig, sleep: Callable[[str], Awaitable[Any]]) -> None:
        self.every = config.sleep_every_episodes
        self.interval = config.sleep_interval_s
        self.idle = config.sleep_idle_s
        self._sleep = sleep
        self._since = 0
        self._last_activity = self._last_sleep = time.monotonic()
        self._wake = anyio.Event()
        self.failure: BaseException | None = None

    @property
    def enabled(self) -> bool:
        return self.every is not None or self.interval is not None or self.idle is not None

    def episode(self) -> None:
        """One more episode (called by ``infer``)."""
        self._since += 1
        self._last_activity = time.monotonic()
        if (self.every is not None and self._since >= self.every) or (self.idle is not None and self._since == 1):
            self._wake.set()  # due now, or the idle timer starts

    def starting(self) -> int:
        """A sleep starts (whoever started it): the episodes it will count as handled."""
        return self._since

    def slept(self, handled: int) -> None:
        """A sleep ended; the episodes that arrived while it ran count toward the next one."""
        self._since = max(self._since - handled, 0)
        self._last_sleep = time.monotonic()

    def due(self) -> str | None:
        now = time.monotonic()
        if self.every is not None and self._since >= self.every:
            return "episodes"
        if self.interval is not None and now - self._last_sleep >= self.interval:
            return "interval"
        if self.idle is not None and self._since and now - self._last_activity >= self.idle:
            return "idle"
        return None

    def _timeout(self) -> float:
        now, wait = time.monotonic(), math.inf
        if self.interval is not None:
            wait = min(wait, self._last_sleep + self.interval - now)
        if self.idle is not None and self._since:
            wait = min(wait, self._last_activity + self.idle - now)
        return max(wait, 0.0)

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            with anyio.move_on_after(self._timeout()):
                await self._wake.wait()
            self._wake = anyio.Event()
            reason = self.due()
            if reason is None:
                continue
            try:
                await self._sleep(reason)
            except Exception as exc:  # sticky: the agent's next call raises it
                self.failure = exc
                return


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

    async def _thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await anyio.to_thread.run_sync(fn, *args, limiter=self._limiter)

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
            batch = await self._thread(self._load_and_score)
            if batch is None:
                break
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
            _add(fields, **await self._thread(self._concepts, batch))
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

    def _load_and_score(self) -> _Batch | None:
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
        importance = importance_scores(
            age_s=np.array([now - e.time for e in episodes]),
            accesses=np.array([e.access_count for e in episodes]),
            vectors=vectors,
            confidence=confidence,
            reward=np.array([np.nan if e.reward is None else e.reward for e in episodes]),
            weights=self.config.importance,
        )
        return _Batch(episodes, vectors, importance, labels, [e.input for e in episodes])

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

        def train() -> tuple[Any, np.ndarray, np.ndarray, int]:
            raw_new = _stack([batch.raw[i] for i in new])
            x = adaptation.features(raw_new)
            y = batch.labels[new]
            replay = None
            raw_all = raw_new
            dreamed = 0
            if replayed is not None:
                raw_old, y_old = replayed
                x_old = adaptation.features(raw_old)
                raw_all = np.concatenate([raw_new, raw_old])
                if self.config.dream > 0:
                    n = int(round(self.config.dream * len(y_old)))
                    x_dream, y_dream = dream(x_old, y_old, n, self._rng)
                    x_old, y_old = np.concatenate([x_old, x_dream]), np.concatenate([y_old, y_dream])
                    dreamed = len(y_dream)
                replay = (x_old, y_old)
            stats = adaptation.trained_copy(snapshot, x, y, replay)
            features = x if replay is None else np.concatenate([x, replay[0][: len(raw_all) - len(x)]])
            return stats, raw_all, features, dreamed

        stats, raw_all, features, dreamed = await self._thread(train)
        async with adaptation.lock:
            adaptation.install(snapshot, steps_then, fast_then)
            adaptation.push()
            blobs = adaptation.state_blobs()
        self._weights_changed()
        await self._thread(self.memory.state.put, blobs)
        fields.update(
            learned=len(new),
            replayed=0 if replayed is None else len(replayed[1]),
            dreamed=dreamed,
            strategy=snapshot.config.strategy,
            loss=stats.loss,
            penalty=stats.penalty,
            fisher=snapshot.strategy.penalty != "none",
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
        refresh = await self._thread(adaptation.refresh_system1, raw, features)
        if refresh is None:
            return False
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

    def _concepts(self, batch: _Batch) -> dict[str, int]:
        semantic = self.memory.semantic
        found, links = discover_concepts(
            batch.vectors, batch.labels, self._rng, min_size=self.config.concept_min_size
        )
        if not found:
            return {"concepts": 0, "relations": 0, "relations_pruned": semantic.decay(self.config.relation_decay)}
        existing = semantic.concepts_named("cluster/")
        dim = batch.vectors.shape[1]
        known = [c for c in existing if c.prototype is not None and len(c.prototype) == dim]
        matrix = np.stack([np.asarray(c.prototype, np.float64) for c in known]) if known else np.zeros((0, dim))
        next_n = 1 + max((_number(c.name) for c in existing), default=0)
        names: list[str] = []
        prototypes: list[np.ndarray] = []
        for concept in found:
            members = batch.vectors[concept.members].astype(np.float64)
            radius = float(np.linalg.norm(members - concept.prototype, axis=1).mean())
            if len(matrix):
                d = np.linalg.norm(matrix - concept.prototype, axis=1)
                j = int(d.argmin())
                if d[j] <= 2.0 * radius or len(known) >= MAX_CONCEPTS:
                    names.append(known[j].name)  # the same pattern again: move its prototype toward it
                    prototypes.append(0.8 * matrix[j] + 0.2 * concept.prototype)
                    continue
            names.append(f"cluster/{next_n}")
            next_n += 1
            prototypes.append(np.asarray(concept.prototype))
        unique = dict(zip(names, prototypes, strict=True))  # two clusters matching one concept: the last wins
        ids = dict(zip(unique, semantic.add_concepts(list(unique), list(unique.values())), strict=True))
        cid = [ids[n] for n in names]
        triples: dict[tuple[int, int, str], float] = {}
        for r in links:
            a, b = cid[r.source], cid[r.target]
            if a != b:
                triples[(a, b, r.kind)] = r.weight
        label_names = sorted({f"label/{c.label}" for c in found if c.label is not None})
        label_ids = dict(zip(label_names, semantic.add_concepts(label_names), strict=True)) if label_names else {}
        for i, c in enumerate(found):
            if c.label is not None:
                triples[(cid[i], label_ids[f"label/{c.label}"], "has_label")] = c.purity
        semantic.relate_many((a, b, kind, w) for (a, b, kind), w in triples.items())
        strengthened = 0
        follows: dict[int, tuple[float, int]] = {}
        for r in links:
            if r.kind == "follows" and cid[r.source] != cid[r.target]:
                best = follows.get(r.source)
                if best is None or r.weight > best[0]:
                    follows[r.source] = (r.weight, r.target)
        for source, (_, target) in follows.items():
            semantic.strengthen([cid[source], cid[target]], rate=self.config.hebbian_rate)
            strengthened += 1
        semantic.record_use(sorted(set(cid)))
        pruned = semantic.decay(self.config.relation_decay)
        return {"concepts": len(ids), "relations": len(triples) + strengthened, "relations_pruned": pruned}

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


def _number(name: str) -> int:
    try:
        return int(name.rsplit("/", 1)[1])
    except (IndexError, ValueError):
        return 0
