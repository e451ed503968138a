"""numba overrides of Conv and FusedConv (2-D, float32): im2col + one BLAS call per group, or a direct
loop for depthwise-like convolutions; bias and the fused activation run in one pass over the fresh result.

Why not the reference's im2col: it builds the column matrix from a strided window view with ``transpose``
and ``reshape`` copies after ``np.pad``, then moves the channel axis back, which cost 1-3 ms per ResNet-18
layer on top of a 1.2 ms matmul. Here a numba loop writes the (C*kh*kw, OH*OW) column matrix directly,
zeros standing in for the padding, and ``W @ cols`` lands in the output in NCHW order (``out=``).

Paths, in the order ``conv2d`` tries them:

* depthwise (one input channel per group): a padded, stride-phase-split copy of each plane and flat
  vectorized tap loops (``_dw_plane_padded``);
* other narrow groups (``C/group * kh * kw`` up to :data:`DIRECT_MAX_TAPS`, not a 1x1 over 3+ channels): a
  direct loop over output rows (BLAS gains nothing on a 9-long inner product);
* wide stride-1 group-1 convolutions (``OW >= SHIFTED_MIN_WIDTH``): im2col-free shifted GEMMs accumulated
  with ``cblas_sgemm``'s beta (``_conv_shifted``);
* everything else: im2col (none for 1x1 stride 1; rows split into column phases first, so every copy is
  contiguous at any stride) + one BLAS call per group.

FusedConv's optional fourth input ``Z`` (the residual, from ``conv_residual_fusion``) is added in the same
epilogue pass as the bias, before the activation.

Other cases (1-D/3-D, float16/float64, unknown auto_pad) return NotImplemented and the reference runs.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from engine.kernels._epilogue import (
    CLIP,
    NONE,
    RELU,
    activate,
    activation_code,
    bias_activation,
    bias_activation_columns,
    bias_residual_activation,
    parallel_ok,
)
from engine.kernels._numba import jit, prange
from engine.ops._nn import auto_pads, conv_out_shape, spatial_attrs
from engine.ops.op_fused_activation import apply_activation
from engine.ops.registry import register

DIRECT_MAX_TAPS = 18          # C/group * kh * kw at or below which the direct loop beats im2col + BLAS
_scratch = threading.local()


def _columns(rows: int, cols: int, slot: str = "buf") -> np.ndarray:
    """A per-thread reusable float32 (rows, cols) buffer: a fresh multi-MB array each call costs its page
    faults (about a third of the im2col time at ResNet sizes). ``slot`` names independent buffers."""
    size = rows * cols
    buf = getattr(_scratch, slot, None)
    if buf is None or buf.size < size:
        buf = np.empty(size, dtype=np.float32)
        setattr(_scratch, slot, buf)
    return buf[:size].reshape(rows, cols)


@jit(error_model="numpy")
def _split_columns(x, sw, xs):  # type: ignore[no-untyped-def]
    """xs[c, y, p, v] = x[c, y, v*sw + p]: each input row split into its sw column phases, so every im2col
    row reads one contiguous run at any stride (the strided gather runs once over x, not kh*kw times)."""
    c_, h, w = x.shape
    for c in range(c_):
        for y in range(h):
            src = x[c, y]
            for p in range(sw):
                dst = xs[c, y, p]
                for v in range((w - p + sw - 1) // sw):
                    dst[np.uint64(v)] = src[np.uint64(v * sw + p)]


@jit(inline="always", error_model="numpy")
def _im2col_row(xs, w, kh, kw, sh, sw, dh, dw, ph, pw, r0, r1, ow, cols, row):  # type: ignore[no-untyped-def]
    """cols[(c*kh + i)*kw + j, (r-r0)*ow + q] = x[c, r*sh + i*dh - ph, q*sw + j*dw - pw] (0 outside x), read
    from the column-phase split ``xs`` (see ``_split_columns``) with unsigned indices, so each run of
    output columns is a contiguous copy LLVM vectorizes (signed indices and strided reads kept it scalar)."""
    h = xs.shape[1]
    c = row // (kh * kw)
    i = (row // kw) % kh
    j = row % kw
    # output columns q whose input column lies inside x: q_lo <= q < q_hi
    off = j * dw - pw
    q_lo = min(ow, max(0, (-off + sw - 1) // sw))
    q_hi = max(q_lo, min(ow, (w - 1 - off) // sw + 1)) if w - 1 - off >= 0 else q_lo
    phase = off % sw
    shift = (off - phase) // sw  # input column q*sw + off is xs[..., phase, q + shift]
    dst = cols[row]
    zero = np.float32(0.0)
    for r in range(r0, r1):
        base = (r - r0) * ow
        y = r * sh + i * dh - ph
        if y < 0 or y >= h:
            for q in range(ow):
                dst[np.uint64(base + q)] = zero
            continue
        src = xs[c, y, phase]
        for q in range(q_lo):
            dst[np.uint64(base + q)] = zero
        for q in range(q_lo, q_hi):
            dst[np.uint64(base + q)] = src[np.uint64(q + shift)]
        for q in range(q_hi, ow):
            dst[np.uint64(base + q)] = zero


@jit(parallel=True, error_model="numpy")
def _im2col_parallel(xs, w, kh, kw, sh, sw, dh, dw, ph, pw, r0, r1, ow, cols):  # type: ignore[no-untyped-def]
    for row in prange(cols.shape[0]):
        _im2col_row(xs, w, kh, kw, sh, sw, dh, dw, ph, pw, r0, r1, ow, cols, row)


@jit(error_model="numpy")
def _im2col_serial(xs, w, kh, kw, sh, sw, dh, dw, ph, pw, r0, r1, ow, cols):  # type: ignore[no-untyped-def]
    for row in range(cols.shape[0]):
        _im2col_row(xs, w, kh, kw, sh, sw, dh, dw, ph, pw, r0, r1, ow, cols, row)


def im2col(x: np.ndarray, kh: int, kw: int, sh: int, sw: int, dh: int, dw: int, ph: int, pw: int, oh: int,
           ow: int, cols: np.ndarray) -> None:
    """The (C*kh*kw, OH*OW) column matrix of one image ``x`` (C, H, W) into ``cols``."""
    c, h, w = x.shape
    if sw == 1:
        xs = x.reshape(c, h, 1, w)
    else:
        xs = _columns(c * h * sw, -(-w // sw), "split").reshape(c, h, sw, -(-w // sw))
        _split_columns(x, sw, xs)
    kernel = _im2col_parallel if parallel_ok(cols.size) else _im2col_serial
    kernel(xs, w, kh, kw, sh, sw, dh, dw, ph, pw, 0, oh, ow, cols)


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


@jit(inline="always", error_model="numpy", fastmath={"contract"})
def _dw_plane_padded(xc, wk, yc, b, sh, sw, dh, dw, pt, pl, code, p0, p1, xp, acc):  # type: ignore[no-untyped-def]
    """One depthwise plane yc (OH, OW) from xc (H, W) through a zero-padded, phase-split copy.

    ``xp[pr * sw + pc, u, v] = padded[u * sh + pr, v * sw + pc]``: the padded plane split into stride
    phases. Tap (i, j) of output (r, q) then reads phase ``((i*dh) % sh, (j*dw) % sw)`` at row
    ``r + (i*dh) // sh`` and column ``q + (j*dw) // sw``, so for a block of output rows computed at the phase
    width ``wh`` (columns >= OW are garbage, never stored) every tap is one flat, contiguous multiply-add
    run with no boundary tests: long vector loops even for 7x7 planes and stride 2. Indices are unsigned so
    numba drops its negative-index wraparound, which otherwise keeps LLVM from vectorizing.
    """
    h, w = xc.shape
    kh, kw = wk.shape
    oh, ow = yc.shape
    hh, wh = xp.shape[1], xp.shape[2]
    flat = xp.reshape(xp.shape[0], hh * wh)
    size = flat.shape[0] * hh * wh
    whole = xp.reshape(size)
    for t in range(size):
        whole[np.uint64(t)] = 0.0
    for y in range(h):
        rr = y + pt
        u = rr // sh
        if u >= hh:
            break
        xrow = xc[y]
        for pc in range(sw):
            dst = xp[(rr % sh) * sw + pc, u]
            x0 = (pc - pl) % sw  # first input column landing in column phase pc
            v0 = (x0 + pl) // sw
            count = min((w - x0 + sw - 1) // sw if x0 < w else 0, wh - v0)
            for k in range(count):
                dst[np.uint64(v0 + k)] = xrow[np.uint64(x0 + k * sw)]
    zero = np.float32(0.0)
    unit = sh == 1 and sw == 1
    rows = max(1, min(oh, 2048 // wh))  # the accumulator block stays in L1 across the taps
    for r0 in range(0, oh, rows):
        nr = min(rows, oh - r0)
        n = nr * wh
        for t in range(n):
            acc[t] = b
        for i in range(kh):
            for j in range(kw):
                k = wk[i, j]
                if unit:
                    src = flat[0]
                    base = (r0 + i * dh) * wh + j * dw
                else:
                    src = flat[((i * dh) % sh) * sw + (j * dw) % sw]
                    base = (r0 + (i * dh) // sh) * wh + (j * dw) // sw
                for t in range(n):
                    acc[np.uint64(t)] += k * src[np.uint64(base + t)]
        for r in range(nr):
            yrow = yc[r0 + r]
            o = r * wh
            if code == CLIP:
                for q in range(ow):
                    yrow[q] = min(max(acc[o + q], p0), p1)
            elif code == RELU:
                for q in range(ow):
                    yrow[q] = max(acc[o + q], zero)
            elif code == NONE:
                for q in range(ow):
                    yrow[q] = acc[o + q]
            else:
                for q in range(ow):
                    yrow[q] = activate(acc[o + q], code, p0, p1)


@jit(inline="always", error_model="numpy")
def _dw_buffers(x, w, y, sh, sw, dh, dw, pt, pl):  # type: ignore[no-untyped-def]
    """Scratch for one plane: the phase-split padded copy (one spare row for the flat loop's overrun of
    garbage columns) and the accumulator block."""
    oh, ow = y.shape[2], y.shape[3]
    kh, kw = w.shape[2], w.shape[3]
    hh = oh + ((kh - 1) * dh) // sh + 1
    wh = ow + ((kw - 1) * dw) // sw
    rows = max(1, min(oh, 2048 // wh))
    return np.empty((sh * sw, hh + 1, wh), dtype=np.float32), np.empty(rows * wh, dtype=np.float32)


@jit(parallel=True, error_model="numpy", fastmath={"contract"})
def _depthwise_parallel(x, w, y, mg, sh, sw, dh, dw, pt, pl, bias, has_bias, code, p0, p1):  # type: ignore[no-untyped-def]
    planes = y.shape[0] * y.shape[1]
    for t in prange(planes):
        n, m = t // y.shape[1], t % y.shape[1]
        xp, acc = _dw_buffers(x, w, y, sh, sw, dh, dw, pt, pl)
        b = bias[m] if has_bias else np.float32(0.0)
        _dw_plane_padded(x[n, m // mg], w[m, 0], y[n, m], b, sh, sw, dh, dw, pt, pl, code, p0, p1, xp, acc)


@jit(error_model="numpy", fastmath={"contract"})
def _depthwise_serial(x, w, y, mg, sh, sw, dh, dw, pt, pl, bias, has_bias, code, p0, p1):  # type: ignore[no-untyped-def]
    xp, acc = _dw_buffers(x, w, y, sh, sw, dh, dw, pt, pl)
    for t in range(y.shape[0] * y.shape[1]):
        n, m = t // y.shape[1], t % y.shape[1]
        b = bias[m] if has_bias else np.float32(0.0)
        _dw_plane_padded(x[n, m // mg], w[m, 0], y[n, m], b, sh, sw, dh, dw, pt, pl, code, p0, p1, xp, acc)


_NO_BIAS = np.zeros(1, dtype=np.float32)

# --- im2col-free "shifted GEMM" convolution (stride 1) ------------------------------------------------------
#
# With the input zero-padded into (C, Hp*Wp) rows, tap (i, j) of every output pixel, computed at the padded
# width Wp, reads the same matrix shifted by i*dh*Wp + j*dw columns: Y (M, OH*Wp) = sum over taps of
# W[:, :, i, j] @ Xp[:, shift : shift + OH*Wp]. Each term is a BLAS GEMM reading Xp in place (ldb = the row
# length), accumulated into Y with beta = 1, so no (C*kh*kw, OH*OW) column matrix is written or read.
# numpy's matmul has no beta, so this calls cblas_sgemm of numpy's own OpenBLAS through ctypes. The (Wp-OW)
# garbage columns per row are dropped by the epilogue; they waste 4% at 56x56 but 29% at 7x7, so the path is
# taken for OW >= SHIFTED_MIN_WIDTH (measured, 3x3: 64 ch @56 2.57 vs 4.16 ms; 128 @28 2.54 vs 3.22;
# 256 @14 2.83 vs 3.00; 512 @7 4.50 vs 3.50).
SHIFTED_MIN_WIDTH = 24
_sgemm_fn: Any = None
_sgemm_int: Any = None
_sgemm_loaded = False
_packed: dict[tuple[int, ...], tuple[np.ndarray, np.ndarray]] = {}


def _sgemm() -> Any:
    """numpy's OpenBLAS ``cblas_sgemm`` through ctypes, or None (another BLAS, symbol not found)."""
    global _sgemm_fn, _sgemm_int, _sgemm_loaded
    if _sgemm_loaded:
        return _sgemm_fn
    _sgemm_loaded = True
    try:
        import ctypes

        from engine.kernels.threads import _blas_controllers

        for lib in _blas_controllers():
            if getattr(lib, "internal_api", "") != "openblas":
                continue
            dll = ctypes.CDLL(lib.filepath)
            for name, int_type in (("scipy_cblas_sgemm64_", ctypes.c_int64), ("cblas_sgemm64_", ctypes.c_int64),
                                   ("scipy_cblas_sgemm", ctypes.c_int), ("cblas_sgemm", ctypes.c_int)):
                fn = getattr(dll, name, None)
                if fn is None:
                    continue
                i, f, p = int_type, ctypes.c_float, ctypes.c_void_p
                fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, i, i, i, f, p, i, p, i, f, p, i]
                fn.restype = None
                _sgemm_fn, _sgemm_int = fn, int_type
                return fn
    except Exception:  # noqa: BLE001 - no usable BLAS symbol: the im2col path stays
        _sgemm_fn = None
    return _sgemm_fn


