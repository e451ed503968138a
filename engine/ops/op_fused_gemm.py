"""FusedGemm (ai.ronn): Gemm followed by an activation, made by the ``activation_fusion`` pass.

Attributes are Gemm's plus ``activation`` and ``activation_params`` (see ``op_fused_activation``).
"""

from __future__ import annotations

import numpy as np

from engine.ops.op_fused_activation import apply_activation
from engine.ops.op_gemm import gemm
from engine.ops.registry import register


@register("FusedGemm", domain="ai.ronn", since=1)
def fused_gemm(
    a,
    b,
    c=None,
    *,
    alpha: float = 1.0,
    beta: float = 1.0,
    transA: int = 0,
    transB: int = 0,
    activation: str = "",
    activation_params: list[float] | None = None,
) -> tuple[np.ndarray]:
    (y,) = gemm(a, b, c, alpha=alpha, beta=beta, transA=transA, transB=transB)
    return (apply_activation(y, activation, activation_params),)
