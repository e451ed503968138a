"""The array work of a sleep, as picklable functions of arrays: run in a worker *process* (the default,
``AgentConfig.sleep_worker = "process"``) or in the sleep's worker thread (``"thread"``).

Why a process: these steps are many small numpy calls (minibatch SGD, distillation, k-means, a 2,048² distance
matrix) that hold the GIL between calls; in a thread they take it from the event loop for up to the switch
interval (5 ms) at a time, which is what made ``infer``'s P95 8× slower during a sleep. In a process they
compete with inference for a core only. Their big temporaries also stay out of the agent's heap.

The reads of a sleep run here too when the memory is a file (:mod:`memory_store.bulk`: the worker opens its own
read connection; under WAL it neither blocks the agent's writer nor waits for it): decoding thousands of rows
is GIL-holding Python that the event loop would otherwise feel. Only the (short, chunked) writes stay in the
agent's process.

Every function takes and returns plain data (arrays, the learner copy, a ``numpy.random.Generator``) so it can
travel to the worker process (:mod:`cognition.worker_process`); a Generator is handed back so that the engine's
random stream advances exactly as it would in a thread.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from memory_store import bulk

from .concept_graph import GraphUpdate, Stored, plan_concepts
from .consolidation_steps import (
    ImportanceWeights,
    class_balanced_sample,
    discover_concepts,
    dream,
    importance_scores,
    select_forgetting,
)
from .distillation import distill
from .gradients import DenseHead, Params
from .learning import ConsolidationStats, Learner

T = TypeVar("T")

_niceness = 0  # what this worker process has added to its niceness so far


def run(niceness: int, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` in the worker process at ``niceness`` (``AgentConfig.sleep_niceness``; raised once, never
    lowered): on a busy machine the OS then gives a core to the agent's event loop first."""
    global _niceness
    if niceness > _niceness:
        try:
            os.nice(niceness - _niceness)
            _niceness = niceness
        except OSError:  # pragma: no cover - not allowed here: run at the same priority
            pass
    return fn(*args)


@dataclass(frozen=True)
class Loaded:
    """The oldest new episodes of a sleep's batch, decoded and scored: ids, vectors and importance in time
    order, labels (-1: none, nor a positive reward) and the stacked raw inputs of the labelled ones."""

    ids: np.ndarray
    vectors: np.ndarray
    importance: np.ndarray
    labels: np.ndarray
    raw: np.ndarray | None

    def __len__(self) -> int:
        return len(self.ids)


def load(
    source: bulk.Source | bulk.Rows, limit: int, dim: int, weights: ImportanceWeights
) -> Loaded | None:
    """The oldest ``limit`` new episodes (read from ``source``, or rows of :data:`memory_store.bulk.NEW_EPISODES`
    read already), decoded and scored (:func:`score`); None when there are none."""
    rows = bulk.decode(source if isinstance(source, list) else bulk.query(source, bulk.NEW_EPISODES, (limit,)), dim)
    if not len(rows):
        return None
    predicted = np.array([_prediction(o) for o in rows.outputs], np.int64)
    confidence = np.where(np.isnan(rows.confidence), 0.5, rows.confidence)
    labels = rows.label.copy()
    has_label = labels >= 0
    confidence[has_label & (predicted >= 0) & (predicted != labels)] = 0.0  # a wrong answer: most surprising
    rewarded = ~has_label & (rows.reward > 0) & (predicted >= 0)
    labels[rewarded] = predicted[rewarded]  # a rewarded answer teaches itself
    importance = score(time.time() - rows.time, rows.access_count, rows.vectors, confidence, rows.reward, weights)
    new = np.flatnonzero(labels >= 0)
    raw = stack([rows.inputs[i] for i in new]) if len(new) else None
    return Loaded(rows.ids, rows.vectors, importance, labels, raw)


def replay_set(
    source: bulk.Source, consolidated: int, per_class: int, rng: np.random.Generator
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray] | None, np.random.Generator]:
    """Stored labelled episodes to replay: the most important ``consolidated`` ones, class-balanced.
    Returns ((ids, raw inputs, labels) or None, ``rng``)."""
    ids, labels, priorities = bulk.labelled_by_importance(source, consolidated, per_class * 64)
    if not len(ids):
        return None, rng
    chosen = class_balanced_sample(labels, per_class, rng, priorities)
    stored = bulk.inputs(source, ids[chosen].tolist())
    keep = [i for i in chosen if int(ids[i]) in stored]  # forgotten meanwhile by another process
    if not keep:
        return None, rng
    return (ids[keep], stack([stored[int(ids[i])] for i in keep]), labels[keep]), rng


