"""Softmax: exp(x - max) / sum(exp(x - max)) along ``axis`` (numerically stable); opset < 13 coerces the
input to 2D at ``axis``."""

from __future__ import annotations

import numpy as np

from engine.ops._nn import coerce_2d, norm_axis, softmax
from engine.ops.registry import register


@register("Softmax", since=1)
def softmax_v1(x: np.ndarray, *, axis: int = 1) -> tuple[np.ndarray]:
    return (softmax(coerce_2d(x, axis), 1).reshape(x.shape),)


@register("Softmax", since=13)
def softmax_v13(x: np.ndarray, *, axis: int = -1) -> tuple[np.ndarray]:
    if x.ndim == 0:
        return (np.ones_like(x),)
    return (softmax(x, norm_axis(axis, x.ndim)),)