def _taps(w: np.ndarray) -> np.ndarray:
    """W (M, C, kh, kw) as (kh*kw, M, C) contiguous; cached for read-only weights (initializers)."""
    if w.flags.writeable:
        return np.ascontiguousarray(w.transpose(2, 3, 0, 1)).reshape(-1, w.shape[0], w.shape[1])
    key = (id(w), w.ctypes.data)
    hit = _packed.get(key)
    if hit is None or hit[0] is not w:
        if len(_packed) > 512:
            _packed.clear()
        hit = _packed[key] = (w, np.ascontiguousarray(w.transpose(2, 3, 0, 1)).reshape(-1, w.shape[0], w.shape[1]))
    return hit[1]


def _transposed(w: np.ndarray) -> np.ndarray:
    """W (M, C, kh, kw) as a contiguous (C*kh*kw, M) matrix (OpenBLAS runs ``X @ W.T`` 5-20% faster from a
    contiguous copy than from the transposed view); cached for read-only weights (initializers)."""
    if w.flags.writeable:
        return np.ascontiguousarray(w.reshape(w.shape[0], -1).T)
    key = (id(w), w.ctypes.data, -1)
    hit = _packed.get(key)
    if hit is None or hit[0] is not w:
        if len(_packed) > 512:
            _packed.clear()
        hit = _packed[key] = (w, np.ascontiguousarray(w.reshape(w.shape[0], -1).T))
    return hit[1]


