"""QLinearMatMul: saturate(round((A - a_zp) @ (B - b_zp) * a_scale * b_scale / y_scale) + y_zp);
scales / zero points per tensor, per row of A or per column of B; output in y_zero_point's type."""

from __future__ import annotations

import numpy as np

from engine.ops._reduce import per_row, saturate_round, shifted_matmul
from engine.ops.registry import register


@register("QLinearMatMul", since=10)
def q_linear_mat_mul(
    a: np.ndarray,
    a_scale: np.ndarray,
    a_zero_point: np.ndarray | None,
    b: np.ndarray,
    b_scale: np.ndarray,
    b_zero_point: np.ndarray | None,
    y_scale: np.ndarray,
    y_zero_point: np.ndarray | None = None,
) -> tuple[np.ndarray]:
    acc = shifted_matmul(a, b, a_zero_point, b_zero_point)
    sa = np.asarray(per_row(a_scale, a.ndim), dtype=np.float32)
    multiplier = (sa * b_scale.astype(np.float32)) / y_scale.astype(np.float32)
    y = np.rint(acc * multiplier.astype(np.float64))
    out_dtype = y_zero_point.dtype if y_zero_point is not None else a.dtype
    if y_zero_point is not None:
        y += y_zero_point.astype(np.float64)
    return (saturate_round(y, out_dtype),)
