"""Working memory: a small, fixed-capacity store in process, with similarity search in numpy.

Each item's score mixes recency (exponential decay of the time since its last access, with a half-life),
frequency (log of its access count, saturating) and an attention weight in [0, 1] that the agent sets::

    score = w_recency · 0.5^(age / half_life)
          + w_frequency · min(1, ln(1 + count) / ln(17))
          + w_attention · attention

When full, adding an item evicts the one with the lowest score. Vectors live in one preallocated
(capacity, dim) matrix, so a search is one matrix-vector product.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import codec
from .errors import InvalidMemoryInputError, InvalidQueryError, UnknownIdError
from .records import positive_int

_FREQUENCY_SATURATION = math.log1p(16)


@dataclass(frozen=True, slots=True)
class WorkingItem:
    """An item as seen from outside; ``similarity`` (cosine) is set by :meth:`WorkingMemory.search`."""

    key: Hashable
    payload: Any
    attention: float
    count: int
    last_access: float
    score: float
    similarity: float | None = None


class WorkingMemory:
    """A bounded, attention-weighted working memory. Thread-safe; nothing here blocks.

    ``clock`` returns seconds (``time.monotonic`` by default; tests pass a fake). The vector dimension is
    fixed by ``dim`` or by the first item.
    """

    def __init__(
        self,
        capacity: int = 64,
        *,
        dim: int | None = None,
        half_life_s: float = 30.0,
        weights: tuple[float, float, float] = (1.0, 0.5, 1.0),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = positive_int(capacity, "capacity")
        if half_life_s <= 0:
            raise InvalidMemoryInputError(f"half_life_s must be positive, got {half_life_s}")
        self.half_life_s = float(half_life_s)
        self.weights = tuple(float(w) for w in weights)
        if len(self.weights) != 3:
            raise InvalidMemoryInputError("weights are (recency, frequency, attention)")
        self._clock = clock
        self._lock = threading.Lock()
        self._dim = dim
        self._vectors: np.ndarray | None = None if dim is None else np.zeros((self.capacity, dim), np.float32)
        self._norms = np.zeros(self.capacity, np.float32)
        self._keys: list[Hashable | None] = [None] * self.capacity
        self._payloads: list[Any] = [None] * self.capacity
        self._attention = np.zeros(self.capacity, np.float64)
        self._count = np.zeros(self.capacity, np.int64)
        self._last = np.zeros(self.capacity, np.float64)
        self._slot: dict[Hashable, int] = {}

    def __len__(self) -> int:
        return len(self._slot)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._slot

    def put(
        self, key: Hashable, vector: Any, payload: Any = None, *, attention: float = 1.0
    ) -> Hashable | None:
        """Add or refresh an item; return the key evicted to make room, if any."""
        if not 0.0 <= attention <= 1.0 or math.isnan(attention):
            raise InvalidMemoryInputError(f"attention must lie in [0, 1], got {attention}")
        v = codec.check_vectors(vector, self._dim, what="working-memory vector", round16=False)[0]
        with self._lock:
            if self._vectors is None:
                self._dim = v.shape[0]
                self._vectors = np.zeros((self.capacity, self._dim), np.float32)
            evicted: Hashable | None = None
            slot = self._slot.get(key)
            if slot is None:
                if len(self._slot) >= self.capacity:
                    slot = int(np.argmin(self._scores()))
                    evicted = self._keys[slot]
                    del self._slot[evicted]
                else:
                    slot = self._keys.index(None)
                self._slot[key] = slot
                self._keys[slot] = key
                self._count[slot] = 0
            self._vectors[slot] = v
            self._norms[slot] = np.linalg.norm(v)
            self._payloads[slot] = payload
            self._attention[slot] = attention
            self._count[slot] += 1
            self._last[slot] = self._clock()
            return evicted

    def get(self, key: Hashable) -> WorkingItem:
        """The item under ``key``; counts as an access (frequency and recency)."""
        with self._lock:
            slot = self._require(key)
            self._count[slot] += 1
            self._last[slot] = self._clock()
            return self._item(slot, self._scores()[slot])

    def attend(self, key: Hashable, attention: float) -> None:
        """Set an item's attention weight in [0, 1]."""
        if not 0.0 <= attention <= 1.0:
            raise InvalidMemoryInputError(f"attention must lie in [0, 1], got {attention}")
        with self._lock:
            self._attention[self._require(key)] = attention

    def remove(self, key: Hashable) -> None:
        """Drop an item (UnknownIdError if absent)."""
        with self._lock:
            slot = self._require(key)
            del self._slot[key]
            self._keys[slot] = None
            self._payloads[slot] = None

    def clear(self) -> None:
        """Drop every item."""
        with self._lock:
            for slot in self._slot.values():
                self._keys[slot] = None
                self._payloads[slot] = None
            self._slot.clear()

    def items(self) -> list[WorkingItem]:
        """Every item, highest score first (no access is recorded)."""
        with self._lock:
            scores = self._scores()
            slots = sorted(self._slot.values(), key=lambda s: -scores[s])
            return [self._item(s, scores[s]) for s in slots]

    def search(self, vector: Any, k: int = 5) -> list[WorkingItem]:
        """The ``k`` items most similar (cosine) to ``vector``, most similar first."""
        k = positive_int(k, "k")
        with self._lock:
            if not self._slot or self._vectors is None:
                return []
            q = codec.check_vectors(vector, self._dim, what="query vector", round16=False)
            if q.shape[0] != 1:
                raise InvalidQueryError("search takes one query vector")
            slots = np.fromiter(self._slot.values(), dtype=np.int64, count=len(self._slot))
            norms = self._norms[slots] * float(np.linalg.norm(q[0]))
            sims = (self._vectors[slots] @ q[0]) / np.where(norms == 0, 1.0, norms)
            order = np.argsort(-sims, kind="stable")[:k]
            scores = self._scores()
            return [self._item(int(slots[i]), scores[slots[i]], float(sims[i])) for i in order]

    def _scores(self) -> np.ndarray:
        w_r, w_f, w_a = self.weights
        age = np.maximum(self._clock() - self._last, 0.0)
        recency = np.exp2(-age / self.half_life_s)
        frequency = np.minimum(1.0, np.log1p(self._count) / _FREQUENCY_SATURATION)
        scores = w_r * recency + w_f * frequency + w_a * self._attention
        scores[[k is None for k in self._keys]] = np.inf  # empty slots are never "lowest"
        return scores

    def _item(self, slot: int, score: float, similarity: float | None = None) -> WorkingItem:
        return WorkingItem(
            key=self._keys[slot],
            payload=self._payloads[slot],
            attention=float(self._attention[slot]),
            count=int(self._count[slot]),
            last_access=float(self._last[slot]),
            score=float(score),
            similarity=similarity,
        )

    def _require(self, key: Hashable) -> int:
        slot = self._slot.get(key)
        if slot is None:
            raise UnknownIdError("working-memory key", [key])
        return slot
