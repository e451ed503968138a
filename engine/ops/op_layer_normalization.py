"""LayerNormalization: normalize over the axes from ``axis`` on, then scale and optional bias; also returns
Mean and InvStdDev (reduced axes kept as size 1); statistics are computed in float32 for stash_type=1."""

from __future__ import annotations

import numpy as np

from engine.ops._nn import compute_dtype, norm_axis
from engine.ops.registry import register


@register("LayerNormalization", since=17)
def layer_normalization(x, scale, b=None, *, axis: int = -1, epsilon: float = 1e-5,
                        stash_type: int = 1) -> tuple[np.ndarray, ...]:
    axis = norm_axis(axis, x.ndim)
    ct = compute_dtype(x.dtype) if stash_type == 1 else np.dtype(x.dtype)
    axes = tuple(range(axis, x.ndim))
    xc = x.astype(ct, copy=False)
    mean = xc.mean(axis=axes, keepdims=True)
    d = xc - mean
    var = np.mean(d * d, axis=axes, keepdims=True)
    inv = 1.0 / np.sqrt(var + ct.type(epsilon))
    y = d * inv * scale.astype(ct, copy=False)
    if b is not None:
        y += b.astype(ct, copy=False)
    return (y.astype(x.dtype, copy=False), mean.astype(x.dtype, copy=False), inv.astype(x.dtype, copy=False))
