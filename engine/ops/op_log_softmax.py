"""LogSoftmax: x - max - log(sum(exp(x - max))) along ``axis``; opset < 13 coerces the input to 2D at
``axis``."""

from __future__ import annotations

import numpy as np

from engine.ops._nn import coerce_2d, log_softmax, norm_axis
from engine.ops.registry import register


@register("LogSoftmax", since=1)
def log_softmax_v1(x: np.ndarray, *, axis: int = 1) -> tuple[np.ndarray]:
    return (log_softmax(coerce_2d(x, axis), 1).reshape(x.shape),)


@register("LogSoftmax", since=13)
def log_softmax_v13(x: np.ndarray, *, axis: int = -1) -> tuple[np.ndarray]:
    if x.ndim == 0:
        return (np.zeros_like(x),)
    return (log_softmax(x, norm_axis(axis, x.ndim)),)
