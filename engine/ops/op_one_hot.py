"""OneHot: one-hot ``indices`` with ``depth`` classes on a new ``axis``, using ``values = [off, on]``.

Indices in ``[-depth, depth)`` are valid (negative ones wrap); others give an all-``off`` row. Non-integer
indices and depth are truncated toward zero.
"""

from __future__ import annotations

import numpy as np

from engine.ops._tensor import normalize_axis, scalar
from engine.ops.registry import register


@register("OneHot", since=9)
def one_hot(indices: np.ndarray, depth: np.ndarray, values: np.ndarray, *,
            axis: int = -1) -> tuple[np.ndarray]:
    n = int(scalar(depth))
    if n < 1:
        raise ValueError(f"OneHot: depth must be positive, got {n}")
    if values.size != 2:
        raise ValueError("OneHot: values must hold [off_value, on_value]")
    axis = normalize_axis(axis, indices.ndim + 1)
    idx = indices.astype(np.int64) if indices.dtype.kind == "f" else indices
    idx = np.where(idx < 0, idx + n, idx)
    classes = np.arange(n).reshape((n,) + (1,) * (indices.ndim - axis))
    hot = np.expand_dims(idx, axis) == classes
    off, on = values.reshape(-1)
    return (np.where(hot, on, off).astype(values.dtype, copy=False),)
