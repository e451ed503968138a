"""numba overrides of MaxPool and AveragePool for 2-D float32 input: a direct loop over output rows, each
kernel tap a contiguous (stride 1) or strided pass along the row, with no padded copy of the input.

The reference pads the whole input (``np.pad``), builds a strided window view and reduces it, which is
10x slower at ResNet/MobileNet sizes. Handled: kernel_shape, strides, dilations, explicit pads or auto_pad,
ceil_mode, count_include_pad. Not handled (NotImplemented, the reference runs): MaxPool's Indices output,
non-2-D input, other dtypes, negative pads. NaN inputs: a window containing NaN gives NaN only where the
NaN is its first element (the reference propagates NaN from anywhere in the window).
"""

from __future__ import annotations

import numpy as np

from engine.kernels._epilogue import parallel_ok
from engine.kernels._numba import jit, prange
from engine.ops._nn import spatial_attrs
from engine.ops._nn_pool import pool_geometry
from engine.ops.registry import register


@jit(inline="always", error_model="numpy")
def _ranges(n_in, n_out, k, s, d, pb, lo_ok, hi_ok):  # type: ignore[no-untyped-def]
    """Per tap t: input offset, and output indices [lo, hi) whose input lies in [lo_ok, hi_ok); plus
    per output index o: the number of taps inside [lo_ok, hi_ok)."""
    offs = np.empty(k, dtype=np.int64)
    los = np.empty(k, dtype=np.int64)
    his = np.empty(k, dtype=np.int64)
    for t in range(k):
        off = t * d - pb
        offs[t] = off
        lo = max(0, (lo_ok - off + s - 1) // s)
        hi = (hi_ok - 1 - off) // s + 1 if hi_ok - 1 - off >= 0 else 0
        los[t] = min(n_out, lo)
        his[t] = max(los[t], min(n_out, hi))
    count = np.zeros(n_out, dtype=np.int64)
    for o in range(n_out):
        for t in range(k):
            p = o * s + offs[t]
            if lo_ok <= p < hi_ok:
                count[o] += 1
    return offs, los, his, count


@jit(inline="always", error_model="numpy")
def _pool_plane(x, y, p, is_max, kh, kw, sh, sw, dh, dw, ph, pw, coffs, clos, chis, rcount, ccount, xs):  # type: ignore[no-untyped-def]
    """One (H, W) plane. At column stride sw > 1 the plane is first split into its column phases
    (xs[y, k, v] = x[y, v*sw + k], one pass), so every tap reads a contiguous run of its phase row; all
    indices are unsigned, so the max/add loops vectorize (strided, signed reads had kept them scalar)."""
    h, w = x.shape[1], x.shape[2]
    oh, ow = y.shape[1], y.shape[2]
    xf = x.reshape(x.size)
    yf = y.reshape(y.size)
    base = p * h * w
    if sw > 1:
        wq = (w + sw - 1) // sw
        for yy in range(h):
            s0 = base + yy * w
            for k in range(sw):
                d0 = (yy * sw + k) * wq
                for v in range((w - k + sw - 1) // sw):
                    xs[np.uint64(d0 + v)] = xf[np.uint64(s0 + v * sw + k)]
        src = xs
        src0 = 0
        rstride = sw * wq
    else:
        wq = w
        src = xf
        src0 = base
        rstride = w
    init = -np.inf if is_max else 0.0
    for r in range(oh):
        d = (p * oh + r) * ow
        for q in range(ow):
            yf[np.uint64(d + q)] = init
        for i in range(kh):
            yy = r * sh + i * dh - ph
            if yy < 0 or yy >= h:
                continue
            for j in range(kw):
                off = coffs[j]
                phase = off % sw
                s1 = src0 + yy * rstride + phase * wq + (off - phase) // sw  # + q: input column q*sw + off
                if is_max:
                    for q in range(clos[j], chis[j]):
                        yf[np.uint64(d + q)] = max(yf[np.uint64(d + q)], src[np.uint64(s1 + q)])  # a select
                else:
                    for q in range(clos[j], chis[j]):
                        yf[np.uint64(d + q)] += src[np.uint64(s1 + q)]
        if not is_max:
            for q in range(ow):
                yf[np.uint64(d + q)] /= np.float32(rcount[r] * ccount[q])


@jit(inline="always", error_model="numpy")
def _setup(h, w, oh, ow, include_pad, kh, kw, sh, sw, dh, dw, ph, pw, pe_h, pe_w):  # type: ignore[no-untyped-def]
    # counting range: the input, or the input plus the explicit pads (never the ceil_mode extension)
    lo_h, hi_h = (-ph, h + pe_h) if include_pad else (0, h)
    lo_w, hi_w = (-pw, w + pe_w) if include_pad else (0, w)
    rcount = _ranges(h, oh, kh, sh, dh, ph, lo_h, hi_h)[3]
    ccount = _ranges(w, ow, kw, sw, dw, pw, lo_w, hi_w)[3]
    coffs, clos, chis, _ = _ranges(w, ow, kw, sw, dw, pw, 0, w)  # the taps read only real input
    return rcount, ccount, coffs, clos, chis


@jit(parallel=True, error_model="numpy")
def _pool_parallel(x, y, is_max, include_pad, kh, kw, sh, sw, dh, dw, ph, pw, pe_h, pe_w):  # type: ignore[no-untyped-def]
    rcount, ccount, coffs, clos, chis = _setup(x.shape[1], x.shape[2], y.shape[1], y.shape[2], include_pad,
                                               kh, kw, sh, sw, dh, dw, ph, pw, pe_h, pe_w)
    size = x.shape[1] * sw * ((x.shape[2] + sw - 1) // sw) if sw > 1 else 1
    for p in prange(x.shape[0]):
        xs = np.empty(size, dtype=np.float32)
        _pool_plane(x, y, p, is_max, kh, kw, sh, sw, dh, dw, ph, pw, coffs, clos, chis, rcount, ccount, xs)


@jit(error_model="numpy")
def _pool_serial(x, y, is_max, include_pad, kh, kw, sh, sw, dh, dw, ph, pw, pe_h, pe_w):  # type: ignore[no-untyped-def]
    rcount, ccount, coffs, clos, chis = _setup(x.shape[1], x.shape[2], y.shape[1], y.shape[2], include_pad,
                                               kh, kw, sh, sw, dh, dw, ph, pw, pe_h, pe_w)
    xs = np.empty(x.shape[1] * sw * ((x.shape[2] + sw - 1) // sw) if sw > 1 else 1, dtype=np.float32)
    for p in range(x.shape[0]):
        _pool_plane(x, y, p, is_max, kh, kw, sh, sw, dh, dw, ph, pw, coffs, clos, chis, rcount, ccount, xs)


def pool2d(x: np.ndarray, is_max: bool, *, kernel_shape, strides, dilations, pads, auto_pad, ceil_mode,
           count_include_pad) -> np.ndarray | None:
    """2-D float32 max or average pooling of (N, C, H, W); None where the override does not apply."""
    if x.ndim != 4 or x.dtype != np.float32 or len(kernel_shape) != 2:
        return None
    spatial = list(x.shape[2:])
    kernel_shape, strides, dilations, pads = spatial_attrs(spatial, kernel_shape, strides, dilations, pads)
    if auto_pad not in ("NOTSET", "", "VALID", "SAME_UPPER", "SAME_LOWER"):
        return None
    out_shape, begin, end, _extra = pool_geometry(
        spatial, kernel_shape, strides, dilations, pads, auto_pad, ceil_mode
    )
    if min(begin + end) < 0 or min(strides) < 1 or min(dilations) < 1:
        return None
    n, c = x.shape[:2]
    planes = np.ascontiguousarray(x).reshape(n * c, *spatial)
    y = np.empty((n * c, *out_shape), dtype=np.float32)
    (kh, kw), (sh, sw), (dh, dw) = kernel_shape, strides, dilations
    kernel = _pool_parallel if parallel_ok(y.size * kh * kw) else _pool_serial
    kernel(planes, y, is_max, bool(count_include_pad), kh, kw, sh, sw, dh, dw, begin[0], begin[1],
           end[0], end[1])
    return y.reshape(n, c, *out_shape)


@register("MaxPool", since=1, override="numba")
def max_pool(x, *, auto_pad: str = "NOTSET", ceil_mode: int = 0, dilations: list[int] | None = None,
             kernel_shape: list[int], pads: list[int] | None = None, storage_order: int = 0,
             strides: list[int] | None = None, _num_outputs: int = 1):  # type: ignore[no-untyped-def]
    if _num_outputs > 1:
        return NotImplemented
    y = pool2d(x, True, kernel_shape=kernel_shape, strides=strides, dilations=dilations, pads=pads,
               auto_pad=auto_pad, ceil_mode=ceil_mode, count_include_pad=0)
    return NotImplemented if y is None else (y,)


@register("AveragePool", since=1, override="numba")
def average_pool(x, *, auto_pad: str = "NOTSET", ceil_mode: int = 0, count_include_pad: int = 0,
                 dilations: list[int] | None = None, kernel_shape: list[int], pads: list[int] | None = None,
                 strides: list[int] | None = None):  # type: ignore[no-untyped-def]
    y = pool2d(x, False, kernel_shape=kernel_shape, strides=strides, dilations=dilations, pads=pads,
               auto_pad=auto_pad, ceil_mode=ceil_mode, count_include_pad=count_include_pad)
    return NotImplemented if y is None else (y,)
