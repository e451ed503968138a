"""numba overrides of Conv and FusedConv (2-D, float32): im2col + one BLAS call per group, or a direct
loop for depthwise-like convolutions; bias and the fused activation run in one pass over the fresh result.

Why not the reference's im2col: it builds the column matrix from a strided window view with ``transpose``
and ``reshape`` copies after ``np.pad``, then moves the channel axis back, which cost 1-3 ms per ResNet-18
layer on top of a 1.2 ms matmul. Here a numba loop writes the (C*kh*kw, OH*OW) column matrix directly,
zeros standing in for the padding, and ``W @ cols`` lands in the output in NCHW order (``out=``).

Depthwise and other convolutions with few input channels per group (``C/group * kh * kw`` up to
:data:`DIRECT_MAX_TAPS`) gain nothing from BLAS (a 9-long inner product); a direct loop over output rows,
vectorized along the row, computes them.

Other cases (1-D/3-D, float16/float64, unknown auto_pad) return NotImplemented and the reference runs.
"""

from __future__ import annotations

import threading

import numpy as np

from engine.kernels._epilogue import NONE, activate, activation_code, bias_activation, parallel_ok
from engine.kernels._numba import jit, prange
from engine.ops._nn import auto_pads, conv_out_shape, spatial_attrs
from engine.ops.op_fused_activation import apply_activation
from engine.ops.registry import register

DIRECT_MAX_TAPS = 18          # C/group * kh * kw at or below which the direct loop beats im2col + BLAS
_scratch = threading.local()


def _columns(rows: int, cols: int) -> np.ndarray:
    """A per-thread reusable float32 (rows, cols) buffer: a fresh multi-MB array each call costs its page
    faults (about a third of the im2col time at ResNet sizes)."""
    size = rows * cols
    buf = getattr(_scratch, "buf", None)
    if buf is None or buf.size < size:
        buf = _scratch.buf = np.empty(size, dtype=np.float32)
    return buf[:size].reshape(rows, cols)


