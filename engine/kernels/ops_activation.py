"""numba overrides of Erf and Gelu (exact form) for float32, and of FusedMatMul/FusedGemm when their fused
activation is Gelu.

Same arithmetic as the reference (its Cephes rational approximations in float32, within 2 ulps of erf),
but fused: one numba pass evaluates both rationals and -x^2 for a block, numpy's SIMD exp runs on the block,
a second numba pass combines and restores the sign (and applies Gelu). numba's own ``math.exp`` is scalar
here (no SVML): 5x slower than numpy's. Every loop is compiled with ``error_model="numpy"``: numba's default
division check (ZeroDivisionError) stops LLVM from vectorizing it.
"""

from __future__ import annotations

import math

import numpy as np

from engine.kernels._numba import jit
from engine.ops._elementwise import _ERF_T, _ERF_U, _ERFC_P, _ERFC_Q
from engine.ops.op_fused_gemm import fused_gemm as _fused_gemm_reference
from engine.ops.op_fused_mat_mul import fused_mat_mul as _fused_mat_mul_reference
from engine.ops.registry import register

_F = np.float32
# the reference's Cephes coefficients (engine/ops/_elementwise.py), as float32 like its float32 path
T0, T1, T2, T3, T4 = (_F(c) for c in _ERF_T)
U1, U2, U3, U4, U5 = (_F(c) for c in _ERF_U[1:])
P0, P1, P2, P3, P4, P5, P6, P7, P8 = (_F(c) for c in _ERFC_P)
Q1, Q2, Q3, Q4, Q5, Q6, Q7, Q8 = (_F(c) for c in _ERFC_Q[1:])
_SQRT_HALF = _F(0.7071067811865476)
_BLOCK = 1 << 14  # elements per block: x, r, e and y blocks stay in L2
_HALF, _ONE, _FOUR = _F(0.5), _F(1.0), _F(4.0)


@jit(error_model="numpy")
def _erf_parts(x, scale, r, e):  # type: ignore[no-untyped-def]
    """Pass 1 (vectorized): for v = x * scale, r = erf(|v|) for |v| <= 1, else erfc's P/Q; e = -v^2."""
    for i in range(x.size):
        a = min(abs(x[i] * scale), _FOUR)  # erf(a) rounds to 1 beyond 4 in float32; NaN handled in pass 2
        z = a * a
        small = a * ((((T0 * z + T1) * z + T2) * z + T3) * z + T4) / (
            ((((z + U1) * z + U2) * z + U3) * z + U4) * z + U5)
        large = (((((((P0 * a + P1) * a + P2) * a + P3) * a + P4) * a + P5) * a + P6) * a + P7) * a + P8
        large /= (((((((a + Q1) * a + Q2) * a + Q3) * a + Q4) * a + Q5) * a + Q6) * a + Q7) * a + Q8
        r[i] = large if a > _ONE else small
        e[i] = -z


@jit(error_model="numpy")
def _erf_finish(x, scale, gelu, r, e, y):  # type: ignore[no-untyped-def]
    """Pass 2 (vectorized), after e = exp(e): erf = 1 - exp(-v^2) P/Q above 1, sign restored; Gelu's
    0.5 * x * (1 + erf) when ``gelu``."""
    for i in range(x.size):
        v = x[i] * scale
        t = _ONE - r[i] * e[i] if abs(v) > _ONE else r[i]
        t = math.copysign(t, v)
        t = t if v == v else v
        y[i] = _HALF * x[i] * (_ONE + t) if gelu else t


def _erf_like(x: np.ndarray, gelu: bool, out: np.ndarray | None = None):  # type: ignore[no-untyped-def]
    """Erf (or exact Gelu) of a float32 array: two numba passes around numpy's SIMD exp (numba's own exp
    is scalar here), in cache-sized blocks."""
    if x.dtype != np.float32:
        return NotImplemented
    flat = np.ascontiguousarray(x).reshape(-1)
    y = np.empty_like(flat) if out is None else out.reshape(-1)  # in place is safe: elementwise
    block = min(flat.size, _BLOCK)
    r, e = np.empty(block, np.float32), np.empty(block, np.float32)
    scale = _SQRT_HALF if gelu else _ONE
    for start in range(0, flat.size, _BLOCK):
        xs, ys = flat[start:start + _BLOCK], y[start:start + _BLOCK]
        rs, es = r[:xs.size], e[:xs.size]
        _erf_parts(xs, scale, rs, es)
        np.exp(es, out=es)
        _erf_finish(xs, scale, gelu, rs, es, ys)
    return (y.reshape(x.shape),)


@register("Erf", since=9, override="numba")
def erf(x):  # type: ignore[no-untyped-def]
    return _erf_like(x, gelu=False)


@register("Gelu", since=20, override="numba")
def gelu(x, *, approximate: str = "none"):  # type: ignore[no-untyped-def]
    if approximate != "none":
        return NotImplemented
    return _erf_like(x, gelu=True)


@register("Gelu", domain="ai.ronn", since=1, override="numba")
def gelu_ronn(x, *, approximate: str = "none"):  # type: ignore[no-untyped-def]
    return gelu(x, approximate=approximate)


def _gelu_in_place(y: np.ndarray):  # type: ignore[no-untyped-def]
    if y.dtype != np.float32 or not y.flags.c_contiguous or not y.flags.writeable:
        return NotImplemented
    return _erf_like(y, gelu=True, out=y)


@register("FusedMatMul", domain="ai.ronn", since=1, override="numba")
def fused_mat_mul(a, b, bias=None, *, activation: str = "", activation_params: list[float] | None = None):  # type: ignore[no-untyped-def]
    if activation != "Gelu" or a.dtype != np.float32:
        return NotImplemented
    (y,) = _fused_mat_mul_reference(a, b, bias)
    result = _gelu_in_place(y)
    return result if result is not NotImplemented else (gelu(y)[0],)


@register("FusedGemm", domain="ai.ronn", since=1, override="numba")
def fused_gemm(a, b, c=None, *, alpha: float = 1.0, beta: float = 1.0, transA: int = 0, transB: int = 0,
               activation: str = "", activation_params: list[float] | None = None):  # type: ignore[no-untyped-def]
    if activation != "Gelu" or a.dtype != np.float32:
        return NotImplemented
    (y,) = _fused_gemm_reference(a, b, c, alpha=alpha, beta=beta, transA=transA, transB=transB)
    result = _gelu_in_place(y)
    return result if result is not NotImplemented else (gelu(y)[0],)
