"""Einsum: numpy einsum (optimize=True) of the equation with spaces removed; output in the inputs' dtype."""

from __future__ import annotations

import numpy as np

from engine.ops.registry import register


@register("Einsum", since=12)
def einsum(*inputs: np.ndarray, equation: str) -> tuple[np.ndarray]:
    eq = equation.replace(" ", "")
    dtype = inputs[0].dtype
    ops = [x.astype(np.float32) for x in inputs] if dtype == np.float16 else inputs
    out = np.einsum(eq, *ops, optimize=len(ops) > 1)
    return (np.asarray(out).astype(dtype, copy=False),)
