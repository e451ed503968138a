"""Wide group-1 convolution as one implicit GEMM: the shifted-GEMM idea of ``_conv_shifted`` with every tap
accumulated in the micro-kernel's registers instead of nine OpenBLAS calls (at any stride: see
:func:`conv_implicit`).

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
from engine.kernels._conv_shifted import _strip_epilogue
from engine.kernels._gemm_packed import _NO_BIAS, ACCUMULATE, KC, MR, NR, _tile_rows
from engine.kernels._numba import jit

_NO_Z = np.zeros((1, 1, 1), dtype=np.float32)
IMPLICIT_GROUP = 8  # panels per group (see ``_implicit_gemm``; 1 to 16 measured within 2%)
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
def _implicit_gemm(a, xp, rows, yp, group):  # type: ignore[no-untyped-def]
    """yp (Mpad, ncols) = A @ B, B's row k at ``rows[k]`` bytes into ``xp``; every tile full (padded). B's
    panels in groups of ``group``, each swept by every row block of A (as ``_gemm_packed._gemm``)."""
    mpad, k = a.shape
    ldc = yp.shape[1]
    a0, b0, t0, c0 = a.ctypes.data, xp.ctypes.data, rows.ctypes.data, yp.ctypes.data
    nb = _NO_BIAS.ctypes.data  # (no bias, no clamp: ``_strip_epilogue`` applies them)
    npan, mblocks = ldc // NR, mpad // MR
    nkb = (k + KC - 1) // KC
    kc = (k + nkb - 1) // nkb
    for k0 in range(0, k, kc):  # K blocks: a block's B rows (kc x 128 B) and A rows stay in L1/L2
        kk = min(kc, k - k0)
        flags = ACCUMULATE if k0 > 0 else 0
        for g0 in range(0, npan, group):
            for ib in range(mblocks):
                i0 = ib * MR
                for jp in range(g0, min(npan, g0 + group)):
                    j0 = jp * NR
                    _tile_rows(a0 + (i0 * k + k0) * 4, k, b0 + j0 * 4, t0 + k0 * 8, c0 + (i0 * ldc + j0) * 4, ldc,
                               kk, nb, flags, b0 + j0 * 4, nb)


@jit(error_model="numpy")
def _copy_phases(x, pt, pl, sh, sw, wq, plane, xph):  # type: ignore[no-untyped-def]
    """The zero-padded image split into its sh*sw stride phases: padded pixel (yy, xx) of channel c goes to
    xph[((yy % sh)*sw + xx % sw)*C*plane + c*plane + (yy // sh)*wq + xx // sw] (one phase at stride 1)."""
    c_, h, w = x.shape
    for t in range(xph.size):
        xph[np.uint64(t)] = 0.0
    for c in range(c_):
        for r in range(h):
            yy = r + pt
            src = x[c, r]
            for pc in range(sw):
                q0 = (pc - pl) % sw  # first input column of phase pc
                base = (((yy % sh) * sw + pc) * c_ + c) * plane + (yy // sh) * wq + (q0 + pl) // sw
                for v in range((w - q0 + sw - 1) // sw):
                    xph[np.uint64(base + v)] = src[np.uint64(q0 + v * sw)]


def conv_implicit(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, y: np.ndarray, strides: list[int],
                  dilations: list[int], pads: list[int], act: tuple[int, float, float],
                  z: np.ndarray | None = None) -> None:
    """Group-1 convolution into ``y`` (N, M, OH, OW) as one implicit GEMM per image (see above); x, w, z
    C-contiguous float32. At stride > 1 the padded input is split into its stride phases first: tap (i, j)
    then reads phase ((i*dh) % sh, (j*dw) % sw) shifted by ((i*dh)//sh) rows and ((j*dw)//sw) columns, and
    the output is computed at the phase width."""
    n, c, h, wd = x.shape
    m, _, kh, kw = w.shape
    sh, sw = strides
    dh, dw = dilations
    pt, pl, pb, pr = pads
    hq, wq = -(-(h + pt + pb) // sh), -(-(wd + pl + pr) // sw)
    oh = y.shape[2]
    ncols = -(-(oh * wq) // NR) * NR
    # garbage columns of the last rows read past a phase plane (up to a row plus a rounded-up tile): slack
    plane = hq * wq + wq + NR
    a = _taps_matrix(w)
    taps = [(((i * dh) % sh) * sw + (j * dw) % sw, ((i * dh) // sh) * wq + (j * dw) // sw)
            for i in range(kh) for j in range(kw)]
    rows = np.array([((ph * c + ch) * plane + shift) * 4 for ch in range(c) for ph, shift in taps], dtype=np.int64)
    flat = _columns(1, sh * sw * c * plane, "implicit").reshape(-1)
    yp = _columns(a.shape[0], ncols, "implicit_out")
    code, p0, p1 = act
    bias = _NO_BIAS if b is None else np.ascontiguousarray(b, dtype=np.float32)
    for i in range(n):
        _copy_phases(x[i], pt, pl, sh, sw, wq, plane, flat)
        _implicit_gemm(a, flat, rows, yp, IMPLICIT_GROUP)
        _strip_epilogue(yp[:m], wq, y[i], bias, b is not None, _NO_Z if z is None else z[i], z is not None, code,
                        np.float32(p0), np.float32(p1))
