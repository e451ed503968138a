"""Perception: an input becomes a Percept (validated feeds, digest, statistics); models expose their features.

The percept's feature vector comes from the model that runs first (System 1): its penultimate activations when
the graph has a final dense layer (:func:`expose_features` adds that tensor as an extra graph output), else a
fixed random projection of the input (:class:`RandomProjection`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine import ir
from engine.errors import InvalidInputError
from engine.kernels._numba import jit
from memory_store import codec

from .vectors import ProjectionKind, sparse_project, sparse_tables

#: ops whose first input is "the features" when they are the graph's last dense layer
DENSE_OPS = frozenset({"Gemm", "MatMul", "FusedGemm", "FusedMatMul", "TernaryMatMul"})
_BINS = 16
STATISTICS_SAMPLE = 4096
_LOG_BINS = math.log(_BINS)


@dataclass(frozen=True, slots=True)
class Percept:
    """A validated input: ``feeds`` for the session (batch of one), its digest and statistics."""

    feeds: dict[str, np.ndarray]
    digest: bytes  # of the input (memory_store.codec.digest) for one input; of the inputs' digests for several
    size: int
    variance: float
    entropy: float  # of a 16-bin value histogram, normalized to [0, 1]

    @property
    def complexity(self) -> float:
        """Size, variance and entropy in one score (higher: more complex); ranked by running quantiles."""
        return self.entropy * math.log2(2 + self.size) + math.log1p(self.variance)


class Perception:
    """Checks inputs against a model's declared inputs and builds percepts.

    ``infer`` takes one sample: an array for a single-input model (with or without the batch axis), or a
    ``{name: array}`` mapping. Errors are :class:`~engine.errors.InvalidInputError` naming the input, the
    expected and the received dtype/shape.
    """

    def __init__(self, inputs: list[ir.Value]) -> None:
        if not inputs:
            raise InvalidInputError("the model declares no inputs")
        self.inputs = inputs
        # a single float32/float64 input of static shape: its usual array (that dtype and shape, C order) passes
        # three comparisons and one compiled pass instead of the checks of _check (~6 µs cold, ~2 now)
        self._exact: tuple[str, np.dtype[Any], tuple[int, ...]] | None = None
        spec = inputs[0]
        sample = tuple(d for d in (spec.shape or ())[1:] if isinstance(d, int))
        if (
            len(inputs) == 1
            and spec.dtype in (np.float32, np.float64)
            and spec.shape
            and len(sample) == len(spec.shape) - 1
        ):
            self._exact = (spec.name, spec.dtype, (1, *sample))

    def perceive(self, x: Any) -> Percept:
        """Check ``x`` and build its percept (:meth:`check`, then :meth:`percept`)."""
        return self.percept(self.check(x))

    def check(self, x: Any) -> dict[str, np.ndarray]:
        """The session's feeds for one sample ``x``; InvalidInputError naming what is wrong."""
        exact = self._exact
        if exact is not None and type(x) is np.ndarray:
            name, dtype, shape = exact
            if x.shape == shape and x.dtype == dtype and x.flags.c_contiguous and _finite(x):
                return {name: x}
        if isinstance(x, Mapping):
            unknown = set(x) - {v.name for v in self.inputs}
            if unknown:
                raise InvalidInputError(
                    f"unknown input name(s) {sorted(map(str, unknown))}; the model's inputs are "
                    f"{[v.name for v in self.inputs]}"
                )
            missing = [v.name for v in self.inputs if v.name not in x]
            if missing:
                raise InvalidInputError(f"missing input(s) {missing}")
            return {v.name: self._check(v, x[v.name]) for v in self.inputs}
        if len(self.inputs) == 1:
            return {self.inputs[0].name: self._check(self.inputs[0], x)}
        raise InvalidInputError(
            f"the model has {len(self.inputs)} inputs {[v.name for v in self.inputs]}: pass a dict"
        )

    @staticmethod
    def percept(feeds: dict[str, np.ndarray]) -> Percept:
        """Digest and statistics of checked ``feeds`` (thread-safe: an agent may build it in a worker thread
        while the model runs)."""
        first = next(iter(feeds.values()))
        if len(feeds) == 1:
            digest = codec.digest(first)  # the stored episode's input digest too: the input is hashed once
        else:
            h = hashlib.blake2b(digest_size=codec.DIGEST_SIZE)
            for value in feeds.values():
                h.update(codec.digest(value))
            digest = h.digest()
        variance, entropy = _statistics(first)
        return Percept(feeds, digest, int(first.size), variance, entropy)

    @staticmethod
    def _check(spec: ir.Value, data: Any) -> np.ndarray:
        if not isinstance(data, np.ndarray):
            if isinstance(data, list | tuple | int | float | np.generic):
                try:
                    data = np.asarray(data, dtype=spec.dtype)
                except (TypeError, ValueError) as exc:
                    raise InvalidInputError(
                        f"input {spec.name!r}: cannot convert to {spec.dtype}: {exc}"
                    ) from None
            else:
                raise InvalidInputError(
                    f"input {spec.name!r} must be a numpy array, got {type(data).__name__}"
                )
        if spec.dtype is not None and data.dtype != spec.dtype:
            raise InvalidInputError(
                f"input {spec.name!r} has dtype {data.dtype}; the model expects {spec.dtype} "
                f"(convert it with .astype(np.{spec.dtype.name}))"
            )
        shape = spec.shape
        if shape is not None:
            if data.ndim == len(shape) - 1:
                data = data[None]  # one sample without its batch axis
            if data.ndim != len(shape):
                raise InvalidInputError(
                    f"input {spec.name!r} has shape {list(data.shape)}; the model expects {_shape(shape)} "
                    "(one sample, with or without the batch axis)"
                )
            if data.shape[0] != 1:
                raise InvalidInputError(
                    f"input {spec.name!r} holds a batch of {data.shape[0]}; infer takes one sample "
                    "(call it once per sample: concurrent calls share work)"
                )
            for axis, (want, got) in enumerate(zip(shape, data.shape, strict=True)):
                if axis and isinstance(want, int) and want != got:
                    raise InvalidInputError(
                        f"input {spec.name!r}: dimension {axis} must be {want}, got {got} "
                        f"(expected {_shape(shape)}, received {list(data.shape)})"
                    )
        # a finite sum proves every value finite (one reduction); an infinite one may be an overflow: look
        if data.dtype.kind == "f" and not math.isfinite(data.sum()) and not np.isfinite(data).all():
            raise InvalidInputError(f"input {spec.name!r} holds NaN or infinity")
        return np.ascontiguousarray(data)


