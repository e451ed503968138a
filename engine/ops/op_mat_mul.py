"""MatMul: numpy matmul semantics (1-D operands promoted then squeezed, batch broadcast); fp16 in fp32."""

from __future__ import annotations

import numpy as np

from engine.ops.registry import register


@register("MatMul", since=1)
def mat_mul(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray]:
    if a.dtype == np.float16:
        # numpy has no fp16 BLAS; accumulate in float32 and round once, like onnxruntime's fp16 kernels
        return (np.asarray(np.matmul(a.astype(np.float32), b.astype(np.float32))).astype(np.float16),)
    return (np.asarray(np.matmul(a, b)),)
