"""MaxPool: windowed maximum with pads/auto_pad, ceil_mode, dilations, and the optional Indices output
(flat input positions, row- or column-major per storage_order)."""

from __future__ import annotations

import numpy as np

from engine.ops._nn_pool import pool_nd
from engine.ops.registry import register


@register("MaxPool", since=1)
def max_pool(x, *, auto_pad: str = "NOTSET", ceil_mode: int = 0, dilations: list[int] | None = None,
             kernel_shape: list[int], pads: list[int] | None = None, storage_order: int = 0,
             strides: list[int] | None = None, _num_outputs: int = 1) -> tuple[np.ndarray, ...]:
    return pool_nd(x, "max", kernel_shape=kernel_shape, strides=strides, dilations=dilations, pads=pads,
                   auto_pad=auto_pad, ceil_mode=ceil_mode, storage_order=storage_order,
                   with_indices=_num_outputs > 1)
