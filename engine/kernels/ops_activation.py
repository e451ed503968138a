"""numba overrides of Erf and Gelu (both forms) for float32, and of FusedGemm when its fused activation is
Gelu or GeluTanh (FusedMatMul's is in ``ops_matmul.py``).

Same arithmetic as the reference (its Cephes rational approximations in float32, within 2 ulps of erf),
but fused into one numba function over L1-sized blocks: a loop evaluates both rationals and -x^2, the
vectorized Cephes ``expf`` of ``ops_softmax`` (numba's own ``math.exp`` is scalar here, no SVML) gives
exp(-x^2), a second loop combines, restores the sign and applies Gelu. Every loop is compiled with
``error_model="numpy"``: numba's default division check (ZeroDivisionError) stops LLVM from vectorizing it.
"""

from __future__ import annotations

import math

import numpy as np

from engine.kernels._numba import jit
from engine.kernels.ops_softmax import _exp_row
from engine.ops._elementwise import _ERF_T, _ERF_U, _ERFC_P, _ERFC_Q
from engine.ops.op_fused_gemm import fused_gemm as _fused_gemm_reference
from engine.ops.registry import register

_F = np.float32
# the reference's Cephes coefficients (engine/ops/_elementwise.py), as float32 like its float32 path
T0, T1, T2, T3, T4 = (_F(c) for c in _ERF_T)
U1, U2, U3, U4, U5 = (_F(c) for c in _ERF_U[1:])
P0, P1, P2, P3, P4, P5, P6, P7, P8 = (_F(c) for c in _ERFC_P)
Q1, Q2, Q3, Q4, Q5, Q6, Q7, Q8 = (_F(c) for c in _ERFC_Q[1:])
_SQRT_HALF = _F(0.7071067811865476)
_BLOCK = 512  # elements per block: the five private rows stay in L1
_ZERO, _HALF, _ONE, _FOUR = _F(0.0), _F(0.5), _F(1.0), _F(4.0)
_GELU_A, _MINUS_TWO_C = _F(0.044715), _F(-2.0 * math.sqrt(2.0 / math.pi))


@jit(error_model="numpy")
def _erf_blocks(x, scale, gelu, y):  # type: ignore[no-untyped-def]
    """y = erf(x * scale) (or Gelu's 0.5 x (1 + erf(x / sqrt 2)) when ``gelu``) for flat float32 x, y; y may
    be x. Per L1-sized block: pass 1 copies x to a private row (so pass 2 never reads the array it writes:
    LLVM's overlap check would send an in-place loop to its scalar version), evaluates both rationals and
    -v^2; exp in the vectorized ``_exp_row``; pass 2 combines, restores the sign and applies Gelu."""
    xs = np.empty(_BLOCK, np.float32)
    r = np.empty(_BLOCK, np.float32)
    z = np.empty(_BLOCK, np.float32)
    e = np.empty(_BLOCK, np.float32)
    bits = np.empty(_BLOCK, np.int32)
    n = x.size
    for start in range(0, n, _BLOCK):
        m = min(_BLOCK, n - start)
        xb, yb = x[start:start + m], y[start:start + m]  # slices: plain i indices vectorize, start + i not
        for i in range(m):
            xv = xb[i]
            xs[i] = xv
            a = min(abs(xv * scale), _FOUR)  # erf(a) rounds to 1 beyond 4 in float32; NaN handled below
            zz = a * a
            small = a * ((((T0 * zz + T1) * zz + T2) * zz + T3) * zz + T4) / (
                ((((zz + U1) * zz + U2) * zz + U3) * zz + U4) * zz + U5)
            large = (((((((P0 * a + P1) * a + P2) * a + P3) * a + P4) * a + P5) * a + P6) * a + P7) * a + P8
            large /= (((((((a + Q1) * a + Q2) * a + Q3) * a + Q4) * a + Q5) * a + Q6) * a + Q7) * a + Q8
            r[i] = large if a > _ONE else small
            z[i] = -zz
        _exp_row(z[:m], _ZERO, e[:m], bits[:m])
        for i in range(m):
            xv = xs[i]
            v = xv * scale
            t = _ONE - r[i] * e[i] if abs(v) > _ONE else r[i]
            t = math.copysign(t, v)
            t = t if v == v else v
            yb[i] = _HALF * xv * (_ONE + t) if gelu else t


