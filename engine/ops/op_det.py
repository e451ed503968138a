"""Det: determinant of square matrices over the last two axes (batched); float16 computed in float32."""

from __future__ import annotations

import numpy as np

from engine.ops.registry import register


@register("Det", since=11)
def det(x: np.ndarray) -> tuple[np.ndarray]:
    work = x.astype(np.float32) if x.dtype == np.float16 else x
    return (np.asarray(np.linalg.det(work)).astype(x.dtype, copy=False),)