@jit(inline="always", error_model="numpy")
def _im2col_row(x, kh, kw, sh, sw, dh, dw, ph, pw, oh, ow, cols, row):  # type: ignore[no-untyped-def]
    """cols[(c*kh + i)*kw + j, r*ow + q] = x[c, r*sh + i*dh - ph, q*sw + j*dw - pw] (0 outside x)."""
    h, w = x.shape[1], x.shape[2]
    c = row // (kh * kw)
    i = (row // kw) % kh
    j = row % kw
    # output columns q whose input column lies inside x: q_lo <= q < q_hi
    off = j * dw - pw
    q_lo = min(ow, max(0, (-off + sw - 1) // sw))
    q_hi = max(q_lo, min(ow, (w - 1 - off) // sw + 1)) if w - 1 - off >= 0 else q_lo
    for r in range(oh):
        base = r * ow
        y = r * sh + i * dh - ph
        if y < 0 or y >= h:
            for q in range(ow):
                cols[row, base + q] = 0.0
            continue
        for q in range(q_lo):
            cols[row, base + q] = 0.0
        for q in range(q_lo, q_hi):
            cols[row, base + q] = x[c, y, q * sw + off]
        for q in range(q_hi, ow):
            cols[row, base + q] = 0.0


@jit(parallel=True, error_model="numpy")
def _im2col_parallel(x, kh, kw, sh, sw, dh, dw, ph, pw, oh, ow, cols):  # type: ignore[no-untyped-def]
    for row in prange(cols.shape[0]):
        _im2col_row(x, kh, kw, sh, sw, dh, dw, ph, pw, oh, ow, cols, row)


@jit(error_model="numpy")
def _im2col_serial(x, kh, kw, sh, sw, dh, dw, ph, pw, oh, ow, cols):  # type: ignore[no-untyped-def]
    for row in range(cols.shape[0]):
        _im2col_row(x, kh, kw, sh, sw, dh, dw, ph, pw, oh, ow, cols, row)


@jit(inline="always", error_model="numpy")
def _column_ranges(wd, ow, kw, sw, dw, pw):  # type: ignore[no-untyped-def]
    """Per kernel column j: the input offset, and the output columns [lo, hi) that read inside x."""
    offs = np.empty(kw, dtype=np.int64)
    los = np.empty(kw, dtype=np.int64)
    his = np.empty(kw, dtype=np.int64)
    for j in range(kw):
        off = j * dw - pw
        offs[j] = off
        los[j] = min(ow, max(0, (-off + sw - 1) // sw))
        his[j] = max(los[j], min(ow, (wd - 1 - off) // sw + 1)) if wd - 1 - off >= 0 else los[j]
    return offs, los, his


@jit(inline="always", error_model="numpy")
def _direct_channel(x, w, y, n, m, cg, mg, sh, sw, dh, ph, offs, los, his, bias, has_bias, code, p0, p1):  # type: ignore[no-untyped-def]
    h = x.shape[2]
    kh, kw = w.shape[2], w.shape[3]
    oh, ow = y.shape[2], y.shape[3]
    c0 = (m // mg) * cg
    b = bias[m] if has_bias else np.float32(0.0)
    for r in range(oh):
        for q in range(ow):
            y[n, m, r, q] = b
        for c in range(cg):
            for i in range(kh):
                yy = r * sh + i * dh - ph
                if yy < 0 or yy >= h:
                    continue
                for j in range(kw):
                    k = w[m, c, i, j]
                    off = offs[j]
                    for q in range(los[j], his[j]):
                        y[n, m, r, q] += k * x[n, c0 + c, yy, q * sw + off]
        if code != NONE:
            for q in range(ow):
                y[n, m, r, q] = activate(y[n, m, r, q], code, p0, p1)


@jit(parallel=True, error_model="numpy")
def _direct_parallel(x, w, y, cg, mg, sh, sw, dh, dw, ph, pw, bias, has_bias, code, p0, p1):  # type: ignore[no-untyped-def]
    offs, los, his = _column_ranges(x.shape[3], y.shape[3], w.shape[3], sw, dw, pw)
    for t in prange(y.shape[0] * y.shape[1]):
        _direct_channel(x, w, y, t // y.shape[1], t % y.shape[1], cg, mg, sh, sw, dh, ph, offs, los, his,
                        bias, has_bias, code, p0, p1)


@jit(error_model="numpy")
def _direct_serial(x, w, y, cg, mg, sh, sw, dh, dw, ph, pw, bias, has_bias, code, p0, p1):  # type: ignore[no-untyped-def]
    offs, los, his = _column_ranges(x.shape[3], y.shape[3], w.shape[3], sw, dw, pw)
    for t in range(y.shape[0] * y.shape[1]):
        _direct_channel(x, w, y, t // y.shape[1], t % y.shape[1], cg, mg, sh, sw, dh, ph, offs, los, his,
                        bias, has_bias, code, p0, p1)


_NO_BIAS = np.zeros(1, dtype=np.float32)


def conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, *, group: int, strides: list[int],
           dilations: list[int], pads: list[int], act: tuple[int, float, float] = (NONE, 0.0, 0.0)
           ) -> np.ndarray:
    """Grouped 2-D float32 convolution of x (N, C, H, W) with w (M, C/group, kh, kw), explicit pads
    ``[top, left, bottom, right]``, plus bias and activation ``act`` (see ``_epilogue``)."""
    n, c, h, wd = x.shape
    m, cg, kh, kw = w.shape
    if c != cg * group or m % group:
        raise ValueError(f"Conv channel mismatch: X has {c} channels, W {tuple(w.shape)}, group {group}")
    oh, ow = conv_out_shape((h, wd), (kh, kw), strides, dilations, pads)
    (sh, sw), (dh, dw), (ph, pw) = strides, dilations, pads[:2]
    mg = m // group
    x = np.ascontiguousarray(x)
    w = np.ascontiguousarray(w)
    y = np.empty((n, m, oh, ow), dtype=np.float32)
    code, p0, p1 = act
    taps = cg * kh * kw
    if taps <= DIRECT_MAX_TAPS:
        bias = _NO_BIAS if b is None else np.ascontiguousarray(b, dtype=np.float32)
        kernel = _direct_parallel if parallel_ok(n * m * oh * ow * taps) else _direct_serial
        kernel(x, w, y, cg, mg, sh, sw, dh, dw, ph, pw, bias, b is not None, code,
               np.float32(p0), np.float32(p1))
        return y
    pointwise = kh == kw == 1 and sh == sw == 1 and not any(pads)
    w2 = w.reshape(group, mg, taps)
    for i in range(n):
        if pointwise:
            cols = x[i].reshape(c, oh * ow)
        else:
            cols = _columns(c * kh * kw, oh * ow)
            im2col = _im2col_parallel if parallel_ok(cols.size) else _im2col_serial
            im2col(x[i], kh, kw, sh, sw, dh, dw, ph, pw, oh, ow, cols)
        yi = y[i].reshape(m, oh * ow)
        if group == 1:
            np.matmul(w2[0], cols, out=yi)
        else:
            np.matmul(w2, cols.reshape(group, taps, oh * ow), out=yi.reshape(group, mg, oh * ow))
        bias_activation(yi, b, code, p0, p1)
    return y


def _geometry(x, w, auto_pad, dilations, kernel_shape, pads, strides):
    """Normalized (strides, dilations, pads) of a 2-D float32 conv; None if the override does not apply."""
    if x.ndim != 4 or w.ndim != 4 or x.dtype != np.float32 or w.dtype != np.float32:
        return None
    if auto_pad not in ("NOTSET", "", "VALID", "SAME_UPPER", "SAME_LOWER"):
        return None
    kshape = list(kernel_shape) if kernel_shape else list(w.shape[2:])
    if kshape != list(w.shape[2:]):
        return None
    kshape, strides, dilations, pads = spatial_attrs(x.shape[2:], kshape, strides, dilations, pads)
    pads = auto_pads(auto_pad, x.shape[2:], kshape, strides, dilations, pads)
    if min(pads) < 0 or min(strides) < 1 or min(dilations) < 1:
        return None
    return strides, dilations, pads


def _bias_ok(b, w) -> bool:
    return b is None or (b.dtype == np.float32 and b.shape == (w.shape[0],))


@register("Conv", since=1, override="numba")
def conv(x, w, b=None, *, auto_pad: str = "NOTSET", dilations: list[int] | None = None, group: int = 1,
         kernel_shape: list[int] | None = None, pads: list[int] | None = None,
         strides: list[int] | None = None):  # type: ignore[no-untyped-def]
    geometry = _geometry(x, w, auto_pad, dilations, kernel_shape, pads, strides)
    if geometry is None or not _bias_ok(b, w):
        return NotImplemented
    strides, dilations, pads = geometry
    return (conv2d(x, w, b, group=group, strides=strides, dilations=dilations, pads=pads),)


@register("FusedConv", domain="ai.ronn", since=1, override="numba")
def fused_conv(x, w, b=None, *, auto_pad: str = "NOTSET", dilations: list[int] | None = None,
               group: int = 1, kernel_shape: list[int] | None = None, pads: list[int] | None = None,
               strides: list[int] | None = None, activation: str = "",
               activation_params: list[float] | None = None):  # type: ignore[no-untyped-def]
    geometry = _geometry(x, w, auto_pad, dilations, kernel_shape, pads, strides)
    if geometry is None or not _bias_ok(b, w):
        return NotImplemented
    strides, dilations, pads = geometry
    act = activation_code(activation, activation_params)
    y = conv2d(x, w, b, group=group, strides=strides, dilations=dilations, pads=pads,
               act=act if act is not None else (NONE, 0.0, 0.0))
    if act is None:  # Tanh, Gelu, ...: the reference activation on the fresh result
        y = apply_activation(y, activation, activation_params)
    return (y,)
