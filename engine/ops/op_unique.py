"""Unique: unique values (or slices along ``axis``) with first-occurrence indices, inverse indices and counts.

``sorted=1`` orders the uniques ascending; ``sorted=0`` keeps first-occurrence order. Index outputs are int64.
"""

from __future__ import annotations

import numpy as np

from engine.ops._tensor import normalize_axis
from engine.ops.registry import register


@register("Unique", since=11)
def unique(data: np.ndarray, *, axis: int | None = None, sorted: int = 1) -> tuple[np.ndarray, ...]:
    if axis is None:
        data = data.reshape(-1)
        axis = 0
    else:
        axis = normalize_axis(axis, data.ndim)
    y, first, inverse, counts = np.unique(
        data, return_index=True, return_inverse=True, return_counts=True, axis=axis
    )
    inverse = inverse.reshape(-1)
    if not sorted:
        order = np.argsort(first, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        y = np.take(y, order, axis=axis)
        first, counts, inverse = first[order], counts[order], rank[inverse]
    return (
        y,
        first.astype(np.int64, copy=False),
        inverse.astype(np.int64, copy=False),
        counts.astype(np.int64, copy=False),
    )
