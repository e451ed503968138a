"""The sleep algorithms as plain functions over arrays: importance scoring, prioritized replay sampling, pattern
discovery (episode clusters become concepts, with relations), Hebbian strengthening and decay, forgetting
selection, and dream episodes. The sleep engine (:mod:`cognition.consolidation`) reads episodes from the
memory store, calls these, and writes the results back; nothing here touches a database or a clock.

Importance of an episode, each term in [0, 1], combined with :class:`ImportanceWeights`:

* recency ``2 ** (−age / half_life)``;
* frequency ``log1p(accesses) / log1p(max accesses)``;
* novelty: distance to the nearest other episode's vector over the largest such distance;
* surprise: ``1 − confidence`` of the answer given (or the loss it caused, scaled to [0, 1]);
* reward: ``|reward|`` clipped to 1 (an outcome worth remembering either way).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ImportanceWeights:
    recency: float = 0.25
    frequency: float = 0.15
    novelty: float = 0.2
    surprise: float = 0.25
    reward: float = 0.15
    half_life_s: float = 3600.0


def nearest_distances(vectors: np.ndarray) -> np.ndarray:
    """Euclidean distance from each row to its nearest other row (inf for a single row)."""
    v = np.asarray(vectors, np.float64)
    sq = (v * v).sum(axis=1)
    d2 = sq[:, None] + sq[None, :] - 2.0 * v @ v.T
    np.fill_diagonal(d2, np.inf)
    return np.sqrt(np.maximum(d2.min(axis=1), 0.0)) if len(v) else np.zeros(0)


def importance_scores(
    *,
    age_s: np.ndarray,
    accesses: np.ndarray,
    vectors: np.ndarray,
    confidence: np.ndarray,
    reward: np.ndarray | None = None,
    weights: ImportanceWeights = ImportanceWeights(),
) -> np.ndarray:
    """Importance in [0, 1] of each of ``n`` episodes (see the module docstring for each term).

    Args:
        age_s: seconds since each episode [n]; accesses: how often each was recalled or replayed [n];
        vectors: feature vectors [n, d]; confidence: confidence of the answer given [n], in [0, 1];
        reward: rewards [n] (NaN or None: no reward given).
    """
    n = len(age_s)
    recency = np.exp2(-np.asarray(age_s, np.float64) / weights.half_life_s)
    acc = np.log1p(np.maximum(np.asarray(accesses, np.float64), 0))
    frequency = acc / acc.max() if n and acc.max() > 0 else np.zeros(n)
    near = nearest_distances(vectors)
    finite = near[np.isfinite(near)]
    novelty = np.zeros(n) if not finite.size or finite.max() <= 0 else np.where(
        np.isfinite(near), near / finite.max(), 1.0)
    surprise = 1.0 - np.clip(np.asarray(confidence, np.float64), 0, 1)
    rew = np.zeros(n) if reward is None else np.nan_to_num(np.clip(np.abs(np.asarray(reward, np.float64)), 0, 1))
    total = weights.recency + weights.frequency + weights.novelty + weights.surprise + weights.reward
    score = (weights.recency * recency + weights.frequency * frequency + weights.novelty * novelty
             + weights.surprise * surprise + weights.reward * rew)
    return score / total if total > 0 else score


def prioritized_sample(
    priorities: np.ndarray, k: int, rng: np.random.Generator, *, alpha: float = 0.6, epsilon: float = 1e-3,
) -> np.ndarray:
    """``k`` distinct indices drawn with probability ∝ ``(priority + ε) ** α`` (prioritized replay, Schaul et
    al. 2016): α = 0 is uniform, α = 1 proportional. Fewer than ``k`` rows: all of them, in random order."""
    p = (np.maximum(np.asarray(priorities, np.float64), 0) + epsilon) ** alpha
    n = len(p)
    if k >= n:
        return rng.permutation(n)
    return rng.choice(n, size=k, replace=False, p=p / p.sum())


def class_balanced_sample(labels: np.ndarray, per_class: int, rng: np.random.Generator,
                          priorities: np.ndarray | None = None) -> np.ndarray:
    """At most ``per_class`` indices per label (prioritized within each label when ``priorities`` is given)."""
    labels = np.asarray(labels)
    chosen = []
    for label in np.unique(labels):
        idx = np.flatnonzero(labels == label)
        pick = prioritized_sample(priorities[idx], per_class, rng) if priorities is not None else (
            rng.permutation(len(idx))[:per_class])
        chosen.append(idx[pick])
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, np.int64)


# --- pattern discovery ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Concept:
    """A cluster of episodes: its prototype (the members' mean vector), the member indices, the majority
    label (None if none is labelled) and the share of labelled members that carry it."""

    prototype: np.ndarray
    members: np.ndarray
    label: int | None
    purity: float


@dataclass(frozen=True)
class Relation:
    source: int  # concept indices
    target: int
    kind: str    # "follows" (temporal succession), "same_label", "similar"
    weight: float


def kmeans(vectors: np.ndarray, k: int, rng: np.random.Generator, *, iterations: int = 50
           ) -> tuple[np.ndarray, np.ndarray]:
    """k-means with k-means++ seeding: (centroids [k, d], assignment [n]). ``k`` is capped at ``n``."""
    x = np.asarray(vectors, np.float64)
    n = len(x)
    k = max(1, min(k, n))
    centroids = [x[rng.integers(n)]]
    d2 = ((x - centroids[0]) ** 2).sum(axis=1)
    for _ in range(1, k):
        total = d2.sum()
        nxt = x[rng.choice(n, p=d2 / total)] if total > 0 else x[rng.integers(n)]
        centroids.append(nxt)
        d2 = np.minimum(d2, ((x - nxt) ** 2).sum(axis=1))
    c = np.stack(centroids)
    assign = np.zeros(n, np.int64)
    for it in range(iterations):
        dist = (x * x).sum(1)[:, None] + (c * c).sum(1)[None, :] - 2 * x @ c.T
        new = dist.argmin(axis=1)
        if it and np.array_equal(new, assign):
            break
        assign = new
        for j in range(k):
            members = x[assign == j]
            if len(members):
                c[j] = members.mean(axis=0)
    return c, assign


def discover_concepts(
    vectors: np.ndarray,
    labels: np.ndarray | None,
    rng: np.random.Generator,
    *,
    k: int | None = None,
    min_size: int = 2,
    similarity: float = 0.9,
) -> tuple[list[Concept], list[Relation]]:
    """Cluster episode vectors (rows in time order) into concepts and relate them.

    ``k`` defaults to ``ceil(sqrt(n / 2))``; clusters smaller than ``min_size`` are dropped. Relations:
    ``follows`` (A→B weighted by the share of A's episodes immediately followed by one of B's), ``same_label``
    (two concepts with the same majority label, weight 1) and ``similar`` (cosine of prototypes ≥
    ``similarity``, weight = the cosine). Labels < 0 mean unlabelled.
    """
    x = np.asarray(vectors, np.float64)
    if len(x) == 0:
        return [], []
    k = k or int(np.ceil(np.sqrt(len(x) / 2)))
    centroids, assign = kmeans(x, k, rng)
    concepts: list[Concept] = []
    index_of: dict[int, int] = {}
    for j in range(len(centroids)):
        members = np.flatnonzero(assign == j)
        if len(members) < min_size:
            continue
        label, purity = None, 0.0
        if labels is not None:
            known = np.asarray(labels)[members]
            known = known[known >= 0]
            if known.size:
                values, counts = np.unique(known, return_counts=True)
                label, purity = int(values[counts.argmax()]), float(counts.max() / known.size)
        index_of[j] = len(concepts)
        concepts.append(Concept(centroids[j], members, label, purity))
    relations: list[Relation] = []
    pairs: dict[tuple[int, int], int] = {}
    for a, b in zip(assign[:-1], assign[1:], strict=True):
        if a != b and a in index_of and b in index_of:
            key = (index_of[int(a)], index_of[int(b)])
            pairs[key] = pairs.get(key, 0) + 1
    for (a, b), count in sorted(pairs.items()):
        relations.append(Relation(a, b, "follows", count / len(concepts[a].members)))
    protos = np.stack([c.prototype for c in concepts]) if concepts else np.zeros((0, x.shape[1]))
    norms = np.linalg.norm(protos, axis=1)
    cos = protos @ protos.T / np.maximum(np.outer(norms, norms), 1e-12)
    for a in range(len(concepts)):
        for b in range(a + 1, len(concepts)):
            if concepts[a].label is not None and concepts[a].label == concepts[b].label:
                relations.append(Relation(a, b, "same_label", 1.0))
            if cos[a, b] >= similarity:
                relations.append(Relation(a, b, "similar", float(cos[a, b])))
    return concepts, relations


def hebbian_update(weights: np.ndarray, coactivation: np.ndarray, *, rate: float = 0.1, decay: float = 0.01
                   ) -> np.ndarray:
    """Strengthen relation weights by co-activation and let all of them decay: ``w ← (1 − decay) w + rate · a ·
    (1 − w)`` with ``a`` in [0, 1]; weights stay in [0, 1]."""
    w = np.asarray(weights, np.float64)
    a = np.clip(np.asarray(coactivation, np.float64), 0, 1)
    return np.clip((1 - decay) * w + rate * a * (1 - w), 0, 1)


def select_forgetting(importance: np.ndarray, consolidated: np.ndarray, capacity: int) -> np.ndarray:
    """Indices of episodes to forget so that at most ``capacity`` remain: the least important consolidated
    ones first. Episodes not yet consolidated are never chosen, so the result may leave more than ``capacity``.
    """
    importance = np.asarray(importance, np.float64)
    excess = len(importance) - max(capacity, 0)
    if excess <= 0:
        return np.zeros(0, np.int64)
    candidates = np.flatnonzero(np.asarray(consolidated, bool))
    order = candidates[np.argsort(importance[candidates], kind="stable")]
    return np.sort(order[:excess])


def dream(x: np.ndarray, labels: np.ndarray, n: int, rng: np.random.Generator, *, noise: float = 0.05,
          interpolate: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """``n`` synthetic episodes: a share ``interpolate`` mixes two stored episodes of the same label
    (``λ a + (1 − λ) b``, λ uniform), the rest perturbs one with Gaussian noise of scale ``noise`` times the
    data's standard deviation. Returns (inputs, labels)."""
    x = np.asarray(x, np.float64)
    labels = np.asarray(labels)
    if n <= 0 or len(x) == 0:
        return np.zeros((0, *x.shape[1:])), labels[:0]
    idx = rng.integers(len(x), size=n)
    out = x[idx].copy()
    mixed = rng.random(n) < interpolate
    for i in np.flatnonzero(mixed):
        peers = np.flatnonzero(labels == labels[idx[i]])
        lam = rng.random()
        out[i] = lam * x[idx[i]] + (1 - lam) * x[rng.choice(peers)]
    scale = noise * (x.std() or 1.0)
    out[~mixed] += rng.normal(0.0, scale, out[~mixed].shape)
    return out.astype(np.float32), labels[idx]
