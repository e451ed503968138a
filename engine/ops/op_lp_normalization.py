"""LpNormalization: x / ||x||_p along ``axis`` (p in {1, 2}); a zero norm gives 0."""

from __future__ import annotations

import numpy as np

from engine.ops._nn import norm_axis
from engine.ops.registry import register


@register("LpNormalization", since=1)
def lp_normalization(x, *, axis: int = -1, p: int = 2) -> tuple[np.ndarray]:
    axis = norm_axis(axis, x.ndim)
    if p == 1:
        norm = np.sum(np.abs(x), axis=axis, keepdims=True)
    elif p == 2:
        norm = np.sqrt(np.sum(x * x, axis=axis, keepdims=True))
    else:
        raise ValueError(f"LpNormalization supports p=1 or p=2, got {p}")
    safe = np.where(norm == 0, 1, norm).astype(x.dtype, copy=False)
    y = np.where(norm == 0, 0, x / safe)
    return (y.astype(x.dtype, copy=False),)
