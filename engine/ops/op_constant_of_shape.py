"""ConstantOfShape: the given shape filled with ``value`` (a one-element tensor; default float32 0)."""

from __future__ import annotations

import numpy as np

from engine.ops._tensor import int_list
from engine.ops.registry import register


@register("ConstantOfShape", since=9)
def constant_of_shape(shape: np.ndarray, *, value: np.ndarray | None = None) -> tuple[np.ndarray]:
    dims = int_list(shape)
    if any(d < 0 for d in dims):
        raise ValueError(f"ConstantOfShape: negative dimension in {dims}")
    if value is None:
        return (np.zeros(dims, dtype=np.float32),)
    fill = np.asarray(value)
    if fill.size != 1:
        raise ValueError("ConstantOfShape: value must hold exactly one element")
    return (np.full(dims, fill.reshape(-1)[0], dtype=fill.dtype),)
