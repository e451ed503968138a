"""LpPool: (sum over each window of |x|^p)^(1/p), zero padding, with ceil_mode and dilations (opset 18)."""

from __future__ import annotations

import numpy as np

from engine.ops._nn_pool import pool_nd
from engine.ops.registry import register


@register("LpPool", since=2)
def lp_pool(x, *, auto_pad: str = "NOTSET", ceil_mode: int = 0, dilations: list[int] | None = None,
            kernel_shape: list[int], p: int = 2, pads: list[int] | None = None,
            strides: list[int] | None = None) -> tuple[np.ndarray]:
    return pool_nd(x, "lp", kernel_shape=kernel_shape, strides=strides, dilations=dilations, pads=pads,
                   auto_pad=auto_pad, ceil_mode=ceil_mode, p=p)
