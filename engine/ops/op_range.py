"""Range: ``start + i * delta`` for ``i < max(ceil((limit - start) / delta), 0)``, in the inputs' dtype."""

from __future__ import annotations

import math

import numpy as np

from engine.ops._tensor import scalar
from engine.ops.registry import register


@register("Range", since=11)
def range_(start: np.ndarray, limit: np.ndarray, delta: np.ndarray) -> tuple[np.ndarray]:
    dtype = start.dtype
    s, lim, d = scalar(start), scalar(limit), scalar(delta)
    if d == 0:
        raise ValueError("Range: delta cannot be 0")
    count = max(math.ceil((lim - s) / d), 0) if dtype.kind == "f" else max(-((s - lim) // d), 0)
    out = np.arange(count, dtype=dtype)
    out *= np.asarray(d, dtype=dtype)
    out += np.asarray(s, dtype=dtype)
    return (out,)
