"""DequantizeLinear: (x - zero_point) * scale per tensor, per axis or per block, in the scale's type.

``output_dtype`` (opset 23+) overrides the output type. Float8 / int4 inputs are not supported.
"""

from __future__ import annotations

import numpy as np

from engine.ops._reduce import broadcast_param, onnx_dtype
from engine.ops.registry import register


@register("DequantizeLinear", since=10)
def dequantize_linear(
    x: np.ndarray,
    x_scale: np.ndarray,
    x_zero_point: np.ndarray | None = None,
    *,
    axis: int = 1,
    block_size: int = 0,
    output_dtype: int = 0,
) -> tuple[np.ndarray]:
    out_dtype = onnx_dtype(output_dtype) if output_dtype else x_scale.dtype
    work = np.float64 if x.dtype.itemsize >= 4 or x_scale.dtype == np.float64 else np.float32
    y: np.ndarray = x.astype(work)
    if x_zero_point is not None:
        y -= broadcast_param(x_zero_point, x, axis, block_size).astype(work)
    y *= broadcast_param(x_scale, x, axis, block_size).astype(work)
    return (y.astype(out_dtype, copy=False),)
