"""SwiGLU: Y = A * sigmoid(alpha * A) * B for same-shape A (gate) and B (value) (float16 via float32)."""

from __future__ import annotations

import numpy as np

from engine.ops._elementwise import sigmoid
from engine.ops.registry import register


@register("SwiGLU", since=28)
def swiglu(a: np.ndarray, b: np.ndarray, *, alpha: float = 1.0) -> tuple[np.ndarray]:
    if a.shape != b.shape:
        raise ValueError(f"SwiGLU: A {a.shape} and B {b.shape} must have the same shape")
    ct = np.float32 if a.dtype == np.float16 else a.dtype.type
    a32 = a.astype(ct, copy=False)
    with np.errstate(all="ignore"):
        y = sigmoid(a32 * ct(alpha))
        y = y * a32 * b.astype(ct, copy=False)
    return (np.asarray(y).astype(a.dtype, copy=False),)
