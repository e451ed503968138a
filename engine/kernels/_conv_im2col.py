"""im2col for the numba Conv overrides (:mod:`engine.kernels.ops_conv`): per-thread scratch buffers and a
numba loop that writes the (C*kh*kw, OH*OW) column matrix of one image directly, zeros standing in for the
padding (see the ``ops_conv`` docstring for why not the reference's strided-view im2col)."""

from __future__ import annotations

import threading

import numpy as np

from engine.kernels._epilogue import parallel_ok
from engine.kernels._numba import jit, prange

_scratch = threading.local()
_NO_BIAS = np.zeros(1, dtype=np.float32)  # the bias argument of a kernel called without one


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
def _im2col_row(xs, w, kh, kw, sh, sw, dh, dw, ph, pw, r0, r1, ow, dst, row):  # type: ignore[no-untyped-def]
    """dst[(r-r0)*ow + q] = x[c, r*sh + i*dh - ph, q*sw + j*dw - pw] (0 outside x) for row = (c*kh + i)*kw + j
    of the column matrix (``dst`` is that row, or a private row buffer), read
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
        _im2col_row(xs, w, kh, kw, sh, sw, dh, dw, ph, pw, r0, r1, ow, cols[row], row)


@jit(error_model="numpy")
def _im2col_serial(xs, w, kh, kw, sh, sw, dh, dw, ph, pw, r0, r1, ow, cols):  # type: ignore[no-untyped-def]
    for row in range(cols.shape[0]):
        _im2col_row(xs, w, kh, kw, sh, sw, dh, dw, ph, pw, r0, r1, ow, cols[row], row)


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
