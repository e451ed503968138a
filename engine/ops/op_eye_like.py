"""EyeLike: 2-D, shaped like the input, ones on the ``k``-th diagonal (``dtype`` attribute or input's)."""

from __future__ import annotations

import numpy as np

from engine.ops._tensor import numpy_dtype
from engine.ops.registry import register


@register("EyeLike", since=9)
def eye_like(data: np.ndarray, *, dtype: int | None = None, k: int = 0) -> tuple[np.ndarray]:
    if data.ndim != 2:
        raise ValueError("EyeLike: input must be 2-D")
    out_dtype = numpy_dtype(dtype) if dtype is not None else data.dtype
    return (np.eye(data.shape[0], data.shape[1], k=k, dtype=out_dtype),)
