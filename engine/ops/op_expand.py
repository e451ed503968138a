"""Expand: broadcast ``input`` and ``shape`` bidirectionally (a 1 in ``shape`` keeps the input's dim)."""

from __future__ import annotations

import numpy as np

from engine.ops._tensor import int_list
from engine.ops.registry import register


@register("Expand", since=8)
def expand(data: np.ndarray, shape: np.ndarray) -> tuple[np.ndarray]:
    out_shape = np.broadcast_shapes(data.shape, tuple(int_list(shape)))
    # A read-only broadcast view: kernels never write their inputs, and the session copies read-only outputs.
    return (np.broadcast_to(data, out_shape),)
