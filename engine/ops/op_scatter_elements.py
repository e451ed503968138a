"""ScatterElements: ``data`` with ``updates`` written at ``indices`` along ``axis``, optionally reduced.

Also registered as the deprecated ``Scatter`` (opsets 9-10), which is ScatterElements without reduction.
"""

from __future__ import annotations

import numpy as np

from engine.ops._tensor import normalize_axis, scatter_into, wrap_indices
from engine.ops.registry import register


def _scatter_elements(data, indices, updates, axis, reduction):
    axis = normalize_axis(axis, data.ndim)
    if indices.shape != updates.shape or indices.ndim != data.ndim:
        raise ValueError("ScatterElements: indices and updates need the same shape and data's rank")
    key = list(np.indices(indices.shape, sparse=True))
    key[axis] = wrap_indices(indices, data.shape[axis])
    return (scatter_into(data.copy(), tuple(key), updates, reduction),)


@register("ScatterElements", since=11)
def scatter_elements(data: np.ndarray, indices: np.ndarray, updates: np.ndarray, *, axis: int = 0,
                     reduction: str = "none") -> tuple[np.ndarray]:
    return _scatter_elements(data, indices, updates, axis, reduction)


@register("Scatter", since=9)
def scatter(data: np.ndarray, indices: np.ndarray, updates: np.ndarray, *,
            axis: int = 0) -> tuple[np.ndarray]:
    return _scatter_elements(data, indices, updates, axis, "none")
