"""Shared helpers of the neural-network operator family (conv, pooling, normalization, softmax, resize).

Pooling lives in :mod:`engine.ops._nn_pool`, Resize in :mod:`engine.ops._nn_resize`."""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def compute_dtype(dtype: np.dtype) -> np.dtype:
    """The float type to accumulate in: float16 (and integers) widen to float32; float64 stays."""
    dtype = np.dtype(dtype)
    if dtype == np.float64:
        return dtype
    return np.dtype(np.float32)


def spatial_attrs(x_spatial, kernel_shape, strides, dilations, pads):
    """Normalize the usual conv/pool attribute lists for ``len(x_spatial)`` spatial dimensions."""
    nd = len(x_spatial)
    kernel_shape = [int(k) for k in kernel_shape]
    strides = [int(s) for s in strides] if strides else [1] * nd
    dilations = [int(d) for d in dilations] if dilations else [1] * nd
    pads = [int(p) for p in pads] if pads else [0] * (2 * nd)
    if len(kernel_shape) != nd or len(strides) != nd or len(dilations) != nd or len(pads) != 2 * nd:
        raise ValueError("kernel_shape/strides/dilations/pads do not match the input rank")
    return kernel_shape, strides, dilations, pads


def auto_pads(auto_pad, x_spatial, kernel_shape, strides, dilations, pads):
    """Explicit begin/end pads (``[b0, b1, ..., e0, e1, ...]``) after applying ``auto_pad``."""
    nd = len(x_spatial)
    if auto_pad in ("", "NOTSET"):
        return list(pads)
    if auto_pad == "VALID":
        return [0] * (2 * nd)
    if auto_pad not in ("SAME_UPPER", "SAME_LOWER"):
        raise ValueError(f"unknown auto_pad {auto_pad!r}")
    begin, end = [], []
    for n, k, s, d in zip(x_spatial, kernel_shape, strides, dilations, strict=False):
        out = -(-n // s)
        total = max(0, (out - 1) * s + (k - 1) * d + 1 - n)
        small, large = total // 2, total - total // 2
        if auto_pad == "SAME_UPPER":
            begin.append(small)
            end.append(large)
        else:
            begin.append(large)
            end.append(small)
    return begin + end


def pad_spatial(x: np.ndarray, begin, end, value=0) -> np.ndarray:
    """Pad the trailing spatial axes of an (N, C, *S) array with a constant (negative pads crop)."""
    if not any(begin) and not any(end):
        return x
    nd = len(begin)
    crop = tuple(
        slice(max(0, -b), x.shape[2 + i] - max(0, -e))
        for i, (b, e) in enumerate(zip(begin, end, strict=True))
    )
    x = x[(slice(None), slice(None), *crop)]
    width = [(0, 0), (0, 0)] + [(max(0, b), max(0, e)) for b, e in zip(begin, end, strict=False)]
    if len(width) != x.ndim or nd != x.ndim - 2:
        raise ValueError("pads do not match the input rank")
    return np.pad(x, width, mode="constant", constant_values=value)


def windows(xp: np.ndarray, kernel_shape, strides, dilations, out_shape) -> np.ndarray:
    """View of a padded (N, C, *S) array as (N, C, *out_shape, *kernel_shape) windows (no copy)."""
    nd = len(kernel_shape)
    eff = [(k - 1) * d + 1 for k, d in zip(kernel_shape, dilations, strict=False)]
    axes = tuple(range(2, 2 + nd))
    v = sliding_window_view(xp, eff, axis=axes)
    index = (
        (slice(None), slice(None))
        + tuple(slice(0, (o - 1) * s + 1, s) for o, s in zip(out_shape, strides, strict=False))
        + tuple(slice(None, None, d) for d in dilations)
    )
    return v[index]


def conv_out_shape(x_spatial, kernel_shape, strides, dilations, pads):
    nd = len(x_spatial)
    out = []
    for i in range(nd):
        eff = (kernel_shape[i] - 1) * dilations[i] + 1
        o = (x_spatial[i] + pads[i] + pads[nd + i] - eff) // strides[i] + 1
        if o <= 0:
            raise ValueError("convolution output would be empty")
        out.append(o)
    return out


def softmax(x: np.ndarray, axis: int) -> np.ndarray:
    """Numerically stable softmax along one axis, in the input's float type."""
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0).astype(x.dtype, copy=False)
    e = np.exp(x - m)
    e /= np.sum(e, axis=axis, keepdims=True)
    return e


