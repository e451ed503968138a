"""AveragePool: windowed mean with pads/auto_pad, ceil_mode (windows past the padded input never count),
dilations (opset 19) and count_include_pad."""

from __future__ import annotations

import numpy as np

from engine.ops._nn_pool import pool_nd
from engine.ops.registry import register


@register("AveragePool", since=1)
def average_pool(x, *, auto_pad: str = "NOTSET", ceil_mode: int = 0, count_include_pad: int = 0,
                 dilations: list[int] | None = None, kernel_shape: list[int], pads: list[int] | None = None,
                 strides: list[int] | None = None) -> tuple[np.ndarray]:
    return pool_nd(x, "avg", kernel_shape=kernel_shape, strides=strides, dilations=dilations, pads=pads,
                   auto_pad=auto_pad, ceil_mode=ceil_mode, count_include_pad=count_include_pad)
