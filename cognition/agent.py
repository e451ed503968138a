"""The Agent: an async context manager around perception, the HRM, System 1 / System 2 and episodic memory.

Example (trio or asyncio)::

    async with ronn.Agent("model.onnx", memory="agent.db") as agent:
        thought = await agent.infer(x)                 # Thought(output, route, confidence, latency_s, ...)
        await agent.feedback(thought, label=3)
        nearest = await agent.recall(x, k=5)
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import anyio
import anyio.to_thread

import memory_store
from engine.errors import InvalidInputError
from memory_store import StoredInput

from .cascade import Cascade, with_features
from .config import AgentConfig, AgentStatistics, SleepReport, Thought, check_arguments
from .consolidation import SleepEngine, SleepScheduler
from .episodes import LONE_YIELD_S, EpisodeWriter, encode_episode
from .errors import AgentNotRunningError, BackgroundTaskError, only_exception
from .feedback import Feedback, open_learning, save_learning
from .input_job import InputJob, InputThread
from .models import Models, build_models, project_as_memory
from .perception import Percept
from .route_log import RouteLog
from .router import HRM
from .systems import Answer, System1, fingerprint
from .vectors import VectorWindow

#: a lone call on a model at least this slow builds its percept and stores its input while the model runs
OVERLAP_MIN_S = 0.002


class Agent:
    """An async cognitive agent around an ONNX model.

    Args:
        model: System 2, the full-precision model: a path, bytes, ``onnx.ModelProto``, ``engine.ir.Graph`` or
            an :class:`~engine.session.InferenceSession`.
        memory: the episodic store: a database path or ``sqlite:///`` URL, ``":memory:"`` (nothing persists;
            tests), or None for ``memory.db`` in the user data folder (:func:`memory_store.default_path`).
        fast_model: System 1's model (same input and score output as ``model``); default: ``model``
            ternarized by :func:`engine.quantize.ternarize` (post-training, so weaker than a model trained
            for ternary weights; ``statistics().system1`` says what runs).
        config: an :class:`AgentConfig`.

    Use it as ``async with Agent(...) as agent``: entering loads the models, opens the memory (migrations,
    index) and starts the background tasks (episode writer, indexer, sleep scheduler) in the agent's own task
    group; leaving commits every pending episode, stops them and saves the index. Runs under trio and asyncio.

    Raises:
        ModelError / UnsupportedOperatorError: a model cannot be loaded (on entering).
        InvalidInputError: a bad config or ``fast_model`` whose inputs differ from the model's.
    """

    def __init__(
        self,
        model: Any,
        *,
        memory: str | Path | None = None,
        fast_model: Any = None,
        config: AgentConfig | None = None,
    ) -> None:
        self.config = check_arguments(model, memory, config)
        self._model = model
        self._fast_model = fast_model
        self._memory_arg = memory
        self._running = False
        self._closed = False

    # -- lifetime ----------------------------------------------------------------------------------

    async def __aenter__(self) -> Agent:
        if self._running or self._closed:
            raise AgentNotRunningError("an Agent is entered once; make a new one to run again")
        cfg = self.config
        self._limiter = anyio.CapacityLimiter(cfg.threads or os.cpu_count() or 1)
        self._models: Models = await anyio.to_thread.run_sync(build_models, self._model, self._fast_model, cfg)
        models = self._models
        for runner in (models.system1, models.system2):
            runner.limiter = self._limiter
        dim = min(models.feature_dim, cfg.vector_dim)  # the episode vectors' (Projection.dim)
        self.memory = await anyio.to_thread.run_sync(
            lambda: memory_store.open_memory(self._memory_arg, dim=dim, working_capacity=64, autocheckpoint=0)
        )
        try:
            self._projection = await anyio.to_thread.run_sync(project_as_memory, models, self.memory, cfg)
            recent = await anyio.to_thread.run_sync(self.memory.episodic.recent_vectors, cfg.novelty_window)
            self._episodes_before = await self.memory.aio.episodic.count()
        except BaseException:
            await anyio.to_thread.run_sync(self.memory.close)
            raise
        self._hrm = HRM(cfg)
        self._hrm.system1_latency.add(models.system1_probe_s)
        self._hrm.system2_latency.add(models.system2_probe_s)
        self._system1 = System1(
            models.system1,
            self.memory.working,
            cache_size=cfg.cache_size,
            near_duplicate=cfg.near_duplicate_similarity,
        )
        self._window = VectorWindow(cfg.novelty_window, dim, cfg.novelty_k)
        for vector in recent:  # oldest first
            self._window.add(vector)
        self._writer = EpisodeWriter(
            self.memory.episodic,
            durable=cfg.durability == "durable",
            flush_interval_s=cfg.flush_interval_s,
            max_batch=cfg.max_batch,
            queue=cfg.write_queue,
            inline=cfg.commit_inline,
            checkpoint=self.memory.db.checkpoint,
            yield_every_s=min(cfg.inline_slice_s, LONE_YIELD_S),
            deferred_in_thread=not (models.system1.inline or models.system2.inline),
        )
        self._adaptation, self._learning = await open_learning(self._model, models, self.memory, cfg)
        self._sleeper = SleepEngine(
            self.memory,
            self._adaptation,
            cfg,
            flush=self._writer.flush,
            weights_changed=self._system1.clear,
        )
        self._scheduler = SleepScheduler(cfg, self._scheduled_sleep)
        self._log = RouteLog()
        self._feedback = Feedback(
            self.memory,
            self._writer,
            self._hrm,
            self._system1,
            self._adaptation,
            self._limiter,
            classes=models.system2.classes,
        )
        self._cascade = Cascade(self._hrm, self._system1, models, self._window, self._projection)
        self._active = 0
        # one thread for lone calls' input jobs (cognition/input_job.py); they do not overlap each other
        self._input_thread = InputThread()
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        try:
            await self._tg.start(self._writer.run_writer)
            await self._tg.start(self._writer.run_indexer)
            if self._scheduler.enabled:
                await self._tg.start(self._scheduler.run)
        except BaseException as exc:
            self._tg.cancel_scope.cancel()
            try:
                await self._tg.__aexit__(type(exc), exc, exc.__traceback__)
            except BaseExceptionGroup as group:
                if only_exception(group) is not exc:
                    raise
            finally:
                await anyio.to_thread.run_sync(self._close_memory)
                self._input_thread.close()
            raise
        self._running = True
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        self._running = False
        self._closed = True
        try:
            with anyio.CancelScope(shield=True):
                await self._writer.close()  # commits every queued episode
        finally:
            self._tg.cancel_scope.cancel()
            try:
                suppress = await self._tg.__aexit__(exc_type, exc, tb)
            except BaseExceptionGroup as group:  # the task group is ours: what the body raised comes out as it was
                single = only_exception(group)
                if single is None:
                    raise
                raise single from single.__cause__
            finally:
                with anyio.CancelScope(shield=True):
                    try:
                        await save_learning(self._adaptation, self.memory)  # fast weights since the last sleep
                    finally:
                        # an input job of a cancelled call may still be storing: let it finish first
                        await anyio.to_thread.run_sync(self._input_thread.close)
                        try:
                            await self._sleeper.aclose()
                        finally:
                            await anyio.to_thread.run_sync(self._close_memory)
        if exc is None:
            self._writer.check()  # a deferred commit that failed must not pass silently
        return suppress

    def _close_memory(self) -> None:
        try:
            self.memory.episodic.sync()  # index every committed row, then save it beside the database
        finally:
            self.memory.close()

    async def _scheduled_sleep(self, reason: str) -> SleepReport:
        handled = self._scheduler.starting()
        try:
            return await self._sleeper.sleep(reason)
        finally:
            self._scheduler.slept(handled)

    # -- the cycle ---------------------------------------------------------------------------------

    async def infer(self, x: Any, *, budget_s: float | None = None) -> Thought:
        """Perceive ``x`` (one sample), route it, answer, and store the episode.

        ``budget_s`` (default ``config.budget_s``): the HRM skips System 2 when the latencies it has observed
        say it would not fit what is left of the budget, and says so in ``Thought.reason``; when nothing
        fits, the cheapest route runs. Under durable mode the call returns once the episode is committed.

        Raises:
            InvalidInputError: ``x`` does not match the model's input (nothing is stored).
            BackgroundTaskError: the episode writer failed.
        """
        self._require_running()
        self._active += 1
        try:
            return await self._infer(x, budget_s)
        finally:
            self._active -= 1

    async def _infer(self, x: Any, budget_s: float | None) -> Thought:
        start = time.perf_counter()
        perception = self._models.perception
        feeds = perception.check(x)
        budget = self.config.budget_s if budget_s is None else budget_s
        if budget is not None and not (isinstance(budget, int | float) and not isinstance(budget, bool) and budget > 0):
            raise InvalidInputError(f"budget_s must be a number > 0, got {budget!r}")
        cascade, system1 = self._cascade, self._system1
        runner = system1.runner
        alone = self._active == 1
        job: InputJob | None = None
        stored: StoredInput | None = None
        percept: Percept | None = None
        answer: Answer | None = None
        # past inline_max_s, cache entries carry the input's fingerprint: a call whose fingerprint no entry has
        # is not cached, and may start its model before the input is hashed
        input_print = None if runner.inline or not system1.cache_size else fingerprint(next(iter(feeds.values())))
        if (
            runner.in_slices(alone)
            and self._hrm.system1_latency.value >= OVERLAP_MIN_S
            and (input_print is None or not system1.may_hold(input_print))
        ):
            # not cached: digest, statistics and the input's commit on the other core while the model runs
            # a model without penultimate activations: the input's projection is computed there too
            project = runner.input_projection
            # deferred: the input is not committed ahead; the batch's one transaction stores it with its row
            job = InputJob(feeds, self.memory.episodic, store=True, commit=self._writer.durable, project=project)
            job.start(self._input_thread)
        else:
            percept = perception.percept(feeds)
            answer = system1.cached(percept.digest)
        checkpoints = runner.checkpoints
        if answer is None:
            s1, limited = await cascade.run_system1(feeds, alone=alone, budget=budget, input_features=job is None)
        if job is not None:
            percept, stored = await job.result()
            if job.features is not None:
                s1 = with_features(s1, job.features)
        assert percept is not None
        if answer is not None:
            routed = cascade.cached(answer)
        else:
            routed = await cascade.route(
                s1,
                percept,
                feeds,
                remaining=None if budget is None else budget - (time.perf_counter() - start),
                budget=budget,
                limited=limited,
                alone=self._active == 1,
                fingerprint=input_print,
            )
        answer, route = routed.answer, routed.route
        encoded = encode_episode(
            self.memory.episodic, routed.vector, feeds, answer.output, route, answer.confidence, percept.digest, stored
        )
        # a run in slices has passed checkpoints: the commit need not add one; a woken scheduler gets its turn now
        woke = self._scheduler.episode()
        ticket = await self._writer.submit(
            encoded, alone=self._active == 1, checkpoint=runner.checkpoints == checkpoints, yield_now=woke
        )
        key = ticket.id if ticket.id is not None else ticket
        self._feedback.remember(key, routed.system1, next(iter(feeds.values())), percept.digest)
        latency = time.perf_counter() - start
        self._log.record(route, latency)
        return Thought(
            answer.output,
            route,  # type: ignore[arg-type]
            answer.confidence,
            latency,
            ticket.id,
            answer.prediction,
            routed.reason,
            routed.novelty_rank,
            routed.complexity_rank,
            ticket=ticket,
        )

    async def feedback(
        self, thought_or_id: Thought | int, *, label: int | None = None, reward: float | None = None
    ) -> None:
        """Record the outcome of an episode (its true ``label`` and/or a ``reward``) and learn from it.

        A label on an input System 1 answered (or escalated) calibrates the escalation threshold; a reward on
        a System 1 answer counts as correct when positive. When the agent learns (``config.learn``), a label
        (or a positive reward, which confirms the answer given) takes one step of the fast weights at once
        and the next ``infer`` runs the new weights; sleep folds them into the slow weights.

        Raises:
            InvalidInputError: neither label nor reward, or a bad one. UnknownIdError: no such episode.
        """
        self._require_running()
        await self._feedback.give(thought_or_id, label, reward)

    async def recall(self, x: Any, k: int = 5) -> list[memory_store.Episode]:
        """The ``k`` stored episodes nearest to ``x`` (by feature vector), nearest first, with distances."""
        self._require_running()
        percept = self._models.perception.perceive(x)
        cached = self._system1.cached(percept.digest)
        features = cached.features if cached is not None else (await self._system1.runner.run(percept.feeds)).features
        if not self._writer.durable:
            await self._writer.flush()
        return await self.memory.aio.episodic.search(self._projection(features), k)

    async def flush(self) -> None:
        """Return once every episode whose Thought was returned is committed (deferred durability)."""
        self._require_running()
        await self._writer.flush()

    async def sleep(self) -> SleepReport:
        """Sleep now: commit pending episodes, score their importance, replay them into the slow weights,
        refresh System 1, fold clusters into the knowledge graph, forget down to the capacity and save the
        index (docs/sleep.md). Inference goes on meanwhile; a sleep already running is awaited first."""
        self._require_running()
        return await self._scheduled_sleep("called")

    def statistics(self) -> AgentStatistics:
        """Routes taken, latency percentiles per route, cache hit rates, threshold, memory sizes."""
        self._require_started()
        s1 = self._system1
        hits = s1.hits + s1.near_hits
        return AgentStatistics(
            routes=dict(self._log.counts),
            latency=self._log.latency(),
            cache_lookups=s1.lookups,
            cache_hits=s1.hits,
            near_duplicate_hits=s1.near_hits,
            cache_hit_rate=hits / s1.lookups if s1.lookups else 0.0,
            escalations=self._cascade.escalations,
            budget_limited=self._cascade.budget_limited,
            threshold=self._hrm.calibrator.threshold,
            feedback=self._feedback.count,
            system1=self._models.system1.description,
            system2=self._models.system2.description,
            inline=self._models.system2.inline,
            episodes_stored=self._writer.committed,
            episodes_total=self._episodes_before + self._writer.committed - self._sleeper.forgotten,
            pending_writes=self._writer.pending,
            commits=self._writer.commits,
            working_memory=len(self.memory.working),
            novelty_window=len(self._window),
            memory_path=self.memory.path,
            durability=self.config.durability,
            sleeps=self._sleeper.sleeps,
            learning=self._learning,
            fast_updates=0 if self._adaptation is None else self._adaptation.learner.feedback_steps,
            last_sleep=self._sleeper.last,
        )

    def _require_running(self) -> None:
        if not self._running:
            raise AgentNotRunningError("use the agent inside `async with agent:` (it is not running)")
        self._writer.check()
        if self._scheduler.failure is not None:
            raise BackgroundTaskError(
                f"a scheduled sleep failed: {self._scheduler.failure!r}"
            ) from self._scheduler.failure

    def _require_started(self) -> None:
        if not hasattr(self, "_writer"):
            raise AgentNotRunningError("statistics() needs an agent that has been entered")


__all__ = ["Agent", "AgentConfig", "AgentStatistics", "SleepReport", "Thought"]
