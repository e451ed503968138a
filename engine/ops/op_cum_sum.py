"""CumSum: cumulative sum along the axis given as a tensor input, with exclusive/reverse; dtype kept."""

from __future__ import annotations

import numpy as np

from engine.ops._reduce import normalize_axes
from engine.ops.registry import register


@register("CumSum", since=11)
def cum_sum(x: np.ndarray, axis: np.ndarray, *, exclusive: int = 0, reverse: int = 0) -> tuple[np.ndarray]:
    ax = normalize_axes([int(np.asarray(axis).reshape(-1)[0])], x.ndim)[0]
    data = np.flip(x, axis=ax) if reverse else x
    acc = np.float32 if x.dtype == np.float16 else x.dtype
    out = np.cumsum(data, axis=ax, dtype=acc)
    if exclusive:
        shifted = np.zeros_like(out)
        src = [slice(None)] * x.ndim
        dst = [slice(None)] * x.ndim
        src[ax] = slice(0, -1)
        dst[ax] = slice(1, None)
        shifted[tuple(dst)] = out[tuple(src)]
        out = shifted
    if reverse:
        out = np.flip(out, axis=ax)
    return (np.ascontiguousarray(out).astype(x.dtype, copy=False),)
