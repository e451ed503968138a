"""Shape: the input's shape as 1-D int64, optionally sliced by ``start``/``end`` (opset 15, clamped)."""

from __future__ import annotations

import numpy as np

from engine.ops.registry import register


@register("Shape", since=1)
def shape(data: np.ndarray, *, start: int = 0, end: int | None = None) -> tuple[np.ndarray]:
    return (np.asarray(data.shape[start:end], dtype=np.int64),)
