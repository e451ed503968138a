"""GatherElements: ``out[i][j][k] = data[i][indices[i][j][k]][k]`` along ``axis`` (negative indices wrap)."""

from __future__ import annotations

import numpy as np

from engine.ops._tensor import normalize_axis, wrap_indices
from engine.ops.registry import register


@register("GatherElements", since=11)
def gather_elements(data: np.ndarray, indices: np.ndarray, *, axis: int = 0) -> tuple[np.ndarray]:
    axis = normalize_axis(axis, data.ndim)
    if indices.ndim != data.ndim:
        raise ValueError("GatherElements: data and indices must have the same rank")
    if any(i > d for a, (i, d) in enumerate(zip(indices.shape, data.shape, strict=True)) if a != axis):
        raise ValueError(f"GatherElements: indices shape {indices.shape} exceeds data shape {data.shape}")
    # Open grids for the other axes: indices may be smaller than data there (take_along_axis would broadcast).
    key: list[np.ndarray] = list(np.indices(indices.shape, sparse=True))
    key[axis] = wrap_indices(indices, data.shape[axis])
    return (data[tuple(key)],)
