"""Overrides of MatMul and FusedMatMul (ai.ronn) whose right operand is a weight: the pre-packed GEMM of
:mod:`engine.kernels._gemm_packed`, with the bias and Relu/Clip in its store and Gelu (either form) in one
numba pass after.

Taken when B is a read-only float32 matrix (an initializer or a folded constant), A is float32 with at least
8 rows, and one intra-op thread runs (the kernel is serial; with more threads OpenBLAS's parallel GEMM is
faster). Anything else returns NotImplemented and the reference (numpy's matmul) runs.
"""

from __future__ import annotations

import numba
import numpy as np

from engine.kernels import _gemm_packed
from engine.kernels.ops_activation import gelu_in_place
from engine.ops.op_fused_activation import apply_activation
from engine.ops.op_fused_mat_mul import fused_mat_mul as _fused_mat_mul_reference
from engine.ops.registry import register

# fused activations the GEMM's store applies: (lo, hi) from the activation's parameters
_CLAMPS = {"Relu": lambda p: (0.0, np.inf), "Clip": lambda p: (p[0], p[1]) if len(p) == 2 else None}


def _packed_ok(a: np.ndarray, b: np.ndarray) -> bool:
    return _gemm_packed.usable(a, b) and numba.get_num_threads() == 1


@register("MatMul", since=1, override="numba")
def mat_mul(a, b):  # type: ignore[no-untyped-def]
    if not _packed_ok(a, b):
        return NotImplemented
    return (_gemm_packed.matmul(a, b),)


@register("FusedMatMul", domain="ai.ronn", since=1, override="numba")
def fused_mat_mul(a, b, bias=None, *, activation: str = "", activation_params: list[float] | None = None):  # type: ignore[no-untyped-def]
    flat_bias = bias is None or (bias.dtype == np.float32 and bias.size == b.shape[-1]
                                 and bias.ndim >= 1 and bias.shape[-1] == bias.size)
    if _packed_ok(a, b) and flat_bias:
        clamp = _CLAMPS.get(activation, lambda p: None)(activation_params or [])
        y = _gemm_packed.matmul(a, b, None if bias is None else bias.reshape(-1), clamp=clamp)
        if clamp is not None or not activation:
            return (y,)
    elif activation in ("Gelu", "GeluTanh") and a.dtype == np.float32:
        (y,) = _fused_mat_mul_reference(a, b, bias)
    else:
        return NotImplemented
    if gelu_in_place(y, activation) is not NotImplemented:
        return (y,)
    return (apply_activation(y, activation, activation_params),)
