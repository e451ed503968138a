"""GlobalAveragePool / GlobalMaxPool / GlobalLpPool: reduce every spatial axis, keeping them as size 1."""

from __future__ import annotations

import numpy as np

from engine.ops._nn import compute_dtype
from engine.ops.registry import register


def _axes(x: np.ndarray) -> tuple[int, ...]:
    return tuple(range(2, x.ndim))


@register("GlobalAveragePool", since=1)
def global_average_pool(x) -> tuple[np.ndarray]:
    y = np.mean(x, axis=_axes(x), keepdims=True, dtype=compute_dtype(x.dtype))
    return (y.astype(x.dtype, copy=False),)


@register("GlobalMaxPool", since=1)
def global_max_pool(x) -> tuple[np.ndarray]:
    return (np.max(x, axis=_axes(x), keepdims=True),)


@register("GlobalLpPool", since=2)
def global_lp_pool(x, *, p: int = 2) -> tuple[np.ndarray]:
    ct = compute_dtype(x.dtype)
    a = np.abs(x.astype(ct, copy=False))
    y = np.sum(a ** ct.type(p), axis=_axes(x), keepdims=True) ** ct.type(1.0 / p)
    return (y.astype(x.dtype, copy=False),)
