"""The pure sleep algorithms: importance, prioritized replay, concepts and relations, Hebbian update,
forgetting selection, dreams."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cognition.consolidation_steps import (
    ImportanceWeights,
    class_balanced_sample,
    discover_concepts,
    dream,
    hebbian_update,
    importance_scores,
    kmeans,
    nearest_distances,
    prioritized_sample,
    select_forgetting,
)


def test_importance_orders_each_term() -> None:
    vectors = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0]])
    base: dict[str, Any] = dict(age_s=np.full(3, 10.0), accesses=np.ones(3), vectors=vectors,
                                confidence=np.full(3, 0.5))
    s = importance_scores(**base)
    assert s[2] > s[0] and s[0] == pytest.approx(s[1], abs=0.02)  # the outlier is novel
    s = importance_scores(**{**base, "age_s": np.array([0.0, 1e5, 10.0]), "vectors": np.zeros((3, 2))})
    assert s[0] > s[2] > s[1]
    s = importance_scores(**{**base, "confidence": np.array([0.99, 0.1, 0.5]), "vectors": np.zeros((3, 2))})
    assert s[1] > s[2] > s[0]
    s = importance_scores(**{**base, "reward": np.array([np.nan, -1.0, 0.2]), "vectors": np.zeros((3, 2))})
    assert s[1] > s[2] > s[0]
    s = importance_scores(**{**base, "accesses": np.array([0, 9, 3]), "vectors": np.zeros((3, 2))})
    assert s[1] > s[2] > s[0]
    only_recency = ImportanceWeights(1, 0, 0, 0, 0, half_life_s=10.0)
    np.testing.assert_allclose(importance_scores(**{**base, "age_s": np.array([0.0, 10.0, 20.0])},
                                                 weights=only_recency), [1.0, 0.5, 0.25])


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 30), seed=st.integers(0, 1000))
def test_importance_lies_in_unit_interval(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    s = importance_scores(age_s=rng.random(n) * 1e4, accesses=rng.integers(0, 9, n),
                          vectors=rng.standard_normal((n, 3)), confidence=rng.random(n), reward=rng.normal(0, 2, n))
    assert s.shape == (n,) and np.all((s >= 0) & (s <= 1))


def test_nearest_distances() -> None:
    d = nearest_distances(np.array([[0.0], [1.0], [3.0]]))
    np.testing.assert_allclose(d, [1.0, 1.0, 2.0])


def test_prioritized_sample_prefers_high_priority_and_is_distinct() -> None:
    rng = np.random.default_rng(0)
    priorities = np.array([10.0] + [0.01] * 99)
    hits = sum(0 in prioritized_sample(priorities, 5, rng, alpha=1.0) for _ in range(200))
    assert hits > 190
    uniform = np.concatenate([prioritized_sample(priorities, 5, rng, alpha=0.0) for _ in range(400)])
    assert np.mean(uniform == 0) < 0.02  # alpha 0: uniform, 5 / 100 per draw spread over 5 slots
    pick = prioritized_sample(np.ones(10), 7, rng)
    assert len(set(pick.tolist())) == 7
    assert sorted(prioritized_sample(np.ones(4), 9, rng).tolist()) == [0, 1, 2, 3]


def test_class_balanced_sample() -> None:
    labels = np.array([0] * 50 + [1] * 3 + [2] * 10)
    idx = class_balanced_sample(labels, 5, np.random.default_rng(0), priorities=np.ones(len(labels)))
    values, counts = np.unique(labels[idx], return_counts=True)
    assert values.tolist() == [0, 1, 2] and counts.tolist() == [5, 3, 5]


def _blobs(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    centers = np.array([[0.0, 0.0, 10.0], [10.0, 0.0, 0.0], [0.0, 10.0, 0.0]])
    labels = np.repeat([0, 1, 2], 20)
    return centers[labels] + rng.normal(0, 0.3, (60, 3)), labels


def test_kmeans_recovers_blobs() -> None:
    rng = np.random.default_rng(0)
    x, labels = _blobs(rng)
    _, assign = kmeans(x, 3, rng)
    for c in range(3):
        assert len(set(assign[labels == c].tolist())) == 1
    assert len(set(assign.tolist())) == 3


def test_discover_concepts_and_relations() -> None:
    rng = np.random.default_rng(1)
    x, labels = _blobs(rng)
    order = np.tile(np.arange(3), 20) * 20 + np.repeat(np.arange(20), 3)  # time order: 0, 1, 2, 0, 1, 2, ...
    labels = labels.copy()
    labels[order[:3]] = -1  # a few unlabelled episodes
    concepts, relations = discover_concepts(x[order], labels[order], rng, k=3)
    assert sorted(c.label for c in concepts if c.label is not None) == [0, 1, 2]
    assert all(c.purity == 1.0 and len(c.members) == 20 for c in concepts)
    follows = {(concepts[r.source].label, concepts[r.target].label) for r in relations if r.kind == "follows"}
    assert follows == {(0, 1), (1, 2), (2, 0)}
    # two clusters of the same label, close together: related by label and by similarity
    x2 = np.concatenate([x[:20], x[:20] + 0.5])
    concepts, relations = discover_concepts(x2, np.zeros(40, np.int64), rng, k=2)
    kinds = {r.kind for r in relations}
    assert {"same_label", "similar"} <= kinds
    assert discover_concepts(np.zeros((0, 3)), None, rng) == ([], [])


def test_hebbian_update_strengthens_and_decays_within_bounds() -> None:
    w = np.array([0.0, 0.5, 0.99, 0.5])
    a = np.array([1.0, 1.0, 1.0, 0.0])
    new = hebbian_update(w, a, rate=0.5, decay=0.1)
    assert new[0] > 0 and new[1] > 0.5 and new[3] == pytest.approx(0.45)
    assert np.all(new <= 1)
    for _ in range(100):
        w = hebbian_update(w, np.zeros(4), decay=0.1)
    assert np.all(w < 1e-4)


def test_select_forgetting() -> None:
    importance = np.array([0.9, 0.1, 0.5, 0.05, 0.3])
    consolidated = np.array([True, True, True, False, True])
    assert select_forgetting(importance, consolidated, 3).tolist() == [1, 4]  # 3 is not consolidated
    assert select_forgetting(importance, consolidated, 5).tolist() == []
    assert select_forgetting(importance, consolidated, 0).tolist() == [0, 1, 2, 4]  # never 3


def test_dream_episodes_stay_near_their_label() -> None:
    rng = np.random.default_rng(0)
    x, labels = _blobs(rng)
    fake, fake_labels = dream(x, labels, 100, rng, noise=0.05)
    centers = np.stack([x[labels == c].mean(0) for c in range(3)])
    nearest = ((fake[:, None, :] - centers[None]) ** 2).sum(-1).argmin(1)
    assert fake.shape == (100, 3) and np.array_equal(nearest, fake_labels)
    assert dream(x, labels, 0, rng)[0].shape[0] == 0