@jit(error_model="numpy")
def _copy_padded(x, pt, pl, wp, xp):  # type: ignore[no-untyped-def]
    c, h, w = x.shape
    for ch in range(c):
        dst = xp[ch]
        src = x[ch]
        for t in range(dst.shape[0]):
            dst[np.uint64(t)] = 0.0
        for r in range(h):
            base = (r + pt) * wp + pl
            srow = src[r]
            for q in range(w):
                dst[np.uint64(base + q)] = srow[np.uint64(q)]


@jit(error_model="numpy")
def _strip_epilogue(yp, wp, y, bias, has_bias, z, has_z, code, p0, p1):  # type: ignore[no-untyped-def]
    """y[m, r, q] = act(yp[m, r*wp + q] + bias[m] (+ z[m, r, q])): drop the garbage columns, add bias and
    the residual, activate."""
    m_, oh, ow = y.shape
    zero = np.float32(0.0)
    for m in range(m_):
        b = bias[m] if has_bias else zero
        src = yp[m]
        for r in range(oh):
            dst = y[m, r]
            o = r * wp
            if has_z:
                res = z[m, r]
                if code == RELU:
                    for q in range(ow):
                        dst[np.uint64(q)] = max(src[np.uint64(o + q)] + b + res[np.uint64(q)], zero)
                else:
                    for q in range(ow):
                        dst[np.uint64(q)] = activate(src[np.uint64(o + q)] + b + res[np.uint64(q)], code, p0, p1)
            elif code == NONE:
                for q in range(ow):
                    dst[q] = src[o + q] + b
            elif code == RELU:
                for q in range(ow):
                    dst[q] = max(src[o + q] + b, zero)
            elif code == CLIP:
                for q in range(ow):
                    dst[q] = min(max(src[o + q] + b, p0), p1)
            else:
                for q in range(ow):
                    dst[q] = activate(src[o + q] + b, code, p0, p1)


