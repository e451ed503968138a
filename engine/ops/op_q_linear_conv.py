"""QLinearConv: quantized N-d grouped convolution, saturate(round(acc * x_scale * w_scale / y_scale) + y_zp)
with acc = conv(x - x_zp, w - w_zp) + B; w_scale / w_zero_point may be per output channel."""

from __future__ import annotations

import numpy as np

from engine.ops._reduce import conv_integer, saturate_round
from engine.ops.registry import register


@register("QLinearConv", since=10)
def q_linear_conv(
    x: np.ndarray,
    x_scale: np.ndarray,
    x_zero_point: np.ndarray | None,
    w: np.ndarray,
    w_scale: np.ndarray,
    w_zero_point: np.ndarray | None,
    y_scale: np.ndarray,
    y_zero_point: np.ndarray | None = None,
    b: np.ndarray | None = None,
    *,
    auto_pad: str = "NOTSET",
    dilations: list[int] | None = None,
    group: int = 1,
    kernel_shape: list[int] | None = None,
    pads: list[int] | None = None,
    strides: list[int] | None = None,
) -> tuple[np.ndarray]:
    acc = conv_integer(
        x, w, x_zero_point=x_zero_point, w_zero_point=w_zero_point, auto_pad=auto_pad, dilations=dilations,
        group=group, kernel_shape=kernel_shape, pads=pads, strides=strides,
    ).astype(np.float64)
    bshape = (1, -1) + (1,) * (x.ndim - 2)
    if b is not None:
        acc += b.astype(np.float64).reshape(bshape)
    ws = np.asarray(w_scale, dtype=np.float32)
    ws = ws.reshape(bshape) if ws.size > 1 else ws.reshape(())
    multiplier = (np.float32(x_scale.reshape(-1)[0]) * ws) / np.float32(y_scale.reshape(-1)[0])
    y = np.rint(acc * np.asarray(multiplier, dtype=np.float64))
    out_dtype = y_zero_point.dtype if y_zero_point is not None else x.dtype
    if y_zero_point is not None:
        y += float(y_zero_point.reshape(-1)[0])
    return (saturate_round(y, out_dtype),)
