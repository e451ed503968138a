"""The agent's options and the frozen records it returns: AgentConfig, Thought, statistics, SleepReport."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import numpy as np

from engine.errors import InvalidInputError

from .consolidation_steps import ImportanceWeights
from .learning import LearningConfig

Route = Literal["cache", "system1", "system2"]
ROUTES: tuple[Route, ...] = ("cache", "system1", "system2")
Durability = Literal["durable", "deferred"]
ConfidenceMeasure = Literal["max_probability", "margin", "entropy"]
System1Refresh = Literal["distill", "ternarize", "off"]
SleepWorker = Literal["process", "thread"]


@dataclass(frozen=True, kw_only=True)
class AgentConfig:
    """How an :class:`~cognition.agent.Agent` routes, stores and runs. Every field has a measured default.

    Durability:
        durability: ``"durable"`` (default): ``infer`` returns once its episode row is committed (concurrent
            calls share one commit), so a killed process loses no episode whose Thought was returned.
            ``"deferred"``: ``infer`` returns at once and the writer commits within ``flush_interval_s``; a
            killed process loses at most the episodes returned in the last ``flush_interval_s`` plus one
            commit; ``await agent.flush()`` closes the window. ``Thought.episode_id`` is then None
            (``feedback(thought)`` still works: it waits for the commit).
        flush_interval_s: deferred mode: the longest an episode waits before its commit starts.
        max_batch: episodes per transaction at most. write_queue: the writer channel's capacity (callers
            wait when it is full: back-pressure, not unbounded memory).
        commit_inline: commit on the event loop (~30 µs for one row, no worker-thread hop; a commit that
            would wait for another thread's or process's write lock goes to a worker thread instead); False
            always commits in a worker thread. Deferred batches of an agent whose models both run off the
            loop (slower than ``inline_max_s``) commit in a worker thread whatever this says.
    Routing (the HRM):
        confidence: System 1's confidence measure: ``"max_probability"``, ``"margin"`` (top-1 minus top-2)
            or ``"entropy"`` (1 - normalized entropy).
        initial_threshold: escalate to System 2 below this confidence until feedback calibrates it.
        system1_target_accuracy: calibration picks the lowest threshold at which System 1's accuracy on
            the inputs it keeps (from labelled feedback) is at least this.
        calibration_min_feedback: labelled System 1 outcomes needed before the threshold moves;
            calibration_window: how many recent outcomes it uses.
        novelty_quantile / complexity_quantile: an input is novel (complex) when its distance to the nearest
            stored episodes (its input entropy score) lies above this running quantile of those seen so far;
            both route to System 2. quantile_window: values the running quantiles keep; quantile_warmup:
            observations before they may trigger. novelty_k: nearest episodes averaged. novelty_window:
            recent episode vectors kept in process for the novelty search.
        cache_size: exact response cache entries (LRU by input digest), 0 disables it.
        near_duplicate_similarity: before escalating, reuse a System 2 answer in working memory whose
            feature vector has at least this cosine similarity; None disables it.
        budget_s: default time budget per ``infer`` (None: no budget); see ``Agent.infer``.
    Execution:
        inline_max_s: models whose warm run takes at most this run on the event loop (a worker-thread hop
            costs ~55 µs, more than a tiny MLP); slower ones run in worker threads.
        inline_alone_max_s: while only one ``infer`` is in flight, models whose warm run takes at most this
            (default 0.1 s) also run on the event loop, in slices of ``inline_slice_s`` between graph nodes with
            a checkpoint between slices, so the loop serves its other tasks at least that often (plus one node);
            for a model of 2 ms or more the input is hashed and stored by a worker thread meanwhile. On a
            virtual machine a worker-thread round trip costs 0.6-0.8 ms (an idle thread's vCPU halts and wakes
            late; docs/agent.md), 10% of a 6 ms model; beyond 0.1 s it is under 1%. 0 turns it off: every
            model slower than ``inline_max_s`` then runs in worker threads. Concurrent calls always use them.
        inline_slice_s: how long a lone call's run may hold the event loop between two checkpoints (0.02 s;
            a checkpoint between two kernels costs ~15 µs warm and up to ~90 µs cold here, so shorter slices
            cost the call ~1% per 5 ms of slice). A stream of lone calls on the loop yields at least every
            1 ms, or this if shorter (each call is a cancel point; a yield costs ~11 µs, a tenth of a tiny
            model's call, so a tiny model's calls yield about one in ten).
        threads: worker threads for inference (default: the number of cores).
        output: the output holding class scores or probabilities (default: the model's last output).
        feature_dim: size of the fixed random projection used when no penultimate activations exist.
        vector_dim: episode vectors (stored, indexed, searched for novelty and ``recall``) wider than this
            go through a fixed random projection to this size.
        seed: seeds the random projection.
    Learning (docs/sleep.md):
        learn: False freezes the weights (feedback only records labels and calibrates the HRM).
        learning: a :class:`~cognition.learning.LearningConfig`: strategy (default ``"replay_online_ewc"``),
            fast/slow learning rates, EWC λ and γ, epochs per sleep.
    Sleep (each trigger None: off; ``await agent.sleep()`` always works):
        sleep_every_episodes: sleep after this many new episodes. sleep_interval_s: sleep this often.
        sleep_idle_s: sleep once ``infer`` has not been called for this long (once per idle spell, and only
            when episodes arrived since the last sleep).
        episode_capacity: forgetting keeps at most this many episodes (None: keep all); only consolidated
            episodes are forgotten, least important first, so a sleep that consolidates fewer than the excess
            leaves more until the next one.
        sleep_batch: new episodes one sleep scores, replays and consolidates at most (the oldest first).
        replay_per_class: stored (consolidated) episodes replayed per label, chosen by importance
            (prioritized, ``replay_alpha``: 0 uniform, 1 proportional).
        importance: the weights of recency, frequency, novelty, surprise and reward.
        system1_refresh: after replay, ``"distill"`` trains the ternary System 1 on replayed inputs against
            System 2 (straight-through estimator, ``distill_epochs``); ``"ternarize"`` only ternarizes the new
            weights; ``"off"`` leaves System 1 alone. A refreshed System 1 replaces the running one only when
            it agrees with System 2 on the replayed inputs at least as often.
        concept_min_size: clusters smaller than this make no concept. hebbian_rate: strengthening of
            concepts active in the same sleep; relation_decay: every relation weight is multiplied by this
            each sleep (weights below 0.01 are pruned).
        dream: synthetic episodes (perturbed or interpolated replays) added to replay, as a share of it.
        sleep_worker: where a sleep's array work (importance, replay training, distillation, k-means) runs:
            ``"process"`` (a worker process: it does not hold the GIL the event loop needs, so ``infer`` keeps
            its latency during a sleep) or ``"thread"`` (the sleep's worker thread: no process to start).
        sleep_niceness: the worker process's CPU niceness (0-19): above 0 the OS gives a busy core to
            ``infer`` first, but a sleep then gets little CPU while ``infer`` runs flat out and may not keep up
            with ``sleep_every_episodes`` (the soak test got 2 sleeps of 20 at 5 or 10; docs/sleep.md).
    """

    durability: Durability = "durable"
    flush_interval_s: float = 0.05
    max_batch: int = 512
    write_queue: int = 4096
    commit_inline: bool = True
    confidence: ConfidenceMeasure = "max_probability"
    initial_threshold: float = 0.9
    system1_target_accuracy: float = 0.99
    calibration_min_feedback: int = 50
    calibration_window: int = 2000
    novelty_quantile: float = 0.99
    complexity_quantile: float = 0.995
    quantile_window: int = 2048
    quantile_warmup: int = 100
    novelty_k: int = 1
    novelty_window: int = 1024
    cache_size: int = 1024
    near_duplicate_similarity: float | None = 0.999
    budget_s: float | None = None
    inline_max_s: float = 0.0005
    inline_alone_max_s: float = 0.1
    inline_slice_s: float = 0.02
    threads: int | None = None
    output: str | None = None
    feature_dim: int = 64
    vector_dim: int = 128
    seed: int = 0
    learn: bool = True
    # A gentler first fast-weight step than the Learner's own default (0.1): on the digits stream, 0.1 moved
    # System 2 enough to cost 1.6 points of the cascade's accuracy on inputs it already knew; 0.01 costs none.
    learning: LearningConfig = field(default_factory=lambda: LearningConfig(fast_lr=0.01))
    sleep_every_episodes: int | None = None
    sleep_interval_s: float | None = None
    sleep_idle_s: float | None = None
    episode_capacity: int | None = None
    sleep_batch: int = 2048
    replay_per_class: int = 20
    replay_alpha: float = 0.6
    importance: ImportanceWeights = field(default_factory=ImportanceWeights)
    system1_refresh: System1Refresh = "distill"
    distill_epochs: int = 10
    concept_min_size: int = 3
    hebbian_rate: float = 0.1
    relation_decay: float = 0.95
    dream: float = 0.0
    sleep_worker: SleepWorker = "process"
    sleep_niceness: int = 0

    def __post_init__(self) -> None:
        def bad(name: str, want: str) -> InvalidInputError:
            return InvalidInputError(f"AgentConfig.{name} must be {want}, got {getattr(self, name)!r}")

        if self.durability not in ("durable", "deferred"):
            raise bad("durability", "'durable' or 'deferred'")
        if self.confidence not in ("max_probability", "margin", "entropy"):
            raise bad("confidence", "'max_probability', 'margin' or 'entropy'")
        for name in (
            "max_batch",
            "write_queue",
            "calibration_min_feedback",
            "calibration_window",
            "quantile_window",
            "novelty_k",
            "novelty_window",
            "feature_dim",
            "vector_dim",
            "sleep_batch",
            "replay_per_class",
            "concept_min_size",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise bad(name, "a positive int")
        for name in ("quantile_warmup", "cache_size", "seed", "distill_epochs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise bad(name, "an int >= 0")
        for name in (
            "initial_threshold",
            "system1_target_accuracy",
            "novelty_quantile",
            "complexity_quantile",
        ):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
                raise bad(name, "a number in [0, 1]")
        for name in ("flush_interval_s", "inline_max_s", "inline_alone_max_s"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise bad(name, "a finite number >= 0")
        if not (
            isinstance(self.inline_slice_s, int | float)
            and math.isfinite(self.inline_slice_s)
            and self.inline_slice_s > 0
        ):
            raise bad("inline_slice_s", "a finite number > 0")
        for name in ("sleep_every_episodes", "episode_capacity"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise bad(name, "None or a positive int")
        if self.sleep_worker not in ("process", "thread"):
            raise bad("sleep_worker", "'process' or 'thread'")
        if isinstance(self.sleep_niceness, bool) or not isinstance(self.sleep_niceness, int) or not (
            0 <= self.sleep_niceness <= 19
        ):
            raise bad("sleep_niceness", "an int from 0 to 19")
        if self.system1_refresh not in ("distill", "ternarize", "off"):
            raise bad("system1_refresh", "'distill', 'ternarize' or 'off'")
        if not isinstance(self.learning, LearningConfig):
            raise bad("learning", "a cognition.learning.LearningConfig")
        if not isinstance(self.importance, ImportanceWeights):
            raise bad("importance", "a cognition.consolidation_steps.ImportanceWeights")
        for name in ("replay_alpha", "hebbian_rate", "relation_decay"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
                raise bad(name, "a number in [0, 1]")
        if not isinstance(self.dream, int | float) or not 0.0 <= self.dream <= 10.0:
            raise bad("dream", "a number in [0, 10]")
        if not isinstance(self.learn, bool):
            raise bad("learn", "a bool")
        for name in ("budget_s", "sleep_interval_s", "sleep_idle_s"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int | float) or not value > 0):
                raise bad(name, "None or a number > 0")
        if self.near_duplicate_similarity is not None and not -1.0 <= self.near_duplicate_similarity <= 1.0:
            raise bad("near_duplicate_similarity", "None or a number in [-1, 1]")
        if not isinstance(self.commit_inline, bool):
            raise bad("commit_inline", "a bool")
        if self.threads is not None and (not isinstance(self.threads, int) or self.threads < 1):
            raise bad("threads", "None or a positive int")


def check_arguments(model: Any, memory: Any, config: Any) -> AgentConfig:
    """The config an :class:`~cognition.agent.Agent` runs with, once its constructor's arguments are checked;
    InvalidInputError naming the bad one."""
    if config is not None and not isinstance(config, AgentConfig):
        raise InvalidInputError(f"config must be an AgentConfig, got {type(config).__name__}")
    if model is None:
        raise InvalidInputError("model is required: a path, bytes, ModelProto, ir.Graph or InferenceSession")
    if memory is not None and not isinstance(memory, str | os.PathLike):
        raise InvalidInputError(f"memory must be a path, an SQLite URL or ':memory:', got {type(memory).__name__}")
    return config or AgentConfig()


@dataclass(frozen=True)
class Thought:
    """The answer to one ``infer`` call.

    ``output`` is the model's score output for the input (probabilities, or logits when the model has no
    probability output), ``prediction`` its argmax, ``route`` where the answer came from (``"cache"``,
    ``"system1"``, ``"system2"``), ``confidence`` the configured confidence measure of that answer,
    ``latency_s`` the time inside ``infer`` (durable commit included), ``episode_id`` the stored episode
    (None under deferred durability), ``reason`` why the HRM chose the route, ``novelty`` and
    ``complexity`` the running-quantile ranks (0..1) the HRM saw.
    """

    output: np.ndarray
    route: Route
    confidence: float
    latency_s: float
    episode_id: int | None
    prediction: int = -1
    reason: str = ""
    novelty: float = 0.0
    complexity: float = 0.0
    ticket: Any = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class LatencySummary:
    """Percentiles of ``infer`` latency over the most recent calls (seconds)."""

    count: int
    p50_s: float
    p95_s: float
    p99_s: float


@dataclass(frozen=True)
class AgentStatistics:
    """A snapshot of what the agent did (``agent.statistics()``)."""

    routes: Mapping[str, int]
    latency: Mapping[str, LatencySummary]
    cache_lookups: int
    cache_hits: int
    near_duplicate_hits: int
    cache_hit_rate: float
    escalations: int
    budget_limited: int
    threshold: float
    feedback: int
    system1: str
    system2: str
    inline: bool
    episodes_stored: int  #: committed by this agent
    #: in the memory as this agent knows it: those there when it opened, plus its own, minus those its sleeps
    #: forgot (another process's writes to the same file are not counted; ``memory.episodic.count()`` is)
    episodes_total: int
    pending_writes: int
    commits: int
    working_memory: int
    novelty_window: int
    memory_path: Path | None
    durability: str
    sleeps: int
    learning: str = ""  #: what learns ("off", or the head's parameters and the strategy)
    fast_updates: int = 0  #: feedback steps applied to the fast weights
    last_sleep: SleepReport | None = None

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class SleepReport:
    """What one sleep did (``await agent.sleep()``, or a scheduled one: ``statistics().last_sleep``).

    ``steps`` names the steps that ran, in order, and ``step_s`` their durations. Fields of a step that did
    not run keep their zero / None defaults.

    - flush + index: ``episodes`` stored after the sleep, ``indexed``.
    - importance: ``scored`` new episodes got an importance (recency, frequency, novelty, surprise, reward),
      ``mean_importance`` over them.
    - replay: ``learned`` labelled new episodes and ``replayed`` stored ones (prioritized, class-balanced)
      trained the slow weights under ``strategy``; ``dreamed`` synthetic ones were mixed in; ``loss`` is the
      last epoch's data loss, ``penalty`` the EWC penalty after it; ``fisher`` says the Fisher estimate and
      anchor moved.
    - system1: ``system1_agreement_before`` / ``_after``: share of replayed inputs where System 1's top class
      equals System 2's (with the new weights) before and after the refresh; ``system1_updated`` whether the
      refreshed System 1 replaced the running one.
    - concepts: ``concepts`` made or updated from clusters of episode vectors, ``relations`` written
      (follows, same_label, similar, associated), ``relations_pruned`` by decay.
    - forget: ``forgotten`` episodes (consolidated, least important) to stay within the capacity.
    - consolidate: ``consolidated`` episodes marked consolidated.
    """

    episodes: int
    indexed: bool
    duration_s: float
    steps: tuple[str, ...] = ()
    reason: str = "called"
    step_s: Mapping[str, float] = field(default_factory=dict)
    scored: int = 0
    mean_importance: float = 0.0
    learned: int = 0
    replayed: int = 0
    dreamed: int = 0
    strategy: str = ""
    loss: float | None = None
    penalty: float | None = None
    fisher: bool = False
    system1_agreement_before: float | None = None
    system1_agreement_after: float | None = None
    system1_updated: bool = False
    concepts: int = 0
    relations: int = 0
    relations_pruned: int = 0
    forgotten: int = 0
    consolidated: int = 0
