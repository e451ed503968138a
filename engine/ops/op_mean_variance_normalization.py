"""MeanVarianceNormalization: (x - mean) / (sqrt(E[x^2] - E[x]^2) + 1e-9) over ``axes``."""

from __future__ import annotations

import numpy as np

from engine.ops._nn import compute_dtype
from engine.ops.registry import register


@register("MeanVarianceNormalization", since=9)
def mean_variance_normalization(x, *, axes: list[int] | None = None) -> tuple[np.ndarray]:
    red = tuple(axes) if axes is not None else (0, 2, 3)
    ct = compute_dtype(x.dtype)
    xc = x.astype(ct, copy=False)
    mean = xc.mean(axis=red, keepdims=True)
    var = np.mean(xc * xc, axis=red, keepdims=True) - mean * mean
    y = (xc - mean) / (np.sqrt(np.maximum(var, 0)) + ct.type(1e-9))
    return (y.astype(x.dtype, copy=False),)
