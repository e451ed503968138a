"""FusedMatMul (ai.ronn): ``activation(A @ B + bias)`` for an N-D ``A``, a 2-D ``B`` and a bias broadcast
along the last axis, made by the ``matmul_add_fusion`` pass where Gemm (2-D only) does not apply.

An N-D ``A`` is flattened to 2-D so the product is one BLAS call rather than one per leading index, and the
bias is added in place. Other shapes (batched ``B``, 1-D operands) fall back to the standard MatMul kernel.
"""

from __future__ import annotations

import numpy as np

from engine.ops.op_fused_activation import apply_activation
from engine.ops.op_mat_mul import mat_mul
from engine.ops.registry import register


@register("FusedMatMul", domain="ai.ronn", since=1)
def fused_mat_mul(
    a, b, bias=None, *, activation: str = "", activation_params: list[float] | None = None
) -> tuple[np.ndarray]:
    if a.ndim > 2 and b.ndim == 2 and a.dtype != np.float16 and a.flags.c_contiguous:
        y = np.matmul(a.reshape(-1, a.shape[-1]), b).reshape(*a.shape[:-1], b.shape[-1])
    else:
        (y,) = mat_mul(a, b)
    if bias is not None:
        if np.broadcast_shapes(y.shape, bias.shape) == y.shape and y.flags.writeable:
            y += bias.astype(y.dtype, copy=False)
        else:
            y = (y + bias).astype(a.dtype, copy=False)
    return (apply_activation(y, activation, activation_params),)
