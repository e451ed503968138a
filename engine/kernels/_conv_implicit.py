"""Wide stride-1 group-1 convolution as one implicit GEMM: the shifted-GEMM idea of ``_conv_shifted`` with
every tap accumulated in the micro-kernel's registers instead of nine OpenBLAS calls.

The input is zero-padded into (C, Hp*Wp) rows (``_copy_padded``). Computed at the padded width, output
pixel p of tap (i, j) reads column p + i*dh*Wp + j*dw, so ``Y (M, OH*Wp) = A @ B`` with ``A = W`` as
(M, C*kh*kw) (rows zero-padded to a multiple of 8, once per read-only weight) and B's row ``(c*kh + i)*kw +
j`` the padded row c shifted by tap (i, j)'s offset: the taps of one channel are consecutive k steps, so
they reuse the same few cache lines (tap-major order, channel rows 13 KB apart, measured 1-2% slower). B is
never materialized: the micro-kernel's ``_tile_rows`` finds each row through a table of byte offsets, so a
32-pixel tile reads the padded input in place and keeps its 8x32 sums in registers across all K = C*kh*kw
steps. ``_conv_shifted``'s nine ``cblas_sgemm`` calls each reloaded and stored Y and
OpenBLAS repacked each shifted view. The Wp - OW garbage columns (and the columns that round OH*Wp up to
whole tiles) are dropped by ``_strip_epilogue``, which adds the bias, the residual and the activation.
"""

from __future__ import annotations

import numpy as np

from engine.kernels._conv_im2col import _columns
from engine.kernels._conv_shifted import _copy_padded, _strip_epilogue
from engine.kernels._gemm_packed import _NO_BIAS, ACCUMULATE, KC, MR, NR, SMALL_B_PANELS, _tile_rows
from engine.kernels._numba import jit

_NO_Z = np.zeros((1, 1, 1), dtype=np.float32)
_weights: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}


def _repack(w: np.ndarray) -> np.ndarray:
    """W (M, C, kh, kw) as A (ceil(M/8)*8, C*kh*kw), A[m, (c*kh + i)*kw + j] = W[m, c, i, j], zero rows
    after M."""
    m, c, kh, kw = w.shape
    a = np.zeros((-(-m // MR) * MR, kh * kw * c), np.float32)
    a[:m] = w.reshape(m, -1)
    return a


def _taps_matrix(w: np.ndarray) -> np.ndarray:
    """:func:`_repack`, cached for read-only weights (initializers)."""
    if w.flags.writeable:
        return _repack(w)
    key = (id(w), w.ctypes.data)
    hit = _weights.get(key)
    if hit is None or hit[0] is not w:
        if len(_weights) > 512:
            _weights.clear()
        hit = _weights[key] = (w, _repack(w))
    return hit[1]


@jit(error_model="numpy")
def _implicit_gemm(a, xp, rows, yp):  # type: ignore[no-untyped-def]
    """yp (Mpad, ncols) = A @ B, B's row k at ``rows[k]`` bytes into ``xp``; every tile full (padded)."""
    mpad, k = a.shape
    ldc = yp.shape[1]
    a0, b0, t0, c0 = a.ctypes.data, xp.ctypes.data, rows.ctypes.data, yp.ctypes.data
    nb = _NO_BIAS.ctypes.data
    npan, mblocks = ldc // NR, mpad // MR
    nkb = (k + KC - 1) // KC
    kc = (k + nkb - 1) // nkb
    for k0 in range(0, k, kc):  # K blocks: a block's B rows (kc x 128 B) and A rows stay in L1/L2
        kk = min(kc, k - k0)
        flags = ACCUMULATE if k0 > 0 else 0
        for t in range(npan * mblocks):
            # panels outer; A's row blocks outer when there are few panels (a 7x7 layer's 9.4 MB weight is
            # then read from memory once, not once per panel)
            jp, ib = (t % npan, t // npan) if npan <= SMALL_B_PANELS else (t // mblocks, t % mblocks)
            i0, j0 = ib * MR, jp * NR
            _tile_rows(a0 + (i0 * k + k0) * 4, k, b0 + j0 * 4, t0 + k0 * 8, c0 + (i0 * ldc + j0) * 4, ldc, kk, nb,
                       flags, b0 + j0 * 4)


def conv_implicit(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, y: np.ndarray, dilations: list[int],
                  pads: list[int], act: tuple[int, float, float], z: np.ndarray | None = None) -> None:
    """Stride-1, group-1 convolution into ``y`` (N, M, OH, OW) as one implicit GEMM per image (see above);
    x, w, z C-contiguous float32."""
    n, c, h, wd = x.shape
    m, _, kh, kw = w.shape
    dh, dw = dilations
    pt, pl, pb, pr = pads
    hp, wp = h + pt + pb, wd + pl + pr
    oh = y.shape[2]
    length = hp * wp + (kw - 1) * dw
    ncols = -(-(oh * wp) // NR) * NR
    a = _taps_matrix(w)
    shifts = [(t // kw) * dh * wp + (t % kw) * dw for t in range(kh * kw)]
    rows = np.array([(ch * length + s) * 4 for ch in range(c) for s in shifts], dtype=np.int64)
    # the rounded-up last tile reads up to ncols - oh*wp floats past the last row: zeroed slack
    flat = _columns(1, c * length + ncols, "implicit").reshape(-1)
    flat[c * length:] = 0.0
    xp = flat[:c * length].reshape(c, length)
    yp = _columns(a.shape[0], ncols, "implicit_out")
    code, p0, p1 = act
    bias = _NO_BIAS if b is None else np.ascontiguousarray(b, dtype=np.float32)
    for i in range(n):
        _copy_padded(x[i], pt, pl, wp, xp)
        _implicit_gemm(a, flat, rows, yp)
        _strip_epilogue(yp[:m], wp, y[i], bias, b is not None, _NO_Z if z is None else z[i], z is not None, code,
                        np.float32(p0), np.float32(p1))
