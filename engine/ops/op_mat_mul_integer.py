"""MatMulInteger: int32 matmul of (A - a_zero_point) and (B - b_zero_point); zero points per tensor,
per row of A or per column of B. Accumulates in float64 (exact for 8-bit operands) to use BLAS."""

from __future__ import annotations

import numpy as np

from engine.ops._reduce import shifted_matmul
from engine.ops.registry import register


@register("MatMulInteger", since=10)
def mat_mul_integer(
    a: np.ndarray,
    b: np.ndarray,
    a_zero_point: np.ndarray | None = None,
    b_zero_point: np.ndarray | None = None,
) -> tuple[np.ndarray]:
    return (shifted_matmul(a, b, a_zero_point, b_zero_point).astype(np.int32),)
