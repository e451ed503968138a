"""CumProd: cumulative product along the axis given as a tensor input, with exclusive/reverse; dtype kept."""

from __future__ import annotations

import numpy as np

from engine.ops._tensor import normalize_axis
from engine.ops.registry import register


@register("CumProd", since=26)
def cum_prod(x: np.ndarray, axis: np.ndarray, *, exclusive: int = 0, reverse: int = 0) -> tuple[np.ndarray]:
    ax = normalize_axis(int(np.asarray(axis).reshape(-1)[0]), x.ndim)
    data = np.flip(x, axis=ax) if reverse else x
    if exclusive:
        # shift by one along the axis, filling the first slot with the multiplicative identity
        shifted = np.ones_like(data)
        head = (slice(None),) * ax
        shifted[head + (slice(1, None),)] = data[head + (slice(0, -1),)]
        data = shifted
    acc = np.float32 if x.dtype == np.float16 else x.dtype
    out = np.cumprod(data, axis=ax, dtype=acc)
    if reverse:
        out = np.flip(out, axis=ax)
    return (np.ascontiguousarray(out).astype(x.dtype, copy=False),)
