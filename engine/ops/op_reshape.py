"""Reshape: shape from the ``shape`` input; 0 copies the input dim (unless ``allowzero``), -1 is inferred."""

from __future__ import annotations

import numpy as np

from engine.ops._tensor import int_list
from engine.ops.registry import register


@register("Reshape", since=5)
def reshape(data: np.ndarray, shape: np.ndarray, *, allowzero: int = 0) -> tuple[np.ndarray]:
    dims = int_list(shape)
    if not allowzero:
        for i, d in enumerate(dims):
            if d == 0:
                if i >= data.ndim:
                    raise ValueError(f"Reshape: 0 at position {i} but input has rank {data.ndim}")
                dims[i] = data.shape[i]
    elif 0 in dims and -1 in dims:
        raise ValueError("Reshape: allowzero=1 forbids 0 and -1 in the same shape")
    return (data.reshape(dims),)
