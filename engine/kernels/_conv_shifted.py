"""The im2col-free "shifted GEMM" path of the numba Conv overrides (:mod:`engine.kernels.ops_conv`) for wide
stride-1 group-1 convolutions, numpy's OpenBLAS ``cblas_sgemm`` reached through ctypes, and the caches of
repacked (read-only) weights."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.kernels._conv_im2col import _NO_BIAS, _columns
from engine.kernels._epilogue import CLIP, NONE, RELU, activate
from engine.kernels._numba import jit

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
            elif code == NONE:  # unsigned indices: signed ones kept these loops scalar (stem: 0.38 -> 0.08 ms)
                for q in range(ow):
                    dst[np.uint64(q)] = src[np.uint64(o + q)] + b
            elif code == RELU:
                for q in range(ow):
                    dst[np.uint64(q)] = max(src[np.uint64(o + q)] + b, zero)
            elif code == CLIP:
                for q in range(ow):
                    dst[np.uint64(q)] = min(max(src[np.uint64(o + q)] + b, p0), p1)
            else:
                for q in range(ow):
                    dst[np.uint64(q)] = activate(src[np.uint64(o + q)] + b, code, p0, p1)


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