def log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0).astype(x.dtype, copy=False)
    s = x - m
    s -= np.log(np.sum(np.exp(s), axis=axis, keepdims=True))
    return s


def norm_axis(axis: int, rank: int) -> int:
    if not -rank <= axis < max(rank, 1):
        raise ValueError(f"axis {axis} out of range for rank {rank}")
    return axis % rank if rank else 0


def coerce_2d(x: np.ndarray, axis: int) -> np.ndarray:
    """Opset < 13 Softmax family: flatten to (prod(shape[:axis]), prod(shape[axis:]))."""
    axis = norm_axis(axis, x.ndim) if x.ndim else 0
    return x.reshape(math.prod(x.shape[:axis]), -1)


def conv_nd(x: np.ndarray, w: np.ndarray, b, *, group: int, strides, dilations, pads, ct) -> np.ndarray:
    """Grouped N-d convolution (cross-correlation) via im2col + batched matmul, computed in dtype ``ct``.

    x: (N, C, *S); w: (M, C/group, *K); pads: explicit ``[begins..., ends...]``. Returns (N, M, *O) in ``ct``.
    """
    n, c = x.shape[:2]
    m = w.shape[0]
    kernel_shape = list(w.shape[2:])
    nd = len(kernel_shape)
    if c != w.shape[1] * group or m % group:
        raise ValueError(f"Conv channel mismatch: X has {c} channels, W {tuple(w.shape)}, group {group}")
    out_shape = conv_out_shape(x.shape[2:], kernel_shape, strides, dilations, pads)
    xc = x.astype(ct, copy=False)
    wc = w.astype(ct, copy=False)
    cg, mg = c // group, m // group
    ksize = math.prod(kernel_shape)
    osize = math.prod(out_shape)
    if ksize == 1 and all(s == 1 for s in strides) and not any(pads):
        # 1x1 convolution: a plain (grouped) matmul over the channel axis
        cols = xc.reshape(n, group, cg, osize)
        y = np.matmul(wc.reshape(group, mg, cg), cols)
        out = y.reshape(n, m, *out_shape)
    else:
        xp = pad_spatial(xc, pads[:nd], pads[nd:], 0)
        win = windows(xp, kernel_shape, strides, dilations, out_shape)  # (N, C, *O, *K)
        if group == 1:
            # (N, *O, C, *K) -> (N, O, C*K) @ (C*K, M)
            perm = (0, *range(2, 2 + nd), 1, *range(2 + nd, 2 + 2 * nd))
            patches = win.transpose(perm).reshape(n, osize, c * ksize)
            y = np.matmul(patches, wc.reshape(m, c * ksize).T)  # (N, O, M)
            out = np.moveaxis(y, -1, 1).reshape(n, m, *out_shape)
        else:
            # (N, G, *O, Cg, *K) -> (N, G, O, Cg*K) @ (G, Cg*K, Mg)
            win = win.reshape(n, group, cg, *out_shape, *kernel_shape)
            perm = (0, 1, *range(3, 3 + nd), 2, *range(3 + nd, 3 + 2 * nd))
            cols = win.transpose(perm).reshape(n, group, osize, cg * ksize)
            wg = wc.reshape(group, mg, cg * ksize).transpose(0, 2, 1)
            y = np.matmul(cols, wg)  # (N, G, O, Mg)
            out = y.transpose(0, 1, 3, 2).reshape(n, m, *out_shape)
    if b is not None:
        out = out + b.astype(ct, copy=False).reshape((1, m) + (1,) * nd)
    return out
