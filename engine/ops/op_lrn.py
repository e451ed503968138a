"""LRN: x / (bias + alpha / size * sum of x^2 over a window of ``size`` neighbouring channels) ** beta."""

from __future__ import annotations

import numpy as np

from engine.ops._nn import compute_dtype
from engine.ops.registry import register


@register("LRN", since=1)
def lrn(x, *, size: int, alpha: float = 0.0001, beta: float = 0.75, bias: float = 1.0) -> tuple[np.ndarray]:
    ct = compute_dtype(x.dtype)
    xc = x.astype(ct, copy=False)
    sq = xc * xc
    lo, hi = (size - 1) // 2, size - 1 - (size - 1) // 2
    c = x.shape[1]
    cs = np.cumsum(sq, axis=1)
    cs = np.concatenate([np.zeros_like(cs[:, :1]), cs], axis=1)
    top = np.minimum(np.arange(c) + hi + 1, c)
    bot = np.maximum(np.arange(c) - lo, 0)
    square_sum = np.take(cs, top, axis=1) - np.take(cs, bot, axis=1)
    y = xc / (ct.type(bias) + ct.type(alpha / size) * square_sum) ** ct.type(beta)
    return (y.astype(x.dtype, copy=False),)
