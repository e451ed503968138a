"""ArgMax: int64 index of the maximum along ``axis``; ties take the first index unless select_last_index."""

from __future__ import annotations

import numpy as np

from engine.ops._reduce import arg_extreme
from engine.ops.registry import register


@register("ArgMax", since=1)
def arg_max(
    data: np.ndarray, *, axis: int = 0, keepdims: int = 1, select_last_index: int = 0
) -> tuple[np.ndarray]:
    return (arg_extreme(data, axis, keepdims, select_last_index, is_max=True),)
