"""Continual-learning strategies and the class-balanced replay buffer.

A :class:`Strategy` says what the slow weights do at each consolidation: which penalty holds them near what
earlier consolidations learned, and whether stored episodes are replayed.

=====================  ==================================================================================
``naive``              fine-tune on the new data only (the lower bound)
``ewc``                one penalty term per consolidation, ``λ Σ_t Σ_i F_t,i (θ_i − θ*_t,i)²`` (Kirkpatrick
                       et al. 2017)
``online_ewc``         one running term, ``λ Σ_i F_i (θ_i − θ*_i)²`` with ``F ← γ F + F_new`` and ``θ*``
                       the weights after the last consolidation (Schwarz et al. 2018)
``replay``             new data mixed with stored episodes (a class-balanced buffer)
``replay_online_ewc``  both
``joint``              train on everything seen so far (an upper bound, not a continual learner)
=====================  ==================================================================================
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Strategy:
    name: str
    penalty: str  # "none", "ewc" (one term per consolidation) or "online" (one decayed term)
    replay: bool
    joint: bool = False


STRATEGIES: dict[str, Strategy] = {
    s.name: s
    for s in (
        Strategy("naive", "none", False),
        Strategy("ewc", "ewc", False),
        Strategy("online_ewc", "online", False),
        Strategy("replay", "none", True),
        Strategy("replay_online_ewc", "online", True),
        Strategy("joint", "none", False, joint=True),
    )
}


def strategy(name: str) -> Strategy:
    """The strategy called ``name``; ValueError listing the known names otherwise."""
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ValueError(f"unknown strategy {name!r}; known: {', '.join(STRATEGIES)}") from None


class ReplayBuffer:
    """At most ``per_class`` stored episodes per label, each class filled by reservoir sampling, so every
    episode seen of a class has the same chance of being kept whatever the stream's order."""

    def __init__(self, per_class: int, *, seed: int = 0) -> None:
        if per_class < 1:
            raise ValueError(f"per_class must be at least 1, got {per_class}")
        self.per_class = per_class
        self._rng = np.random.default_rng(seed)
        self._items: dict[int, list[np.ndarray]] = {}
        self._seen: dict[int, int] = {}

    def add(self, x: np.ndarray, labels: np.ndarray) -> None:
        for row, label in zip(np.asarray(x), np.asarray(labels).reshape(-1), strict=True):
            key = int(label)
            items = self._items.setdefault(key, [])
            seen = self._seen.get(key, 0)
            if len(items) < self.per_class:
                items.append(np.array(row))
            else:
                j = int(self._rng.integers(seen + 1))
                if j < self.per_class:
                    items[j] = np.array(row)
            self._seen[key] = seen + 1

    def __len__(self) -> int:
        return sum(len(v) for v in self._items.values())

    def counts(self) -> dict[int, int]:
        return {k: len(v) for k, v in sorted(self._items.items())}

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Every stored episode: (x [n, ...], labels [n])."""
        if not self._items:
            return np.zeros((0,)), np.zeros(0, np.int64)
        xs = [row for key in sorted(self._items) for row in self._items[key]]
        ys = [key for key in sorted(self._items) for _ in self._items[key]]
        return np.stack(xs), np.asarray(ys, np.int64)
