"""Group-1 convolution as ``Y^T = cols^T @ W^T`` with the weight pre-packed: the pixel-major orientation of the
packed GEMM (:mod:`engine.kernels._gemm_packed`).

``W @ cols`` (``_conv_packed``) must pack the column matrix on every call, and at a 14x14 or 7x7 output its
N = OH*OW (196, 49) leaves a mostly empty last 32-column panel (12-31% of the arithmetic wasted). Turned
around, the weight is B: ``(kh*kw*C, M)`` packed once per read-only weight (cached), M = 128-512 output
channels fill whole panels, and the pixels are A's rows, read in place by the micro-kernel. A is the
pixel-major column matrix ``A[p, (i*kw + j)*C + c]``: the input is first transposed into a zero-padded
channels-last copy, so each (pixel, tap) run of A is one contiguous copy of C floats at any stride or
dilation. The (OH*OW, M) result is written back to NCHW by the epilogue with the bias, the residual and the
activation.
"""

from __future__ import annotations

import numpy as np

from engine.kernels._conv_im2col import _columns
from engine.kernels._epilogue import activate
from engine.kernels._gemm_packed import gemm_into, pack
from engine.kernels._numba import jit

_weights: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}


def _packed_weight(w: np.ndarray) -> np.ndarray:
    """W (M, C, kh, kw) as the panels of B (kh*kw*C, M), B[(i*kw + j)*C + c, m] = W[m, c, i, j]; cached for
    read-only weights (initializers)."""
    if not w.flags.writeable:
        hit = _weights.get((id(w), w.ctypes.data))
        if hit is not None and hit[0] is w:
            return hit[1]
    panels = pack(np.ascontiguousarray(w.transpose(2, 3, 1, 0)).reshape(-1, w.shape[0]))
    if not w.flags.writeable:
        if len(_weights) > 512:
            _weights.clear()
        _weights[(id(w), w.ctypes.data)] = (w, panels)
    return panels


@jit(error_model="numpy")
def _pad_channels_last(x, pt, pl, xp):  # type: ignore[no-untyped-def]
    """xp (Hp, Wp, C) = x (C, H, W) transposed, zero-padded by pt rows on top and pl columns on the left."""
    c, h, w = x.shape
    flat = xp.reshape(-1)
    for t in range(flat.size):
        flat[np.uint64(t)] = 0.0
    wp = xp.shape[1]
    for r in range(h):
        for q in range(w):
            base = ((r + pt) * wp + q + pl) * c
            for ch in range(c):
                flat[np.uint64(base + ch)] = x[ch, r, q]


@jit(error_model="numpy")
def _pixel_columns(xp, kh, kw, sh, sw, dh, dw, oh, ow, a):  # type: ignore[no-untyped-def]
    """a (OH*OW, kh*kw*C): a[r*ow + q, (i*kw + j)*C + c] = xp[r*sh + i*dh, q*sw + j*dw, c]."""
    wp, c = xp.shape[1], xp.shape[2]
    k = kh * kw * c
    src = xp.reshape(-1)
    dst = a.reshape(-1)
    for r in range(oh):
        for q in range(ow):
            out = (r * ow + q) * k
            for i in range(kh):
                for j in range(kw):
                    s0 = ((r * sh + i * dh) * wp + q * sw + j * dw) * c
                    d0 = out + (i * kw + j) * c
                    for t in range(c):
                        dst[np.uint64(d0 + t)] = src[np.uint64(s0 + t)]


@jit(error_model="numpy")
def _transpose_epilogue(yt, y, bias, has_bias, z, has_z, code, p0, p1):  # type: ignore[no-untyped-def]
    """y[m, p] = act(yt[p, m] + bias[m] (+ z[m, p])) for y, z (M, P) and yt (P, M)."""
    m_, p_ = y.shape
    zero = np.float32(0.0)
    for m in range(m_):
        b = bias[m] if has_bias else zero
        row = y[m]
        res = z[m]
        for p in range(p_):
            v = yt[p, m] + b
            if has_z:
                v += res[p]
            row[p] = activate(v, code, p0, p1)


def conv_pixels(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, y: np.ndarray, geometry: tuple[int, ...],
                pads: list[int], act: tuple[int, float, float], z: np.ndarray | None) -> None:
    """y (N, M, OH, OW) = act(conv(x, w) + b + z) for a group-1 convolution; ``geometry`` is
    (kh, kw, sh, sw, dh, dw, oh, ow), ``pads`` [top, left, bottom, right]; x, w, z C-contiguous float32."""
    kh, kw, sh, sw, dh, dw, oh, ow = geometry
    n, c, h, wd = x.shape
    m = w.shape[0]
    pt, pl, pb, pr = pads
    npix, k = oh * ow, kh * kw * c
    panels = _packed_weight(w)
    xp = _columns(h + pt + pb, (wd + pl + pr) * c, "pixels_in").reshape(h + pt + pb, wd + pl + pr, c)
    a = _columns(npix, k, "pixels_cols")
    yt = _columns(npix, m, "pixels_out")
    code, p0, p1 = act
    bias = np.zeros(1, np.float32) if b is None else np.ascontiguousarray(b, dtype=np.float32)
    no_z = np.zeros((1, 1), np.float32)
    for i in range(n):
        _pad_channels_last(x[i], pt, pl, xp)
        _pixel_columns(xp, kh, kw, sh, sw, dh, dw, oh, ow, a)
        gemm_into(a, panels, yt, None, 0)
        _transpose_epilogue(yt, y[i].reshape(m, npix), bias, b is not None,
                            no_z if z is None else z[i].reshape(m, npix), z is not None, code, np.float32(p0),
                            np.float32(p1))
