"""Channels-last (NHWC) depthwise kernels of the numba NhwcConv override (:mod:`engine.kernels.ops_conv`)."""

from __future__ import annotations

import numpy as np

from engine.kernels._epilogue import CLIP, NONE, RELU, activate
from engine.kernels._numba import jit

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