_NO_Z = np.zeros((1, 1, 1), dtype=np.float32)


def _conv_shifted(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, y: np.ndarray, dilations: list[int],
                  pads: list[int], act: tuple[int, float, float], z: np.ndarray | None = None) -> None:
    """Stride-1, group-1 convolution into ``y`` by shifted GEMMs (see above)."""
    sgemm = _sgemm()
    n, c, h, wd = x.shape
    m, _, kh, kw = w.shape
    dh, dw = dilations
    pt, pl, pb, pr = pads
    hp, wp = h + pt + pb, wd + pl + pr
    oh = y.shape[2]
    length = hp * wp + (kw - 1) * dw
    cols = oh * wp
    taps = _taps(w)
    xp = _columns(c, length)
    yp = _columns(m, cols, "out")
    code, p0, p1 = act
    bias = _NO_BIAS if b is None else np.ascontiguousarray(b, dtype=np.float32)
    for i in range(n):
        _copy_padded(x[i], pt, pl, wp, xp)
        for t in range(kh * kw):
            shift = (t // kw) * dh * wp + (t % kw) * dw
            sgemm(101, 111, 111, m, cols, c, 1.0, taps[t].ctypes.data, c, xp.ctypes.data + 4 * shift, length,
                  0.0 if t == 0 else 1.0, yp.ctypes.data, cols)  # row-major, no transposes
        _strip_epilogue(yp, wp, y[i], bias, b is not None, _NO_Z if z is None else z[i], z is not None, code,
                        np.float32(p0), np.float32(p1))


def conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, *, group: int, strides: list[int],
           dilations: list[int], pads: list[int], act: tuple[int, float, float] = (NONE, 0.0, 0.0),
           z: np.ndarray | None = None) -> np.ndarray:
    """Grouped 2-D float32 convolution of x (N, C, H, W) with w (M, C/group, kh, kw), explicit pads
    ``[top, left, bottom, right]``, plus bias, the residual ``z`` (N, M, OH, OW) when given, and activation
    ``act`` (see ``_epilogue``): ``act(conv + bias + z)``."""
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
    pointwise = kh == kw == 1 and sh == sw == 1 and not any(pads)
    if z is not None:
        z = np.ascontiguousarray(z, dtype=np.float32)
    if taps <= DIRECT_MAX_TAPS and not (pointwise and group == 1 and taps > 2) and z is not None:
        y = conv2d(x, w, b, group=group, strides=strides, dilations=dilations, pads=pads)
        for i in range(n):
            bias_residual_activation(y[i].reshape(m, -1), None, z[i].reshape(m, -1), code, p0, p1)
        return y
    if taps <= DIRECT_MAX_TAPS and not (pointwise and group == 1 and taps > 2):
        # (a 1x1 convolution over 3+ channels is a matrix product: BLAS beats the scalar loop 10-40x)
        bias = _NO_BIAS if b is None else np.ascontiguousarray(b, dtype=np.float32)
        if cg == 1:  # depthwise (channel multiplier mg): the vectorized per-plane kernel
            kernel = _depthwise_parallel if parallel_ok(n * m * oh * ow * taps) else _depthwise_serial
            kernel(x, w, y, mg, sh, sw, dh, dw, ph, pw, bias, b is not None, code, np.float32(p0), np.float32(p1))
            return y
        kernel = _direct_parallel if parallel_ok(n * m * oh * ow * taps) else _direct_serial
        kernel(x, w, y, cg, mg, sh, sw, dh, dw, ph, pw, bias, b is not None, code,
               np.float32(p0), np.float32(p1))
        return y
    if (group == 1 and sh == sw == 1 and kh * kw > 1 and ow >= SHIFTED_MIN_WIDTH and _sgemm() is not None):
        _conv_shifted(x, w, b, y, [dh, dw], list(pads), act, z)
        return y
    w2 = w.reshape(group, mg, taps)
    # (im2col in blocks of output rows sized for L2 was measured: no faster down to 1 MiB, slower below)
    for i in range(n):
        if pointwise:
            cols = x[i].reshape(c, oh * ow)
        else:
            cols = _columns(c * kh * kw, oh * ow)
            im2col(x[i], kh, kw, sh, sw, dh, dw, ph, pw, oh, ow, cols)
        yi = y[i].reshape(m, oh * ow)
        if group == 1:
            np.matmul(w2[0], cols, out=yi)
        else:
            np.matmul(w2, cols.reshape(group, taps, oh * ow), out=yi.reshape(group, mg, oh * ow))
        if z is None:
            bias_activation(yi, b, code, p0, p1)
        else:
            bias_residual_activation(yi, b, z[i].reshape(m, oh * ow), code, p0, p1)
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
def fused_conv(x, w, b=None, z=None, *, auto_pad: str = "NOTSET", dilations: list[int] | None = None,
               group: int = 1, kernel_shape: list[int] | None = None, pads: list[int] | None = None,
               strides: list[int] | None = None, activation: str = "",
               activation_params: list[float] | None = None):  # type: ignore[no-untyped-def]
    geometry = _geometry(x, w, auto_pad, dilations, kernel_shape, pads, strides)
    if geometry is None or not _bias_ok(b, w):
        return NotImplemented
    strides, dilations, pads = geometry
    act = activation_code(activation, activation_params)
    if z is not None:
        oh, ow = conv_out_shape(x.shape[2:], w.shape[2:], strides, dilations, pads)
        if act is None or z.dtype != np.float32 or z.shape != (x.shape[0], w.shape[0], oh, ow):
            return NotImplemented
    y = conv2d(x, w, b, group=group, strides=strides, dilations=dilations, pads=pads,
               act=act if act is not None else (NONE, 0.0, 0.0), z=z)
    if act is None:  # Tanh, Gelu, ...: the reference activation on the fresh result
        y = apply_activation(y, activation, activation_params)
    return (y,)


