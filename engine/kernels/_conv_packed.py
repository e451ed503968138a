"""Group-1 convolution as ``W @ cols`` through the packed GEMM (:mod:`engine.kernels._gemm_packed`), with the
column matrix written straight into the GEMM's panel layout.

OpenBLAS packs ``cols`` (C*kh*kw, OH*OW) into panels on every call anyway; here the im2col writes those
panels itself, so the column matrix is written once and never repacked: pixel ``p`` of column-matrix row
``row`` lands at ``panels[p // 32, row, p % 32]``. Rows are built 16 at a time by ``_conv_im2col``'s row
loop into an L2-resident strip, then copied out panel by panel in 32-float runs (writing the panels directly,
in runs cut at panel boundaries, left LLVM's short runs scalar: 2.4 ms for 3x3 64 @56).

``W`` (M, C*kh*kw) is read in place by the micro-kernel (broadcast per element), the
per-channel bias is the kernel's row bias, a residual ``Z`` is copied into the output first and accumulated
onto, and Relu or Clip runs in the store; other activations run after in the ``_epilogue`` pass.

Used when one intra-op thread runs (the GEMM is serial) for every group-1 convolution the direct loop does
not take: it replaces both im2col + ``np.matmul`` and the shifted GEMMs of ``_conv_shifted``.
"""

from __future__ import annotations

import threading

import numba
import numpy as np

from engine.kernels._conv_im2col import _columns, _im2col_row, _split_columns
from engine.kernels._epilogue import NONE, bias_activation
from engine.kernels._gemm_packed import _NO_BIAS, MR, NR, ROW_BIAS, _aligned_empty, _gemm, clamp_of
from engine.kernels._numba import jit

_scratch = threading.local()
BLOCK_PIXELS = 224  # output pixels per GEMM block (7 panels): its panels stay in L2 (K=576: 516 KB)
_NO_XS = np.zeros((1, 1, 1, 1), np.float32)
_NO_X2 = np.zeros((0, 1), np.float32)


def usable(m: int) -> bool:
    """Whether the packed path takes a group-1 convolution with ``m`` output channels."""
    return m >= MR and numba.get_num_threads() == 1


def _panels(k: int, n: int) -> np.ndarray:
    """A per-thread reusable, 64-byte aligned (ceil(n/32), k, 32) panel buffer."""
    npan = -(-n // NR)
    size = npan * k * NR
    buf = getattr(_scratch, "panels", None)
    if buf is None or buf.size < size:
        buf = _aligned_empty((size,))
        _scratch.panels = buf
    return buf[:size].reshape(npan, k, NR)


ROWS = 16  # column-matrix rows built per strip: a (16, OH*OW) strip stays in L2


@jit(inline="always", error_model="numpy")
def _pack_strip(strip, ld, r0, r1, n, flat, k):  # type: ignore[no-untyped-def]
    """Rows r0..r1 of the (K, n) matrix, held in the flat ``strip`` (row r at (r - r0) * ld), into the
    panels: per panel one contiguous (r1-r0, 32) block, each 32-float run a constant-trip copy (two
    vectors). The last panel's columns past n are zeros. Flat indices only: a numba row view per run cost
    more than the copy."""
    full = n // NR
    for jp in range(full):
        for r in range(r0, r1):
            dst = jp * k * NR + r * NR
            src = (r - r0) * ld + jp * NR
            for t in range(NR):
                flat[np.uint64(dst + t)] = strip[np.uint64(src + t)]
    rest = n - full * NR
    if rest:
        zero = np.float32(0.0)
        for r in range(r0, r1):
            dst = full * k * NR + r * NR
            src = (r - r0) * ld + full * NR
            for t in range(rest):
                flat[np.uint64(dst + t)] = strip[np.uint64(src + t)]
            for t in range(rest, NR):
                flat[np.uint64(dst + t)] = zero


@jit(error_model="numpy")
def _conv_image(xs, wd, geometry, x2, w2, bias, bias_mode, y2, prefilled, clamp, lo, hi, block_rows, flat):  # type: ignore[no-untyped-def]
    """One image: for each block of ``block_rows`` output rows, its column-matrix panels (from ``x2``, the
    (K, OH*OW) input of a 1x1 convolution, when it has rows, else by im2col from ``xs``), then the GEMM of
    that block into y2[:, block]."""
    kh, kw, sh, sw, dh, dw, ph, pw, oh, ow = geometry
    k = w2.shape[1]
    npix = oh * ow
    strip = np.empty((ROWS, block_rows * ow), np.float32)
    sflat = strip.reshape(-1)
    xflat = x2.reshape(-1)
    for r0 in range(0, oh, block_rows):
        r1 = min(oh, r0 + block_rows)
        p0 = r0 * ow
        n = (r1 - r0) * ow
        for k0 in range(0, k, ROWS):
            k1 = min(k, k0 + ROWS)
            if x2.shape[0]:
                _pack_strip(xflat[k0 * npix + p0:], npix, k0, k1, n, flat, k)
                continue
            for row in range(k0, k1):
                _im2col_row(xs, wd, kh, kw, sh, sw, dh, dw, ph, pw, r0, r1, ow, strip[row - k0], row)
            _pack_strip(sflat, strip.shape[1], k0, k1, n, flat, k)
        npan = (n + NR - 1) // NR
        _gemm(w2, flat[:npan * k * NR].reshape(npan, k, NR), bias, bias_mode, y2, p0, n, prefilled, clamp, lo,
              hi)


def conv_packed(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, y: np.ndarray, geometry: tuple[int, ...],
                act: tuple[int, float, float], z: np.ndarray | None) -> None:
    """y (N, M, OH, OW) = act(conv(x, w) + b + z) for a group-1 convolution; ``geometry`` is
    (kh, kw, sh, sw, dh, dw, ph, pw, oh, ow); x, w, z C-contiguous float32."""
    kh, kw, sh, sw, dh, dw, ph, pw, oh, ow = geometry
    n, c, h, wd = x.shape
    m = w.shape[0]
    k, npix = c * kh * kw, oh * ow
    w2 = w.reshape(m, k)
    code, p0, p1 = act
    pointwise = kh == kw == 1 and sh == sw == 1 and ph == pw == 0 and oh == h and ow == wd
    block_rows = max(1, min(oh, BLOCK_PIXELS // ow))
    flat = _panels(k, block_rows * ow).reshape(-1)
    clamp = clamp_of(code, p0, p1)
    lo, hi = clamp if clamp is not None else (0.0, 0.0)
    bias, mode = (_NO_BIAS, 0) if b is None else (np.ascontiguousarray(b, dtype=np.float32), ROW_BIAS)
    for i in range(n):
        if pointwise:
            xs, x2 = _NO_XS, x[i].reshape(c, npix)
        else:
            x2 = _NO_X2
            if sw == 1:
                xs = x[i].reshape(c, h, 1, wd)
            else:
                xs = _columns(c * h * sw, -(-wd // sw), "split").reshape(c, h, sw, -(-wd // sw))
                _split_columns(x[i], sw, xs)
        yi = y[i].reshape(m, npix)
        if z is not None:
            yi[...] = z[i].reshape(m, npix)
        _conv_image(xs, wd, geometry, x2, w2, bias, mode, yi, z is not None, clamp is not None, lo, hi,
                    block_rows, flat)
        if clamp is None and code != NONE:
            bias_activation(yi, None, code, p0, p1)
