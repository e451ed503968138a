"""InstanceNormalization: per (n, c) normalization over the spatial axes, then per-channel scale and bias."""

from __future__ import annotations

import numpy as np

from engine.ops._nn import compute_dtype
from engine.ops.registry import register


@register("InstanceNormalization", since=6)
def instance_normalization(x, scale, b, *, epsilon: float = 1e-5) -> tuple[np.ndarray]:
    ct = compute_dtype(x.dtype)
    xc = x.astype(ct, copy=False)
    axes = tuple(range(2, x.ndim))
    mean = xc.mean(axis=axes, keepdims=True)
    var = xc.var(axis=axes, keepdims=True)
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    a = scale.astype(ct).reshape(shape) / np.sqrt(var + ct.type(epsilon))
    y = (xc - mean) * a + b.astype(ct).reshape(shape)
    return (y.astype(x.dtype, copy=False),)
