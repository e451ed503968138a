"""Compress: keep the slices along ``axis`` where ``condition`` is true (flattened input when no axis).

``condition`` may be shorter than the axis: missing entries count as false.
"""

from __future__ import annotations

import numpy as np

from engine.ops._tensor import normalize_axis
from engine.ops.registry import register


@register("Compress", since=9)
def compress(data: np.ndarray, condition: np.ndarray, *, axis: int | None = None) -> tuple[np.ndarray]:
    cond = condition.reshape(-1).astype(np.bool_, copy=False)
    if axis is None:
        data = data.reshape(-1)
        axis = 0
    axis = normalize_axis(axis, data.ndim)
    if cond.size > data.shape[axis]:
        raise ValueError(f"Compress: condition longer ({cond.size}) than axis ({data.shape[axis]})")
    return (np.compress(cond, data, axis=axis),)
