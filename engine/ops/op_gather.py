"""Gather: take entries of ``data`` along ``axis`` at ``indices`` (negative indices count from the end)."""

from __future__ import annotations

import numpy as np

from engine.ops._tensor import normalize_axis, wrap_indices
from engine.ops.registry import register


@register("Gather", since=1)
def gather(data: np.ndarray, indices: np.ndarray, *, axis: int = 0) -> tuple[np.ndarray]:
    axis = normalize_axis(axis, data.ndim)
    idx = wrap_indices(indices, data.shape[axis])
    return (np.asarray(np.take(data, idx, axis=axis)),)  # 0-d indices on 1-D data give a numpy scalar
