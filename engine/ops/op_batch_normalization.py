"""BatchNormalization: (x - mean) / sqrt(var + eps) * scale + B per channel (axis 1); training_mode
(opset 14+) normalizes with the batch statistics and also returns the momentum-updated running mean and
variance."""

from __future__ import annotations

import numpy as np

from engine.ops._nn import compute_dtype
from engine.ops.registry import register


def _bshape(x: np.ndarray) -> tuple[int, ...]:
    return (1, x.shape[1]) + (1,) * (x.ndim - 2) if x.ndim >= 2 else (-1,)


def _normalize(x, scale, b, mean, var, epsilon):
    ct = compute_dtype(x.dtype)
    shape = _bshape(x)
    inv = 1.0 / np.sqrt(var.astype(ct).reshape(shape) + ct.type(epsilon))
    a = scale.astype(ct).reshape(shape) * inv
    c = b.astype(ct).reshape(shape) - mean.astype(ct).reshape(shape) * a
    return (x.astype(ct, copy=False) * a + c).astype(x.dtype, copy=False)


@register("BatchNormalization", since=9)
def batch_normalization_v9(x, scale, b, input_mean, input_var, *, epsilon: float = 1e-5,
                           momentum: float = 0.9) -> tuple[np.ndarray, ...]:
    return (_normalize(x, scale, b, input_mean, input_var, epsilon),)


@register("BatchNormalization", since=14)
def batch_normalization_v14(x, scale, b, input_mean, input_var, *, epsilon: float = 1e-5,
                            momentum: float = 0.9, training_mode: int = 0) -> tuple[np.ndarray, ...]:
    if not training_mode:
        return (_normalize(x, scale, b, input_mean, input_var, epsilon),)
    ct = compute_dtype(x.dtype)
    axes = (0,) + tuple(range(2, x.ndim))
    xc = x.astype(ct, copy=False)
    mean = xc.mean(axis=axes)
    var = xc.var(axis=axes)
    y = _normalize(x, scale, b, mean, var, epsilon)
    m = ct.type(momentum)
    running_mean = input_mean.astype(ct) * m + mean * (1 - m)
    running_var = input_var.astype(ct) * m + var * (1 - m)
    return (y, running_mean.astype(input_mean.dtype), running_var.astype(input_var.dtype))
