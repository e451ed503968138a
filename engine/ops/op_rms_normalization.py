"""RMSNormalization: x / sqrt(mean(x^2 over axes from ``axis``) + epsilon) * scale, computed in float32 for
stash_type=1."""

from __future__ import annotations

import numpy as np

from engine.ops._nn import compute_dtype, norm_axis
from engine.ops.registry import register


@register("RMSNormalization", since=23)
def rms_normalization(x, scale, *, axis: int = -1, epsilon: float = 1e-5,
                      stash_type: int = 1) -> tuple[np.ndarray]:
    axis = norm_axis(axis, x.ndim)
    ct = compute_dtype(x.dtype) if stash_type == 1 else np.dtype(x.dtype)
    axes = tuple(range(axis, x.ndim))
    xc = x.astype(ct, copy=False)
    inv = 1.0 / np.sqrt(np.mean(xc * xc, axis=axes, keepdims=True) + ct.type(epsilon))
    y = xc * inv * scale.astype(ct, copy=False)
    return (y.astype(x.dtype, copy=False),)
