"""ScatterND: ``data`` with ``updates`` written at the index tuples in ``indices`` (optionally reduced)."""

from __future__ import annotations

import numpy as np

from engine.ops._tensor import scatter_into, wrap_indices
from engine.ops.registry import register


@register("ScatterND", since=11)
def scatter_nd(data: np.ndarray, indices: np.ndarray, updates: np.ndarray, *,
               reduction: str = "none") -> tuple[np.ndarray]:
    k = indices.shape[-1]
    if k > data.ndim:
        raise ValueError(f"ScatterND: indices.shape[-1] = {k} exceeds data rank {data.ndim}")
    if updates.shape != indices.shape[:-1] + data.shape[k:]:
        raise ValueError(f"ScatterND: updates shape {updates.shape} does not match indices/data")
    key = tuple(wrap_indices(indices[..., i], data.shape[i]) for i in range(k))
    return (scatter_into(data.copy(), key, updates, reduction),)