# --- channels-last (NHWC) convolution: ai.ronn::NhwcConv, made by the nhwc_layout pass --------------------
#
# Depthwise from an NHWC input (every NhwcConv depthwise but a first layer fed NCHW): ``_dw_nhwc_inplace``
# reads the input in place. Channels are contiguous, so each tap of an output pixel is one run of C floats at
# any stride, and at stride 1 a tile of nq pixels of a row is one run of nq*C floats: interior tiles are one
# flat loop of nine multiply-adds per element, border pixels add only their valid taps. No packed copy
# (the pack below cost as much as the arithmetic on 56x56 and 112x112 planes). Measured, 1 thread, with
# Clip: dw 32 @112 0.45 -> 0.26 ms, 96 @112/2 0.69 -> 0.24, 144 @56 0.52 -> 0.30, 144 @56/2 0.25 -> 0.08,
# 384 @14 0.10 -> 0.05, 960 @7 0.09 -> 0.04.
#
# Depthwise from NCHW: channels in blocks of DW_BLOCK (one AVX-512 vector). Each block is copied into a zero-padded,
# stride-phase-split buffer xp[phase, u, v, k] (k = channel in the block), so for a tile of DW_TILE output
# pixels of one row, tap (i, j) reads one contiguous run of DW_TILE * DW_BLOCK floats; the weights are
# pre-broadcast over the tile (wexp), so the 3x3 case is one loop of nine fused multiply-adds per vector,
# stored once. Vectorizing across channels removes the per-plane overhead that bounds the NCHW kernel on
# 7x7 and 14x14 planes. The input may be NCHW (the pack transposes it) or NHWC (the pack copies runs of
# channels); the output is NHWC.
DW_BLOCK = 16
DW_TILE = 8
DW_ROW = 256  # floats per interior tile of the in-place kernel (nq = DW_ROW // C pixels at stride 1; 64-2048 measured
#              within noise)


