"""QuantizeLinear: saturate(round_half_even(x / scale) + zero_point) per tensor, per axis or per block.

The output type is the zero point's, else ``output_dtype`` (default uint8).
Float8 / int4 outputs are not supported.
"""

from __future__ import annotations

import numpy as np

from engine.ops._reduce import broadcast_param, onnx_dtype, saturate_round
from engine.ops.registry import register


@register("QuantizeLinear", since=10)
def quantize_linear(
    x: np.ndarray,
    y_scale: np.ndarray,
    y_zero_point: np.ndarray | None = None,
    *,
    axis: int = 1,
    saturate: int = 1,
    block_size: int = 0,
    output_dtype: int = 0,
    precision: int = 0,
) -> tuple[np.ndarray]:
    if y_zero_point is not None:
        out_dtype = y_zero_point.dtype
        if output_dtype and onnx_dtype(output_dtype) != out_dtype:
            raise ValueError("QuantizeLinear output_dtype does not match the zero point's type")
    else:
        out_dtype = onnx_dtype(output_dtype) if output_dtype else np.dtype(np.uint8)
    if not np.issubdtype(out_dtype, np.integer):
        raise ValueError(f"QuantizeLinear to {out_dtype} is not supported")
    scale = broadcast_param(y_scale, x, axis, block_size)
    if precision:
        work = onnx_dtype(precision)
        q = x.astype(work, copy=False) / scale.astype(work, copy=False)
    else:
        q = x / scale
    q = np.rint(q)
    if y_zero_point is not None:
        q = q + broadcast_param(y_zero_point, x, axis, block_size).astype(np.float64)
    return (saturate_round(q, out_dtype),)
