"""Gemm: alpha * A' @ B' + beta * C with optional transposes and a unidirectionally broadcast, optional C."""

from __future__ import annotations

import numpy as np

from engine.ops.registry import register


@register("Gemm", since=1)
def gemm(
    a: np.ndarray,
    b: np.ndarray,
    c: np.ndarray | None = None,
    *,
    alpha: float = 1.0,
    beta: float = 1.0,
    transA: int = 0,
    transB: int = 0,
    broadcast: int = 0,
) -> tuple[np.ndarray]:
    dtype = a.dtype
    if transA:
        a = a.T
    if transB:
        b = b.T
    if dtype == np.float16:
        a = a.astype(np.float32)
        b = b.astype(np.float32)
    y = np.matmul(a, b)
    if alpha != 1.0:
        y = y * (alpha if np.issubdtype(y.dtype, np.floating) else np.float64(alpha))
    if c is not None and beta != 0.0:
        if beta != 1.0:
            c = c * (beta if np.issubdtype(c.dtype, np.floating) else np.float64(beta))
        y = y + c
    return (np.asarray(y).astype(dtype, copy=False),)