@jit()
def _finite(x: np.ndarray) -> bool:  # pragma: no cover - compiled by numba
    """Whether every value of a float array is finite (a finite sum proves it; an infinite one may be an overflow)."""
    total = 0.0
    for v in x.flat:
        total += v
    if math.isfinite(total):
        return True
    for v in x.flat:
        if not math.isfinite(v):
            return False
    return True


def _shape(shape: tuple[Any, ...]) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def _statistics(x: np.ndarray) -> tuple[float, float]:
    """Variance and normalized 16-bin entropy of the values (this runs on every ``infer``: one numba pass,
    ~2 µs for 64 values, where ten numpy calls took ~12).

    Inputs of more than ``STATISTICS_SAMPLE`` values are measured on an even stride of that many (an
    estimate; bounded cost for large inputs).
    """
    if x.dtype.kind not in "fiub" or not x.size:
        return 0.0, 0.0
    values = x  # any shape: the kernel reads it flat
    if x.size > STATISTICS_SAMPLE:
        values = x.reshape(-1)[:: x.size // STATISTICS_SAMPLE][:STATISTICS_SAMPLE]
    if values.dtype != np.float32:
        values = values.astype(np.float32)
    variance, entropy = _moments(values)
    return float(variance), float(entropy)


@jit()
def _moments(values: np.ndarray) -> tuple[float, float]:  # pragma: no cover - compiled by numba
    """(variance, entropy / log 16) of a float32 array's values; entropy from the 16-bin counts ``c`` of the
    value range: ``H = log n - sum(c log c) / n``."""
    n = values.size
    lo = hi = values.flat[0]
    total = 0.0
    squares = 0.0
    for v in values.flat:
        lo = min(lo, v)
        hi = max(hi, v)
        total += v
        squares += v * v
    mean = total / n
    variance = max(squares / n - mean * mean, 0.0)
    if not hi > lo:
        return variance, 0.0
    counts = np.zeros(_BINS, np.int64)
    scale = (_BINS - 1e-3) / (np.float64(hi) - np.float64(lo))
    for v in values.flat:
        counts[int((np.float64(v) - lo) * scale)] += 1
    clogc = 0.0
    for c in counts:
        if c > 1:
            clogc += c * math.log(c)
    return variance, max((math.log(n) - clogc / n) / _LOG_BINS, 0.0)


class RandomProjection:
    """A fixed random projection of the flattened input to ``dim`` features (seeded: stable across runs), for a
    model whose graph exposes no penultimate activations.

    ``"sparse"`` (the default): :func:`cognition.vectors.sparse_tables`, each input value to 8 of the ``dim``
    features, one compiled pass: a 3×224×224 input took 0.75 ms where the dense matrix (39 MB of it) took 7 ms,
    after every run. ``"gaussian"``: the dense matrix, for memories whose episodes were made with it (ronn_meta
    ``episode_projection``).
    """

    def __init__(self, size: int, dim: int, seed: int, kind: ProjectionKind = "sparse") -> None:
        self.size, self.dim, self.kind = size, dim, kind
        self.matrix: np.ndarray | None = None
        if kind == "gaussian":
            rng = np.random.default_rng(seed)
            self.matrix = (rng.standard_normal((size, dim)) / math.sqrt(dim)).astype(np.float32)
        else:
            self._columns, self._signs = sparse_tables(size, dim, np.random.default_rng([seed, size, dim, 1]))

    def __call__(self, feeds: Mapping[str, np.ndarray]) -> np.ndarray:
        x = next(iter(feeds.values()))
        if self.matrix is not None:
            return x.reshape(-1).astype(np.float32, copy=False) @ self.matrix
        return sparse_project(x, self._columns, self._signs, self.dim)


def expose_features(graph: ir.Graph) -> tuple[ir.Graph, str | None]:
    """A copy of ``graph`` that also outputs the input of its last dense layer (the penultimate activations).

    Returns the graph unchanged and None when the graph has no dense layer fed by an intermediate tensor.
    """
    producers = graph.producers()
    for node in reversed(graph.nodes):
        if node.op_type in DENSE_OPS and node.inputs and node.inputs[0] in producers:
            name = node.inputs[0]
            if name in graph.output_names:
                return graph, name
            known = graph.value_info.get(name)
            value = ir.Value(name, np.dtype(np.float32), known.shape if known is not None else None)
            return dataclasses.replace(graph, outputs=[*graph.outputs, value]), name
    return graph, None
