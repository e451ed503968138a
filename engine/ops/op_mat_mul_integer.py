"""MatMulInteger: int32 matmul of (A - a_zero_point) and (B - b_zero_point); zero points per tensor,
per row of A or per column of B. Accumulates in float64 (exact for 8-bit operands) to use BLAS."""

from __future__ import annotations

import numpy as np

from engine.ops._reduce import per_row
from engine.ops.registry import register


def shifted_matmul(
    a: np.ndarray, b: np.ndarray, a_zero_point: np.ndarray | None, b_zero_point: np.ndarray | None
) -> np.ndarray:
    """(a - a_zp) @ (b - b_zp) as float64 (exact integers)."""
    af = a.astype(np.float64)
    azp = per_row(a_zero_point, a.ndim)
    if np.any(azp):
        af -= np.asarray(azp, dtype=np.float64)
    bf = b.astype(np.float64)
    if b_zero_point is not None and np.any(b_zero_point):
        bf -= np.asarray(b_zero_point, dtype=np.float64)
    return np.asarray(np.matmul(af, bf))


@register("MatMulInteger", since=10)
def mat_mul_integer(
    a: np.ndarray,
    b: np.ndarray,
    a_zero_point: np.ndarray | None = None,
    b_zero_point: np.ndarray | None = None,
) -> tuple[np.ndarray]:
    return (shifted_matmul(a, b, a_zero_point, b_zero_point).astype(np.int32),)
