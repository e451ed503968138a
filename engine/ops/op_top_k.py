"""TopK: the k largest (or smallest) values along ``axis`` and int64 indices; ties keep the lower index."""

from __future__ import annotations

import numpy as np

from engine.ops._reduce import normalize_axes
from engine.ops.registry import register


def top_k_impl(x: np.ndarray, k: int, axis: int, largest: int) -> tuple[np.ndarray, np.ndarray]:
    axis = normalize_axes([axis], x.ndim)[0]
    n = x.shape[axis]
    if not 0 <= k <= n:
        raise ValueError(f"TopK k={k} is out of range for an axis of size {n}")
    if largest:
        # stable ascending sort of the reversed axis, read backwards: descending values, ties by lower index
        order = np.argsort(np.flip(x, axis=axis), axis=axis, kind="stable")
        order = np.flip(order, axis=axis)
        idx = (n - 1) - np.take(order, np.arange(k), axis=axis)
    else:
        order = np.argsort(x, axis=axis, kind="stable")
        idx = np.take(order, np.arange(k), axis=axis)
    idx = idx.astype(np.int64, copy=False)
    return np.take_along_axis(x, idx, axis=axis), idx


@register("TopK", since=1)
def top_k_attr(x: np.ndarray, *, axis: int = -1, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
    return top_k_impl(x, k, axis, largest=1)


@register("TopK", since=10)
def top_k(
    x: np.ndarray, k: np.ndarray, *, axis: int = -1, largest: int = 1, sorted: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    # unsorted output may be in any order; returning it sorted is allowed
    return top_k_impl(x, int(np.asarray(k).reshape(-1)[0]), axis, largest)
