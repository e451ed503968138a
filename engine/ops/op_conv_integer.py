"""ConvInteger: int32 N-d grouped convolution of (x - x_zero_point) and (w - w_zero_point); padding uses the
zero point (so it contributes nothing); w_zero_point may be per output channel."""

from __future__ import annotations

import numpy as np

from engine.ops._reduce import conv_integer
from engine.ops.registry import register


@register("ConvInteger", since=10)
def conv_integer_op(
    x: np.ndarray,
    w: np.ndarray,
    x_zero_point: np.ndarray | None = None,
    w_zero_point: np.ndarray | None = None,
    *,
    auto_pad: str = "NOTSET",
    dilations: list[int] | None = None,
    group: int = 1,
    kernel_shape: list[int] | None = None,
    pads: list[int] | None = None,
    strides: list[int] | None = None,
) -> tuple[np.ndarray]:
    y = conv_integer(
        x, w, x_zero_point=x_zero_point, w_zero_point=w_zero_point, auto_pad=auto_pad, dilations=dilations,
        group=group, kernel_shape=kernel_shape, pads=pads, strides=strides,
    )
    return (y,)
