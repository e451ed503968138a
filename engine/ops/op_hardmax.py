"""Hardmax: one-hot of the first maximum along ``axis``; opset < 13 coerces the input to 2D at ``axis``."""

from __future__ import annotations

import numpy as np

from engine.ops._nn import coerce_2d, norm_axis
from engine.ops.registry import register


def _hardmax(x: np.ndarray, axis: int) -> np.ndarray:
    idx = np.expand_dims(np.argmax(x, axis=axis), axis)
    out = np.zeros_like(x)
    np.put_along_axis(out, idx, 1, axis=axis)
    return out


@register("Hardmax", since=1)
def hardmax_v1(x: np.ndarray, *, axis: int = 1) -> tuple[np.ndarray]:
    return (_hardmax(coerce_2d(x, axis), 1).reshape(x.shape),)


@register("Hardmax", since=13)
def hardmax_v13(x: np.ndarray, *, axis: int = -1) -> tuple[np.ndarray]:
    if x.ndim == 0:
        return (np.ones_like(x),)
    return (_hardmax(x, norm_axis(axis, x.ndim)),)
