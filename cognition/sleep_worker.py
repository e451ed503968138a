"""The array work of a sleep, as picklable functions of arrays: run in a worker *process* (the default,
``AgentConfig.sleep_worker = "process"``) or in the sleep's worker thread (``"thread"``).

Why a process: these steps are many small numpy calls (minibatch SGD, distillation, k-means, a 2,048² distance
matrix) that hold the GIL between calls; in a thread they take it from the event loop for up to the switch
interval (5 ms) at a time, which is what made ``infer``'s P95 8× slower during a sleep. In a process they
compete with inference for a core only. Their big temporaries also stay out of the agent's heap.

Every function takes and returns plain data (arrays, the learner copy, a ``numpy.random.Generator``) so it can
travel through :func:`anyio.to_process.run_sync`; a Generator is handed back so that the engine's random
stream advances exactly as it would in a thread.
"""

from __future__ import annotations

import numpy as np

from .consolidation_steps import Concept, ImportanceWeights, Relation, discover_concepts, dream, importance_scores
from .distillation import distill
from .gradients import DenseHead, Params
from .learning import ConsolidationStats, Learner


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
    vectors: np.ndarray, labels: np.ndarray, rng: np.random.Generator, min_size: int
) -> tuple[list[Concept], list[Relation], np.random.Generator]:
    """Clusters of episode vectors and their relations (:func:`~cognition.consolidation_steps.discover_concepts`)."""
    found, links = discover_concepts(vectors, labels, rng, min_size=min_size)
    return found, links, rng


def warm() -> bool:
    """Nothing: importing this module in the worker is the point (the first sleep then pays no import)."""
    return True


__all__ = ["concepts", "consolidate", "score", "student", "train", "warm"]