def _erf_like(x: np.ndarray, gelu: bool, out: np.ndarray | None = None):  # type: ignore[no-untyped-def]
    """Erf (or exact Gelu) of a float32 array, into ``out`` (which may be ``x``) or a new array."""
    if x.dtype != np.float32:
        return NotImplemented
    flat = np.ascontiguousarray(x).reshape(-1)
    y = np.empty_like(flat) if out is None else out.reshape(-1)
    _erf_blocks(flat, _SQRT_HALF if gelu else _ONE, gelu, y)
    return (y.reshape(x.shape),)


@jit(error_model="numpy")
def _gelu_tanh_blocks(x, y):  # type: ignore[no-untyped-def]
    """y = Gelu's tanh form 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), computed as the equal
    x / (1 + exp(-2u)) (no cancellation for negative x); y may be x (blocks as in ``_erf_blocks``)."""
    xs = np.empty(_BLOCK, np.float32)
    z = np.empty(_BLOCK, np.float32)
    e = np.empty(_BLOCK, np.float32)
    bits = np.empty(_BLOCK, np.int32)
    n = x.size
    for start in range(0, n, _BLOCK):
        m = min(_BLOCK, n - start)
        xb, yb = x[start:start + m], y[start:start + m]
        for i in range(m):
            xv = xb[i]
            xs[i] = xv
            z[i] = _MINUS_TWO_C * xv * (_ONE + _GELU_A * xv * xv)
        _exp_row(z[:m], _ZERO, e[:m], bits[:m])
        for i in range(m):
            yb[i] = xs[i] / (_ONE + e[i])


def _gelu(x: np.ndarray, approximate: str, out: np.ndarray | None = None):  # type: ignore[no-untyped-def]
    """Gelu of a float32 array (either form), into ``out`` (which may be ``x``) or a new array."""
    if x.dtype != np.float32 or approximate not in ("none", "tanh"):
        return NotImplemented
    if approximate == "none":
        return _erf_like(x, gelu=True, out=out)
    flat = np.ascontiguousarray(x).reshape(-1)
    y = np.empty_like(flat) if out is None else out.reshape(-1)
    _gelu_tanh_blocks(flat, y)
    return (y.reshape(x.shape),)


@register("Erf", since=9, override="numba")
def erf(x):  # type: ignore[no-untyped-def]
    return _erf_like(x, gelu=False)


@register("Gelu", since=20, override="numba")
def gelu(x, *, approximate: str = "none"):  # type: ignore[no-untyped-def]
    return _gelu(x, approximate)


@register("Gelu", domain="ai.ronn", since=1, override="numba")
def gelu_ronn(x, *, approximate: str = "none"):  # type: ignore[no-untyped-def]
    return gelu(x, approximate=approximate)


_FUSED_GELU = {"Gelu": "none", "GeluTanh": "tanh"}  # fused ``activation`` names -> Gelu's ``approximate``


def gelu_in_place(y: np.ndarray, activation: str = "Gelu"):  # type: ignore[no-untyped-def]
    """The fused activation ``Gelu`` or ``GeluTanh`` of a writable C-contiguous float32 array, in place
    (NotImplemented for anything else)."""
    if activation not in _FUSED_GELU or y.dtype != np.float32 or not y.flags.c_contiguous or not y.flags.writeable:
        return NotImplemented
    return _gelu(y, _FUSED_GELU[activation], out=y)


@register("FusedGemm", domain="ai.ronn", since=1, override="numba")
def fused_gemm(a, b, c=None, *, alpha: float = 1.0, beta: float = 1.0, transA: int = 0, transB: int = 0,
               activation: str = "", activation_params: list[float] | None = None):  # type: ignore[no-untyped-def]
    if activation not in _FUSED_GELU or a.dtype != np.float32:
        return NotImplemented
    (y,) = _fused_gemm_reference(a, b, c, alpha=alpha, beta=beta, transA=transA, transB=transB)
    result = gelu_in_place(y, activation)
    return result if result is not NotImplemented else (gelu(y, approximate=_FUSED_GELU[activation])[0],)