@jit(error_model="numpy", fastmath={"contract"})
def _dw_nhwc(x, nchw_in, w, y, sh, sw, dh, dw, pt, pl, bias, has_bias, code, p0, p1, xp):  # type: ignore[no-untyped-def]
    cb, qt = DW_BLOCK, DW_TILE
    if nchw_in:
        n_, c_, h, wd = x.shape
    else:
        n_, h, wd, c_ = x.shape
    kh, kw = w.shape[2], w.shape[3]
    oh, ow = y.shape[1], y.shape[2]
    hh = oh + ((kh - 1) * dh) // sh
    wh = ow + ((kw - 1) * dw) // sw
    plane = hh * wh * cb
    xf = x.reshape(x.size)
    yf = y.reshape(y.size)
    for t in range(sh * sw * plane):  # padding stays zero: later blocks overwrite the interior only
        xp[np.uint64(t)] = 0.0
    taps = kh * kw
    tl = qt * cb
    wexp = np.empty(taps * tl, dtype=np.float32)
    bexp = np.empty(tl, dtype=np.float32)
    ob = np.empty(tl, dtype=np.float32)
    toff = np.empty(taps, dtype=np.int64)
    for i in range(kh):
        for j in range(kw):
            ph = ((i * dh) % sh) * sw + (j * dw) % sw
            toff[i * kw + j] = ph * plane + (((i * dh) // sh) * wh + (j * dw) // sw) * cb
    zero = np.float32(0.0)
    for n in range(n_):
        for c0 in range(0, c_, cb):
            nc = min(cb, c_ - c0)  # lanes >= nc hold stale values and zero weights; never stored
            for yy in range(h):
                rr = yy + pt
                u = rr // sh
                if u >= hh:
                    break
                for pc in range(sw):
                    x0 = (pc - pl) % sw  # first input column landing in column phase pc
                    v0 = (x0 + pl) // sw
                    count = min((wd - x0 + sw - 1) // sw if x0 < wd else 0, wh - v0)
                    base = ((rr % sh) * sw + pc) * plane + (u * wh + v0) * cb
                    if nchw_in:
                        for k in range(nc):
                            s0 = ((n * c_ + c0 + k) * h + yy) * wd + x0
                            for v in range(count):
                                xp[np.uint64(base + v * cb + k)] = xf[np.uint64(s0 + v * sw)]
                    elif nc == cb:  # a fixed trip count: one vector move per pixel
                        for v in range(count):
                            s0 = np.uint64(((n * h + yy) * wd + x0 + v * sw) * c_ + c0)
                            o = np.uint64(base + v * cb)
                            for k in range(DW_BLOCK):
                                xp[o + np.uint64(k)] = xf[s0 + np.uint64(k)]
                    else:
                        for v in range(count):
                            s0 = ((n * h + yy) * wd + x0 + v * sw) * c_ + c0
                            o = base + v * cb
                            for k in range(nc):
                                xp[np.uint64(o + k)] = xf[np.uint64(s0 + k)]
            for t in range(taps):
                for k in range(cb):
                    wv = w[c0 + k, 0, t // kw, t % kw] if k < nc else zero
                    for q in range(qt):
                        wexp[t * tl + q * cb + k] = wv
            for k in range(cb):
                bv = bias[c0 + k] if (has_bias and k < nc) else zero
                for q in range(qt):
                    bexp[q * cb + k] = bv
            for r in range(oh):
                for q0 in range(0, ow, qt):
                    nq = min(qt, ow - q0)
                    m = nq * cb
                    rb = (r * wh + q0) * cb
                    if taps == 9:
                        o0, o1, o2 = np.uint64(rb + toff[0]), np.uint64(rb + toff[1]), np.uint64(rb + toff[2])
                        o3, o4, o5 = np.uint64(rb + toff[3]), np.uint64(rb + toff[4]), np.uint64(rb + toff[5])
                        o6, o7, o8 = np.uint64(rb + toff[6]), np.uint64(rb + toff[7]), np.uint64(rb + toff[8])
                        for t in range(m):
                            u = np.uint64(t)
                            ob[u] = (bexp[u] + wexp[u] * xp[o0 + u] + wexp[u + np.uint64(tl)] * xp[o1 + u]
                                     + wexp[u + np.uint64(2 * tl)] * xp[o2 + u]
                                     + wexp[u + np.uint64(3 * tl)] * xp[o3 + u]
                                     + wexp[u + np.uint64(4 * tl)] * xp[o4 + u]
                                     + wexp[u + np.uint64(5 * tl)] * xp[o5 + u]
                                     + wexp[u + np.uint64(6 * tl)] * xp[o6 + u]
                                     + wexp[u + np.uint64(7 * tl)] * xp[o7 + u]
                                     + wexp[u + np.uint64(8 * tl)] * xp[o8 + u])
                    else:
                        for t in range(m):
                            ob[np.uint64(t)] = bexp[np.uint64(t)]
                        for tp in range(taps):
                            o = np.uint64(rb + toff[tp])
                            wo = np.uint64(tp * tl)
                            for t in range(m):
                                u = np.uint64(t)
                                ob[u] += wexp[wo + u] * xp[o + u]
                    for q in range(nq):
                        d0 = ((n * oh + r) * ow + q0 + q) * c_ + c0
                        o = q * cb
                        if code == CLIP and nc == cb:
                            for k in range(DW_BLOCK):
                                yf[np.uint64(d0 + k)] = min(max(ob[np.uint64(o + k)], p0), p1)
                        elif code == CLIP:
                            for k in range(nc):
                                yf[np.uint64(d0 + k)] = min(max(ob[np.uint64(o + k)], p0), p1)
                        elif code == RELU:
                            for k in range(nc):
                                yf[np.uint64(d0 + k)] = max(ob[np.uint64(o + k)], zero)
                        else:
                            for k in range(nc):
                                yf[np.uint64(d0 + k)] = activate(ob[np.uint64(o + k)], code, p0, p1)


@jit(inline="always", error_model="numpy")
def _store_act(yf, d, acc, count, code, p0, p1):  # type: ignore[no-untyped-def]
    """yf[d : d + count] = act(acc[:count])."""
    zero = np.float32(0.0)
    if code == CLIP:
        for c in range(count):
            yf[np.uint64(d + c)] = min(max(acc[np.uint64(c)], p0), p1)
    elif code == RELU:
        for c in range(count):
            yf[np.uint64(d + c)] = max(acc[np.uint64(c)], zero)
    elif code == NONE:
        for c in range(count):
            yf[np.uint64(d + c)] = acc[np.uint64(c)]
    else:
        for c in range(count):
            yf[np.uint64(d + c)] = activate(acc[np.uint64(c)], code, p0, p1)


@jit(error_model="numpy", fastmath={"contract"})
def _dw_nhwc_inplace(x, w, y, sh, sw, dh, dw, pt, pl, bias, has_bias, code, p0, p1, nq):  # type: ignore[no-untyped-def]
    """Depthwise (multiplier 1) from an NHWC input read in place. Interior output pixels (every tap inside the
    input) go in tiles of nq pixels of one row: at stride 1 tap (i, j) of the tile is one contiguous run of
    nq*C input floats, so the tile is one flat loop of kh*kw multiply-adds per element against weights
    pre-broadcast over the tile (at stride > 1, nq = 1: a run of C). Border pixels add only their valid taps.
    Results go through a fresh private row (no alias checks, so LLVM vectorizes) and are stored with the
    activation."""
    n_, h, wd, c_ = x.shape
    kh, kw = w.shape[2], w.shape[3]
    oh, ow = y.shape[1], y.shape[2]
    taps = kh * kw
    xf = x.reshape(x.size)
    yf = y.reshape(y.size)
    tl = nq * c_
    wexp = np.empty(taps * tl, dtype=np.float32)
    bexp = np.empty(tl, dtype=np.float32)
    ob = np.empty(tl, dtype=np.float32)
    toff = np.empty(taps, dtype=np.int64)
    for t in range(taps):
        i, j = t // kw, t % kw
        toff[t] = (i * dh * wd + j * dw) * c_
        for q in range(nq):
            for c in range(c_):
                wexp[t * tl + q * c_ + c] = w[c, 0, i, j]
    for q in range(nq):
        for c in range(c_):
            bexp[q * c_ + c] = bias[c] if has_bias else np.float32(0.0)
    # interior output rows [r_lo, r_hi) and columns [q_lo, q_hi): every tap inside the input
    r_lo = min(oh, (pt + sh - 1) // sh)
    e = h - 1 - (kh - 1) * dh + pt
    r_hi = max(r_lo, min(oh, e // sh + 1)) if e >= 0 else r_lo
    q_lo = min(ow, (pl + sw - 1) // sw)
    e = wd - 1 - (kw - 1) * dw + pl
    q_hi = max(q_lo, min(ow, e // sw + 1)) if e >= 0 else q_lo
    for n in range(n_):
        for r in range(oh):
            inner = r_lo <= r < r_hi
            q = 0
            while q < ow:
                d = ((n * oh + r) * ow + q) * c_
                if inner and q_lo <= q < q_hi:
                    cnt = min(nq, q_hi - q)
                    m = cnt * c_
                    rb = ((n * h + r * sh - pt) * wd + q * sw - pl) * c_
                    if taps == 9:
                        o0, o1, o2 = np.uint64(rb + toff[0]), np.uint64(rb + toff[1]), np.uint64(rb + toff[2])
                        o3, o4, o5 = np.uint64(rb + toff[3]), np.uint64(rb + toff[4]), np.uint64(rb + toff[5])
                        o6, o7, o8 = np.uint64(rb + toff[6]), np.uint64(rb + toff[7]), np.uint64(rb + toff[8])
                        for t in range(m):
                            u = np.uint64(t)
                            # two independent FMA chains: half the latency of one chain of nine
                            ob[u] = ((bexp[u] + wexp[u] * xf[o0 + u] + wexp[u + np.uint64(tl)] * xf[o1 + u]
                                      + wexp[u + np.uint64(2 * tl)] * xf[o2 + u]
                                      + wexp[u + np.uint64(3 * tl)] * xf[o3 + u])
                                     + (wexp[u + np.uint64(4 * tl)] * xf[o4 + u]
                                     + wexp[u + np.uint64(5 * tl)] * xf[o5 + u]
                                     + wexp[u + np.uint64(6 * tl)] * xf[o6 + u]
                                     + wexp[u + np.uint64(7 * tl)] * xf[o7 + u]
                                     + wexp[u + np.uint64(8 * tl)] * xf[o8 + u]))
                    else:
                        for t in range(m):
                            ob[np.uint64(t)] = bexp[np.uint64(t)]
                        for tp in range(taps):
                            o = np.uint64(rb + toff[tp])
                            wo = np.uint64(tp * tl)
                            for t in range(m):
                                u = np.uint64(t)
                                ob[u] += wexp[wo + u] * xf[o + u]
                    _store_act(yf, d, ob, m, code, p0, p1)
                    q += cnt
                    continue
                for c in range(c_):
                    ob[np.uint64(c)] = bexp[np.uint64(c)]
                for i in range(kh):
                    yy = r * sh + i * dh - pt
                    if yy < 0 or yy >= h:
                        continue
                    for j in range(kw):
                        xx = q * sw + j * dw - pl
                        if xx < 0 or xx >= wd:
                            continue
                        s0 = ((n * h + yy) * wd + xx) * c_
                        wo = (i * kw + j) * tl
                        for c in range(c_):
                            ob[np.uint64(c)] += wexp[np.uint64(wo + c)] * xf[np.uint64(s0 + c)]
                _store_act(yf, d, ob, c_, code, p0, p1)
                q += 1


def conv2d_nhwc(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, *, nchw_input: bool, group: int,
                strides: list[int], dilations: list[int], pads: list[int],
                act: tuple[int, float, float] = (NONE, 0.0, 0.0)) -> np.ndarray | None:
    """NhwcConv's channels-last result (N, OH, OW, M), or None for a case without a channels-last kernel:
    depthwise (channel multiplier 1), 1x1 stride-1 unpadded group-1 from NHWC, any group-1 from NCHW."""
    if nchw_input:
        n, c, h, wd = x.shape
    else:
        n, h, wd, c = x.shape
    m, cg, kh, kw = w.shape
    if c != cg * group or m % group:
        raise ValueError(f"Conv channel mismatch: X has {c} channels, W {tuple(w.shape)}, group {group}")
    oh, ow = conv_out_shape((h, wd), (kh, kw), strides, dilations, pads)
    (sh, sw), (dh, dw), (ph, pw) = strides, dilations, pads[:2]
    x = np.ascontiguousarray(x)
    w = np.ascontiguousarray(w)
    code, p0, p1 = act
    if cg == 1 and group == c == m:
        y = np.empty((n, oh, ow, m), dtype=np.float32)
        if not nchw_input:
            bias = _NO_BIAS if b is None else np.ascontiguousarray(b, dtype=np.float32)
            _dw_nhwc_inplace(x, w, y, sh, sw, dh, dw, ph, pw, bias, b is not None, code, np.float32(p0),
                             np.float32(p1), max(1, DW_ROW // c) if sw == 1 else 1)
            return y
        bias = _NO_BIAS if b is None else np.ascontiguousarray(b, dtype=np.float32)
        hh, wh = oh + ((kh - 1) * dh) // sh, ow + ((kw - 1) * dw) // sw
        xp = _columns(1, sh * sw * hh * wh * DW_BLOCK, "dw").reshape(-1)
        _dw_nhwc(x, nchw_input, w, y, sh, sw, dh, dw, ph, pw, bias, b is not None, code, np.float32(p0),
                 np.float32(p1), xp)
        return y
    if group != 1:
        return None
    pointwise = kh == kw == 1 and sh == sw == 1 and not any(pads)
    if not nchw_input and not pointwise:
        return None
    y = np.empty((n, oh, ow, m), dtype=np.float32)
    wt = _transposed(w)
    for i in range(n):
        yi = y[i].reshape(oh * ow, m)
        if pointwise and not nchw_input:
            np.matmul(x[i].reshape(h * wd, c), wt, out=yi)
        else:
            if pointwise:
                cols = x[i].reshape(c, oh * ow)
            else:
                cols = _columns(c * kh * kw, oh * ow)
                im2col(x[i], kh, kw, sh, sw, dh, dw, ph, pw, oh, ow, cols)
            np.matmul(cols.T, wt, out=yi)
        bias_activation_columns(yi, b, code, p0, p1)
    return y


@register("NhwcConv", domain="ai.ronn", since=1, override="numba")
def nhwc_conv(x, w, b=None, *, auto_pad: str = "NOTSET", dilations: list[int] | None = None, group: int = 1,
              kernel_shape: list[int] | None = None, pads: list[int] | None = None,
              strides: list[int] | None = None, activation: str = "",
              activation_params: list[float] | None = None, nchw_input: int = 0):  # type: ignore[no-untyped-def]
    if x.ndim != 4:
        return NotImplemented
    nchw = x if nchw_input else x.transpose(0, 3, 1, 2)  # a view: only its shape is read by _geometry
    geometry = _geometry(nchw, w, auto_pad, dilations, kernel_shape, pads, strides)
    act = activation_code(activation, activation_params)
    if geometry is None or not _bias_ok(b, w) or act is None:
        return NotImplemented
    strides, dilations, pads = geometry
    y = conv2d_nhwc(x, w, b, nchw_input=bool(nchw_input), group=group, strides=strides, dilations=dilations,
                    pads=pads, act=act)
    return NotImplemented if y is None else (y,)
