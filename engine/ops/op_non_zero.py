"""NonZero: indices of the non-zero elements as int64 of shape ``(rank, count)`` (scalars: rank 1)."""

from __future__ import annotations

import numpy as np

from engine.ops.registry import register


@register("NonZero", since=9)
def non_zero(data: np.ndarray) -> tuple[np.ndarray]:
    if data.ndim == 0:
        return (np.zeros((1, int(bool(data))), dtype=np.int64),)
    return (np.array(np.nonzero(data), dtype=np.int64).reshape(data.ndim, -1),)
