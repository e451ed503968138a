"""Episode vectors in process: the projection of wide feature vectors and the novelty window."""

from __future__ import annotations

import math

import numpy as np


class Projection:
    """Episode vectors from feature vectors: as they are up to ``dim`` components, else through a fixed
    Gaussian projection to ``dim`` (Johnson-Lindenstrauss: distances kept within ~10% at 128 dimensions).

    Wide vectors (a 2,048-d penultimate layer) would make every HNSW insert, stored row and novelty search
    16x dearer for no better neighbours; the same projection serves ``recall``.
    """

    def __init__(self, size: int, dim: int, seed: int) -> None:
        self._matrix: np.ndarray | None = None
        self.dim = size
        if size > dim:
            rng = np.random.default_rng([seed, size, dim])
            self._matrix = (rng.standard_normal((size, dim)) / math.sqrt(dim)).astype(np.float32)
            self.dim = dim

    def __call__(self, features: np.ndarray) -> np.ndarray:
        return features if self._matrix is None else features @ self._matrix


class VectorWindow:
    """The last ``size`` episode vectors in process: the novelty search without a database round trip
    (two numpy calls for the nearest one: ``|m|^2 / 2 - m @ v`` ranks as the distance does)."""

    def __init__(self, size: int, dim: int, k: int) -> None:
        self._m = np.zeros((size, dim), np.float32)
        self._half_sq = np.zeros(size, np.float32)
        self._n = 0
        self._k = k

    def __len__(self) -> int:
        return min(self._n, len(self._m))

    def distance(self, v: np.ndarray) -> float | None:
        """Mean Euclidean distance from ``v`` to its ``k`` nearest vectors in the window."""
        n = len(self)
        if not n:
            return None
        m, half_sq = (self._m, self._half_sq) if n == len(self._m) else (self._m[:n], self._half_sq[:n])
        d = half_sq - m @ v  # (|m|^2 - 2 m.v) / 2
        k = min(self._k, n)
        near = float(d.min() if k == 1 else np.partition(d, k - 1)[:k].mean())
        return math.sqrt(max(2.0 * near + float(v @ v), 0.0))

    def add(self, v: np.ndarray) -> None:
        i = self._n % len(self._m)
        self._m[i] = v
        self._half_sq[i] = 0.5 * float(v @ v)
        self._n += 1
