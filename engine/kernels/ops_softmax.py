"""numba overrides of Softmax (opset 13+, float32) and FusedAttention (ai.ronn, float32): one row pass with a
vectorizable float32 ``exp``.

numba has no SVML here, so ``math.exp`` compiles to a scalar libm call (5x slower than numpy's SIMD exp).
:func:`_exp_row` is Cephes' ``expf`` written so LLVM vectorizes it: range reduction ``x = n ln2 + r`` with
a two-part ln2, a degree-6 polynomial for ``e^r`` (about 1 ulp), and ``2^n`` built from its IEEE bits into an
int32 view of a scratch row (a second loop multiplies them: no aliasing inside one loop). Exponents below
-126 give exactly 0, as numpy's exp of a masked score (the float32 minimum) does.

Softmax of a row: max (non-finite max -> 0, as the reference), ``exp(x - max)``, sum, divide: the reference's
arithmetic in the same order. FusedAttention keeps numpy for the two batched matrix products and the
scale/mask (in place on the fresh score buffer), and runs the softmax rows here.
"""

from __future__ import annotations

import numpy as np

from engine.kernels._numba import jit
from engine.ops._nn import norm_axis
from engine.ops.op_mat_mul import mat_mul
from engine.ops.registry import register

_F = np.float32
_LOG2E = _F(1.44269504088896341)
_C1 = _F(0.693359375)
_C2 = _F(-2.12194440e-4)
_P0, _P1, _P2 = _F(1.9875691500e-4), _F(1.3981999507e-3), _F(8.3334519073e-3)
_P3, _P4, _P5 = _F(4.1665795894e-2), _F(1.6666665459e-1), _F(5.0000001201e-1)
_LO, _HI = _F(-104.0), _F(88.0)  # 88: 2^k stays finite (softmax only sees x - max <= 0)
_HALF, _ONE = _F(0.5), _F(1.0)


@jit(inline="always", error_model="numpy", fastmath={"reassoc", "contract"})
def _exp_row(x, shift, out, bits):  # type: ignore[no-untyped-def]
    """out[i] = exp(x[i] - shift) for float32 rows; ``bits`` is an int32 view of a scratch float32 row."""
    n = x.shape[0]
    for i in range(n):
        v = min(max(x[i] - shift, _LO), _HI)
        k = np.floor(v * _LOG2E + _HALF)
        r = v - k * _C1 - k * _C2
        z = r * r
        p = (((((_P0 * r + _P1) * r + _P2) * r + _P3) * r + _P4) * r + _P5) * z + r + _ONE
        e = np.int32(k) + np.int32(127)
        bits[i] = max(e, np.int32(0)) << np.int32(23)  # 2^k; 0.0 when k < -126 (underflow)
        out[i] = p
    scale = bits.view(np.float32)
    for i in range(n):
        out[i] *= scale[i]


@jit(error_model="numpy", fastmath={"reassoc", "contract"})
def _softmax_rows(x, y):  # type: ignore[no-untyped-def]
    """y[r] = softmax(x[r]) for 2-D C-contiguous float32 x, y (may be the same array).

    The exponentials go to a private scratch row: when ``y`` is ``x`` (in place, as FusedAttention runs it),
    a loop reading ``x[r]`` and writing ``y[r]`` fails LLVM's runtime overlap check and runs its scalar
    version (0.59 ms instead of 0.19 ms on 12x128x128).
    """
    cols = x.shape[1]
    bits = np.empty(cols, dtype=np.int32)
    tmp = np.empty(cols, dtype=np.float32)
    for r in range(x.shape[0]):
        row = x[r]
        m = row[0]
        for i in range(1, cols):
            m = max(m, row[i])
        if not np.isfinite(m):
            m = _F(0.0)
        _exp_row(row, m, tmp, bits)
        total = _F(0.0)
        for i in range(cols):
            total += tmp[i]
        out = y[r]
        for i in range(cols):
            out[i] = tmp[i] / total


def softmax_last_axis(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Softmax of a C-contiguous float32 array along its last axis (into ``out``, which may be ``x``)."""
    y = np.empty_like(x) if out is None else out
    if x.size:
        cols = x.shape[-1]
        _softmax_rows(x.reshape(-1, cols), y.reshape(-1, cols))
    return y


@register("Softmax", since=13, override="numba")
def softmax(x, *, axis: int = -1):  # type: ignore[no-untyped-def]
    if x.dtype != np.float32 or x.ndim == 0 or norm_axis(axis, x.ndim) != x.ndim - 1:
        return NotImplemented
    return (softmax_last_axis(np.ascontiguousarray(x)),)


@register("FusedAttention", domain="ai.ronn", since=1, override="numba")
def fused_attention(q, kt, v, mask=None, fill=None, *, scale: float = 1.0, mask_mode: str = "none"):  # type: ignore[no-untyped-def]
    if q.dtype != np.float32 or mask_mode not in ("none", "add", "where", "where_inverted"):
        return NotImplemented
    (s,) = mat_mul(q, kt)
    if not s.flags.writeable or not s.flags.c_contiguous:
        s = np.ascontiguousarray(s).copy()
    if scale != 1.0:
        s *= _F(scale)
    if mask_mode == "add":
        if np.broadcast_shapes(s.shape, mask.shape) == s.shape:
            s += mask
        else:
            s = np.ascontiguousarray(s + mask, dtype=np.float32)
    elif mask_mode != "none":
        a, b = (s, fill) if mask_mode == "where" else (fill, s)
        s = np.ascontiguousarray(np.where(mask, a, b), dtype=np.float32)
    if s.dtype != np.float32 or s.ndim == 0:
        return NotImplemented
    softmax_last_axis(s, out=s)
    return mat_mul(s, v)