def forget_set(source: bulk.Source, consolidated: int, excess: int) -> np.ndarray:
    """Ids of the ``excess`` least important ``consolidated`` episodes (forgetting's choice), ascending."""
    ids, importance = bulk.least_important(source, consolidated, excess)
    chosen = select_forgetting(importance, np.ones(len(ids), bool), len(ids) - excess)
    return ids[chosen]


def score(
    age_s: np.ndarray,
    accesses: np.ndarray,
    vectors: np.ndarray,
    confidence: np.ndarray,
    reward: np.ndarray,
    weights: ImportanceWeights,
) -> np.ndarray:
    """Importance of a batch of episodes (:func:`~cognition.consolidation_steps.importance_scores`)."""
    return importance_scores(
        age_s=age_s, accesses=accesses, vectors=vectors, confidence=confidence, reward=reward, weights=weights
    )


def consolidate(
    learner: Learner,
    x: np.ndarray,
    labels: np.ndarray,
    replay: tuple[np.ndarray, np.ndarray] | None,
) -> ConsolidationStats:
    """Consolidate ``learner`` (a copy) on new data ``(x, labels)`` and ``replay``, then refresh its Fisher on
    both. A joint strategy trains on the union instead."""
    if learner.strategy.joint and replay is not None and len(replay[1]):
        x, labels = np.concatenate([x, replay[0]]), np.concatenate([labels, replay[1]])
        replay = None
    stats = learner.consolidate(x, labels, replay=replay)
    if replay is not None and len(replay[1]):
        learner.update_fisher(np.concatenate([x, replay[0]]), np.concatenate([labels, replay[1]]))
    else:
        learner.update_fisher(x, labels)
    return stats


def train(
    learner: Learner,
    x: np.ndarray,
    labels: np.ndarray,
    replay: tuple[np.ndarray, np.ndarray] | None,
    dream_share: float,
    rng: np.random.Generator,
) -> tuple[Learner, ConsolidationStats, int, np.random.Generator]:
    """Replay into the slow weights of ``learner`` (a copy), with ``dream_share`` synthetic episodes mixed into
    ``replay``. Returns the trained copy, its stats, how many episodes were dreamed, and ``rng``."""
    dreamed = 0
    if replay is not None and dream_share > 0:
        x_old, y_old = replay
        x_dream, y_dream = dream(x_old, y_old, int(round(dream_share * len(y_old))), rng)
        replay = (np.concatenate([x_old, x_dream]), np.concatenate([y_old, y_dream]))
        dreamed = len(y_dream)
    stats = consolidate(learner, x, labels, replay)
    return learner, stats, dreamed, rng


def student(
    head: DenseHead, teacher: Params, features: np.ndarray, latent: Params | None, epochs: int, seed: int
) -> Params:
    """System 1's new latent weights: ``teacher`` distilled into a ternary student on ``features``."""
    weights, _ = distill(head, teacher, features, student=latent, epochs=epochs, seed=seed)
    return weights


def concepts(
    vectors: np.ndarray,
    labels: np.ndarray,
    rng: np.random.Generator,
    min_size: int,
    existing: bulk.Source | list[Stored],
) -> tuple[GraphUpdate, np.random.Generator]:
    """Clusters of episode vectors and their relations (:func:`~cognition.consolidation_steps.discover_concepts`)
    as updates of the knowledge graph (:func:`~cognition.concept_graph.plan_concepts`) whose ``cluster/``
    concepts are ``existing`` (or are read from it)."""
    found, links = discover_concepts(vectors, labels, rng, min_size=min_size)
    if not found:
        return GraphUpdate(), rng
    if not isinstance(existing, list):
        existing = bulk.concepts_named(existing, "cluster/")
    return plan_concepts(existing, vectors, found, links), rng


def stack(inputs: list[Any]) -> np.ndarray:
    """Stored inputs (each one sample, with or without its batch axis) as one batch."""
    arrays = [np.asarray(x) for x in inputs]
    if all(a.ndim >= 1 and a.shape[0] == 1 for a in arrays):
        return np.concatenate(arrays)
    return np.stack(arrays)


def _prediction(output: Any) -> int:
    if isinstance(output, np.ndarray) and output.size:
        return int(np.asarray(output).reshape(-1).argmax())
    return -1


def warm() -> bool:
    """Nothing: importing this module in the worker is the point (the first sleep then pays no import)."""
    return True


__all__ = [
    "Loaded",
    "concepts",
    "consolidate",
    "forget_set",
    "load",
    "replay_set",
    "run",
    "score",
    "stack",
    "student",
    "train",
    "warm",
]
