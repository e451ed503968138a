"""Direct (no BLAS) loops of the numba Conv overrides (:mod:`engine.kernels.ops_conv`), for narrow groups:
a loop over output rows for ``C/group * kh * kw`` up to ``DIRECT_MAX_TAPS``, and the depthwise (one input
channel per group) kernel over a padded, stride-phase-split copy of each plane (``_dw_plane_padded``).
Bias and the activation are applied as each row or plane is stored."""

from __future__ import annotations

import numpy as np

from engine.kernels._epilogue import CLIP, NONE, RELU, activate
from engine.kernels._numba import jit, prange


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
