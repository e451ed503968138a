"""GroupNormalization: normalize over (channels of a group, spatial) per sample; opset 18 has one scale/bias
per group, opset 21 one per channel (and stash_type)."""

from __future__ import annotations

import numpy as np

from engine.ops._nn import compute_dtype
from engine.ops.registry import register


def _group_norm(x, num_groups, epsilon, ct):
    n, c = x.shape[0], x.shape[1]
    if c % num_groups:
        raise ValueError("channels must be divisible by num_groups")
    xg = x.astype(ct, copy=False).reshape(n, num_groups, -1)
    mean = xg.mean(axis=2, keepdims=True)
    var = xg.var(axis=2, keepdims=True)
    return (xg - mean) / np.sqrt(var + ct.type(epsilon))


@register("GroupNormalization", since=18)
def group_normalization_v18(x, scale, bias, *, epsilon: float = 1e-5, num_groups: int) -> tuple[np.ndarray]:
    ct = compute_dtype(x.dtype)
    y = _group_norm(x, num_groups, epsilon, ct)
    y = y * scale.astype(ct).reshape(1, -1, 1) + bias.astype(ct).reshape(1, -1, 1)
    return (y.reshape(x.shape).astype(x.dtype, copy=False),)


@register("GroupNormalization", since=21)
def group_normalization_v21(x, scale, bias, *, epsilon: float = 1e-5, num_groups: int,
                            stash_type: int = 1) -> tuple[np.ndarray]:
    ct = compute_dtype(x.dtype) if stash_type == 1 else np.dtype(x.dtype)
    y = _group_norm(x, num_groups, epsilon, ct).reshape(x.shape)
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    y = y * scale.astype(ct).reshape(shape) + bias.astype(ct).reshape(shape)
    return (y.astype(x.dtype, copy=False),)
