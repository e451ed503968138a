"""Flatten: reshape to ``(prod(shape[:axis]), prod(shape[axis:]))``; ``axis`` may be rank or negative."""

from __future__ import annotations

import math

import numpy as np

from engine.ops.registry import register


@register("Flatten", since=1)
def flatten(data: np.ndarray, *, axis: int = 1) -> tuple[np.ndarray]:
    rank = data.ndim
    if not -rank <= axis <= rank:
        raise ValueError(f"Flatten: axis {axis} out of range for rank {rank}")
    if axis < 0:
        axis += rank
    return (data.reshape(math.prod(data.shape[:axis]), math.prod(data.shape[axis:])),)
