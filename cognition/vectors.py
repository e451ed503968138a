"""Episode vectors in process: the projection of wide feature vectors and the novelty window."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

import memory_store
from engine.errors import InvalidInputError
from engine.kernels._numba import jit
from memory_store import DatabaseVersionError

ProjectionKind = Literal["sparse", "gaussian"]
PROJECTION_KINDS: tuple[ProjectionKind, ...] = ("sparse", "gaussian")
#: outputs each feature adds to in the sparse projection
SPARSE_NONZEROS = 8
#: the ronn_meta keys naming the projection of a memory's episode vectors and its seed
PROJECTION_META = "episode_projection"
PROJECTION_SEED_META = "episode_projection_seed"


class Projection:
    """Episode vectors from feature vectors: as they are up to ``dim`` components, else through a fixed random
    projection to ``dim`` (Johnson-Lindenstrauss: distances kept within ~10% at 128 dimensions).

    ``"sparse"`` (the default): each feature adds ±1/√8 of itself to 8 of the ``dim`` outputs, one in each of
    8 blocks (:func:`sparse_tables`, a sparse JL transform; on 2,048-d ReLU features the ratio of projected to
    true distances has the Gaussian's spread, 0.85-1.14 from the 1st to the 99th percentile). One compiled pass
    over 64 KB of indices and signs: right after a model's run has evicted the caches, the dense 1 MB matrix
    product took ~150 µs here. ``"gaussian"``: the dense projection, kept for memories whose vectors were made
    with it (ronn_meta ``episode_projection``). Wide vectors (a 2,048-d penultimate layer) would make every
    HNSW insert, stored row and novelty search 16x dearer for no better neighbours; the same projection serves
    ``recall``.
    """

    def __init__(self, size: int, dim: int, seed: int, kind: ProjectionKind = "sparse") -> None:
        if kind not in PROJECTION_KINDS:
            raise ValueError(f"projection kind must be one of {PROJECTION_KINDS}, got {kind!r}")
        self.kind = kind
        self._matrix: np.ndarray | None = None
        self._columns: np.ndarray | None = None
        self._signs: np.ndarray | None = None
        self.dim = size
        if size > dim:
            rng = np.random.default_rng([seed, size, dim])
            if kind == "gaussian":
                self._matrix = (rng.standard_normal((size, dim)) / math.sqrt(dim)).astype(np.float32)
            else:
                self._columns, self._signs = sparse_tables(size, dim, rng)
            self.dim = dim

    def __call__(self, features: np.ndarray) -> np.ndarray:
        if self._matrix is not None:
            return features @ self._matrix
        if self._columns is None:
            return features
        assert self._signs is not None
        return sparse_project(features, self._columns, self._signs, self.dim)


def sparse_tables(size: int, dim: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Where each of ``size`` features goes in a sparse projection to ``dim``, and with which weight: the
    outputs split into :data:`SPARSE_NONZEROS` blocks, one place drawn in each (Kane and Nelson's block
    construction: distinct places, O(size) memory), weights ±1/√nonzeros. Returns int32 columns and float32
    signs, both (size, nonzeros)."""
    nonzeros = min(SPARSE_NONZEROS, dim)
    edges = np.linspace(0, dim, nonzeros + 1).astype(np.int64)
    columns = edges[:-1] + (rng.random((size, nonzeros)) * np.diff(edges)).astype(np.int64)
    signs = rng.choice(np.array([-1.0, 1.0], np.float32), (size, nonzeros)) / np.float32(math.sqrt(nonzeros))
    return np.ascontiguousarray(columns, dtype=np.int32), np.ascontiguousarray(signs, dtype=np.float32)


def sparse_project(x: np.ndarray, columns: np.ndarray, signs: np.ndarray, dim: int) -> np.ndarray:
    """``x`` (any shape, ``columns.shape[0]`` values) projected with :func:`sparse_tables`' tables."""
    flat = np.ascontiguousarray(x, dtype=np.float32).reshape(-1)
    if flat.size != len(columns):
        raise ValueError(f"expected {len(columns)} features, got {flat.size}")
    return _sparse_project(flat, columns, signs, dim)


def projection_kind(memory: memory_store.Memory) -> ProjectionKind:
    """The projection this memory's episode vectors are made with (ronn_meta ``episode_projection``): a new
    memory records ``"sparse"``; one with episodes and no record was written before the key existed, with
    the Gaussian projection, and keeps it (vectors of two projections are not comparable).

    Raises DatabaseVersionError for a kind this version does not know."""
    legacy = memory.episodic.count() > 0
    kind = memory.db.meta_setdefault(PROJECTION_META, lambda: "gaussian" if legacy else "sparse")
    if kind not in PROJECTION_KINDS:
        raise DatabaseVersionError(
            f"the memory's episode vectors use a projection this version does not know ({kind!r}; known: "
            f"{', '.join(PROJECTION_KINDS)}): open it with the RONN version that wrote it"
        )
    return kind  # type: ignore[return-value]


def check_projection_seed(memory: memory_store.Memory, seed: int) -> None:
    """Record the seed of this memory's projected episode vectors (ronn_meta ``episode_projection_seed``), or
    raise InvalidInputError when it differs: vectors projected with two seeds are not comparable, so novelty and
    ``recall`` would silently go wrong. Only agents whose vectors are projected call this."""
    known = memory.db.meta_setdefault(PROJECTION_SEED_META, lambda: str(seed))
    if known != str(seed):
        raise InvalidInputError(
            f"this memory's episode vectors were projected with AgentConfig.seed={known}, not {seed}: vectors of "
            f"two seeds are not comparable; use seed={known} with it, or another memory file"
        )


@jit()
def _sparse_project(
    x: np.ndarray, columns: np.ndarray, signs: np.ndarray, dim: int
) -> np.ndarray:  # pragma: no cover - compiled by numba
    out = np.zeros(dim, np.float32)
    for i in range(x.size):
        xi = x[i]
        for j in range(columns.shape[1]):
            out[columns[i, j]] += xi * signs[i, j]
    return out


class VectorWindow:
    """The last ``size`` episode vectors in process: the novelty search without a database round trip
    (``|m|^2 / 2 - m . v`` ranks as the distance does), one compiled pass over the window."""

    def __init__(self, size: int, dim: int, k: int) -> None:
        self._m = np.zeros((size, dim), np.float32)
        self._half_sq = np.zeros(size, np.float32)
        self._n = 0
        self._k = k

    def __len__(self) -> int:
        return min(self._n, len(self._m))

    def distance(self, v: np.ndarray) -> float | None:
        """Mean Euclidean distance from ``v`` to its ``k`` nearest vectors in the window."""
        n = min(self._n, len(self._m))
        if not n:
            return None
        return _nearest(self._m, self._half_sq, n, np.ascontiguousarray(v, dtype=np.float32), min(self._k, n))

    def add(self, v: np.ndarray) -> None:
        v = np.ascontiguousarray(v, dtype=np.float32)
        _observe(self._m, self._half_sq, 0, v, 1, self._n % len(self._m))  # no rows to search: a store only
        self._n += 1

    @staticmethod
    def warm_up(dim: int) -> None:
        """Compile (or load from numba's cache) the window's kernels now rather than in the first ``infer``."""
        window = VectorWindow(2, dim, 1)
        window.observe(np.zeros(dim, np.float32))
        window.observe(np.ones(dim, np.float32))

    def observe(self, v: np.ndarray) -> float | None:
        """:meth:`distance` of ``v``, then :meth:`add` it: one compiled call (each ``infer`` does both)."""
        n = len(self)
        v = np.ascontiguousarray(v, dtype=np.float32)
        d = _observe(self._m, self._half_sq, n, v, min(self._k, max(n, 1)), self._n % len(self._m))
        self._n += 1
        return d if n else None


@jit(fastmath=True)
def _observe(
    m: np.ndarray, half_sq: np.ndarray, n: int, v: np.ndarray, k: int, slot: int
) -> float:  # pragma: no cover - compiled by numba
    """:func:`_nearest` over the first ``n`` rows (0.0 when ``n`` is 0), then ``v`` into row ``slot``."""
    d = _nearest(m, half_sq, n, v, k) if n else 0.0
    vv = np.float32(0.0)
    for c in range(v.size):
        m[slot, c] = v[c]
        vv += v[c] * v[c]
    half_sq[slot] = 0.5 * vv
    return d


@jit(fastmath=True)
def _nearest(
    m: np.ndarray, half_sq: np.ndarray, n: int, v: np.ndarray, k: int
) -> float:  # pragma: no cover - compiled by numba
    """Mean distance from ``v`` to its ``k`` nearest rows among the first ``n`` of ``m`` (``half_sq``: half
    their squared norms): the ``k`` smallest ``half_sq - m . v`` kept in a sorted buffer."""
    best = np.full(k, np.inf)
    for r in range(n):
        dot = np.float32(0.0)
        for c in range(v.size):
            dot += m[r, c] * v[c]
        d = half_sq[r] - dot
        if d < best[k - 1]:
            j = k - 1
            while j > 0 and best[j - 1] > d:
                best[j] = best[j - 1]
                j -= 1
            best[j] = d
    vv = 0.0
    for c in range(v.size):
        vv += v[c] * v[c]
    return math.sqrt(max(2.0 * best.mean() + vv, 0.0))
