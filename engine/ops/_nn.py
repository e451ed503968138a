"""Shared helpers of the neural-network operator family (conv, pooling, normalization, softmax, resize)."""

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


def pool_geometry(x_spatial, kernel_shape, strides, dilations, pads, auto_pad, ceil_mode):
    """Output shape plus begin/end pads (the end pads include the ceil_mode extension) of a pooling."""
    nd = len(x_spatial)
    if auto_pad in ("SAME_UPPER", "SAME_LOWER", "VALID"):
        pads = auto_pads(auto_pad, x_spatial, kernel_shape, strides, dilations, pads)
    begin, end = list(pads[:nd]), list(pads[nd:])
    out, extra = [], []
    for i in range(nd):
        eff = (kernel_shape[i] - 1) * dilations[i] + 1
        span = x_spatial[i] + begin[i] + end[i] - eff
        if ceil_mode:
            o = -(-span // strides[i]) + 1
            if (o - 1) * strides[i] >= x_spatial[i] + begin[i]:
                o -= 1
        else:
            o = span // strides[i] + 1
        if o <= 0:
            raise ValueError("pooling output would be empty")
        out.append(o)
        need = (o - 1) * strides[i] + eff
        extra.append(max(0, need - (x_spatial[i] + begin[i] + end[i])))
    return out, begin, end, extra


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


def _lowest(dtype: np.dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return -np.inf
    if dtype.kind == "b":
        return False
    return np.iinfo(dtype).min


def pool_nd(x: np.ndarray, mode: str, *, kernel_shape, strides=None, dilations=None, pads=None,
            auto_pad="NOTSET", ceil_mode=0, count_include_pad=0, p=2, storage_order=0,
            with_indices=False):
    """Max/average/Lp pooling of an (N, C, *S) array; ``mode`` in {"max", "avg", "lp"}.

    Returns ``(y,)`` or, for max pooling with ``with_indices``, ``(y, indices)`` where indices are flat
    positions in the unpadded input (row-major, or column-major over the spatial axes for storage_order=1).
    """
    spatial = list(x.shape[2:])
    nd = len(spatial)
    kernel_shape, strides, dilations, pads = spatial_attrs(spatial, kernel_shape, strides, dilations, pads)
    out_shape, begin, end, extra = pool_geometry(
        spatial, kernel_shape, strides, dilations, pads, auto_pad, ceil_mode
    )
    end_total = [e + x_ for e, x_ in zip(end, extra, strict=False)]
    ksize = math.prod(kernel_shape)
    lead = x.shape[:2]

    def win(a):
        w = windows(a, kernel_shape, strides, dilations, out_shape)
        return w.reshape(*w.shape[: 2 + nd], ksize)

    if mode == "max":
        xp = pad_spatial(x, begin, end_total, _lowest(x.dtype))
        wv = win(xp)
        if not with_indices:
            return (np.max(wv, axis=-1),)
        arg = np.argmax(wv, axis=-1)
        y = np.take_along_axis(wv, arg[..., None], axis=-1)[..., 0]
        if storage_order:
            strides_flat = [math.prod(spatial[:i]) for i in range(nd)]
        else:
            strides_flat = [math.prod(spatial[i + 1:]) for i in range(nd)]
        grids = np.meshgrid(*[np.arange(s, dtype=np.int64) for s in spatial], indexing="ij")
        flat = np.zeros(spatial, dtype=np.int64)
        for g, st in zip(grids, strides_flat, strict=True):
            flat += g * st
        fp = pad_spatial(flat[None, None], begin, end_total, -1)
        wi = win(fp)  # (1, 1, *O, K)
        idx = np.take_along_axis(np.broadcast_to(wi, (*lead, *wi.shape[2:])), arg[..., None], axis=-1)[..., 0]
        base = (np.arange(lead[0] * lead[1], dtype=np.int64) * math.prod(spatial)).reshape(
            (*lead,) + (1,) * nd
        )
        return (y, idx + base)
    ct = compute_dtype(x.dtype)
    xc = x.astype(ct, copy=False)
    if mode == "lp":
        xc = np.abs(xc) ** ct.type(p) if p != 1 else np.abs(xc)
    xp = pad_spatial(xc, begin, end_total, 0)
    s = np.sum(win(xp), axis=-1)
    if mode == "lp":
        y = s ** ct.type(1.0 / p) if p != 1 else s
        return (y.astype(x.dtype, copy=False),)
    ones = np.ones([1, 1] + spatial, dtype=ct)
    if count_include_pad:
        mask = pad_spatial(ones, begin, end, 1)
        mask = pad_spatial(mask, [0] * nd, extra, 0)
    else:
        mask = pad_spatial(ones, begin, end_total, 0)
    count = np.sum(win(mask), axis=-1)
    return ((s / count).astype(x.dtype, copy=False),)


# ----------------------------------------------------------------------------------------------- Resize


def _source_coords(mode, out_len, in_len, scale, roi_lo, roi_hi):
    """Source coordinate of every output index along one axis, plus a mask of extrapolated positions."""
    y = np.arange(out_len, dtype=np.float64)
    # As in the spec and the ONNX reference, length_resized is scale * length_original (a float: it differs
    # from the integer output length when that product is not whole; onnxruntime uses the integer there).
    out_w = scale * in_len
    extrap = None
    if mode == "align_corners":
        x = np.zeros(out_len) if out_w == 1 else y * (in_len - 1) / (out_w - 1)
    elif mode == "asymmetric":
        x = y / scale
    elif mode == "tf_crop_and_resize":
        if out_w == 1:
            x = np.full(out_len, (roi_hi - roi_lo) * (in_len - 1) / 2)
        else:
            x = y * (roi_hi - roi_lo) * (in_len - 1) / (out_w - 1)
        x = x + roi_lo * (in_len - 1)
        extrap = (x < 0) | (x > in_len - 1)
    elif mode == "pytorch_half_pixel":
        x = np.full(out_len, -0.5) if out_w == 1 else (y + 0.5) / scale - 0.5
    elif mode == "half_pixel":
        x = (y + 0.5) / scale - 0.5
    elif mode == "half_pixel_symmetric":
        adjustment = out_len / out_w
        offset = in_len / 2 * (1 - adjustment)
        x = offset + (y + 0.5) / scale - 0.5
    else:
        raise ValueError(f"Resize: unknown coordinate_transformation_mode {mode!r}")
    return x, extrap


def _resize_coeffs(kind, ratio, scale, nearest_mode, cubic_a, antialias):
    """(out_len, taps) interpolation weights for fractional offsets ``ratio`` in (0, 1]."""
    r = ratio[:, None]
    if kind == "nearest":
        integer = ratio == 1
        if nearest_mode == "round_prefer_floor":
            hi = ratio > 0.5
        elif nearest_mode == "round_prefer_ceil":
            hi = ratio >= 0.5
        elif nearest_mode == "floor":
            hi = np.zeros_like(integer)
        elif nearest_mode == "ceil":
            hi = np.ones_like(integer)
        else:
            raise ValueError(f"Resize: unknown nearest_mode {nearest_mode!r}")
        hi = hi | integer
        return np.stack([~hi, hi], axis=1).astype(np.float64)
    a = cubic_a
    if kind == "linear" and not antialias:
        return np.concatenate([1 - r, r], axis=1)
    if kind == "cubic" and not antialias:
        s = 1 - r
        return np.concatenate([
            ((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a,
            ((a + 2) * r - (a + 3)) * r * r + 1,
            ((a + 2) * s - (a + 3)) * s * s + 1,
            ((a * (s + 1) - 5 * a) * (s + 1) + 8 * a) * (s + 1) - 4 * a,
        ], axis=1)
    sc = min(scale, 1.0)
    if kind == "linear":
        start = int(np.floor(-1 / sc) + 1)
        args = (np.arange(start, 2 - start)[None, :] - r) * sc
        c = np.clip(1 - np.abs(args), 0, 1)
    elif kind == "cubic":
        start = int(np.floor(-2 / sc) + 1)
        t = np.abs((np.arange(start, 2 - start)[None, :] - r) * sc)
        c = np.where(
            t <= 1,
            (a + 2) * t**3 - (a + 3) * t**2 + 1,
            np.where(t < 2, a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a, 0.0),
        )
    else:
        raise ValueError(f"Resize: unknown mode {kind!r}")
    return c / c.sum(axis=1, keepdims=True)


def resize_axis(data, axis, scale, out_len, *, kind, coord_mode, nearest_mode="round_prefer_floor",
                cubic_a=-0.75, antialias=False, exclude_outside=False, roi=None, extrapolation_value=0.0):
    """Resample ``data`` along one axis (Resize is separable): gather the taps and weight them."""
    in_len = data.shape[axis]
    roi_lo, roi_hi = roi if roi is not None else (0.0, 1.0)
    x, extrap = _source_coords(coord_mode, out_len, in_len, scale, roi_lo, roi_hi)
    fl = np.floor(x)
    ratio = np.where(x == fl, 1.0, x - fl)
    coeffs = _resize_coeffs(kind, ratio, scale, nearest_mode, cubic_a, antialias)
    n = coeffs.shape[1]
    pad = -(-n // 2)
    xp = x + pad
    p = np.floor(xp).astype(np.int64)
    frac = xp - p
    if n % 2 == 0:
        off = np.where(frac == 0, -(n // 2), -(n // 2) + 1)
    else:
        base = -((n - 1) // 2)
        off = np.where(frac <= 0.5, base, base + 1)
    idx = (p + off)[:, None] + np.arange(n)[None, :] - pad
    if exclude_outside:
        coeffs = np.where((idx < 0) | (idx >= in_len), 0.0, coeffs)
        total = coeffs.sum(axis=1, keepdims=True)
        coeffs = coeffs / np.where(total == 0, 1.0, total)
    idx = np.clip(idx, 0, in_len - 1)
    tail = (1,) * (data.ndim - axis - 1)
    if kind == "nearest":
        sel = idx[np.arange(out_len), np.argmax(coeffs, axis=1)]
        result = np.take(data, sel, axis=axis)
    else:
        gathered = np.take(data, idx, axis=axis)  # (..., out, n, ...)
        w = coeffs.astype(data.dtype).reshape((1,) * axis + coeffs.shape + tail)
        result = np.sum(gathered * w, axis=axis + 1)
    if extrap is not None and extrap.any():
        mask = extrap.reshape((1,) * axis + (out_len,) + tail)
        result = np.where(mask, np.asarray(extrapolation_value, dtype=result.dtype), result)
    return result


def resize_nd(x, *, kind, coord_mode, scales=None, sizes=None, axes=None, roi=None,
              keep_aspect_ratio_policy="stretch", **kwargs):
    """Resize an N-d array by per-axis ``scales`` or target ``sizes`` (optionally only along ``axes``)."""
    r = x.ndim
    axes = list(range(r)) if axes is None else [a % r for a in axes]
    if roi is not None:
        roi = np.asarray(roi, dtype=np.float64).reshape(-1)
        if roi.size == 0:
            roi = None
    roi_full = None
    if roi is not None:
        na = len(axes)
        if roi.size != 2 * na:
            raise ValueError("Resize: roi must hold 2 values per resized axis")
        roi_full = [(0.0, 1.0)] * r
        for i, d in enumerate(axes):
            roi_full[d] = (float(roi[i]), float(roi[na + i]))
    scale_f = [1.0] * r
    out = list(x.shape)
    if sizes is not None:
        sizes = [int(s) for s in np.asarray(sizes).reshape(-1)]
        if len(sizes) != len(axes):
            raise ValueError("Resize: sizes must have one entry per resized axis")
        for i, d in enumerate(axes):
            out[d] = sizes[i]
            scale_f[d] = sizes[i] / x.shape[d]
        if keep_aspect_ratio_policy != "stretch":
            picks = [scale_f[d] for d in axes]
            if keep_aspect_ratio_policy == "not_larger":
                s = min(picks)
            elif keep_aspect_ratio_policy == "not_smaller":
                s = max(picks)
            else:
                raise ValueError(f"Resize: unknown keep_aspect_ratio_policy {keep_aspect_ratio_policy!r}")
            for d in axes:
                scale_f[d] = s
                out[d] = int(s * x.shape[d] + 0.5)
    elif scales is not None:
        sc = np.asarray(scales).reshape(-1)
        if sc.size != len(axes):
            raise ValueError("Resize: scales must have one entry per resized axis")
        for i, d in enumerate(axes):
            scale_f[d] = float(sc[i])
            out[d] = int(sc[i] * np.float64(x.shape[d]))
    else:
        raise ValueError("Resize: one of scales or sizes is required")
    ct = compute_dtype(x.dtype) if x.dtype.kind == "f" else np.dtype(np.float64)
    result = x if kind == "nearest" else x.astype(ct, copy=False)
    for d in axes:
        axis_roi = roi_full[d] if roi_full is not None else None
        if (math.isclose(scale_f[d], 1.0) and out[d] == result.shape[d]
                and (axis_roi is None
                     or (math.isclose(axis_roi[0], 0.0) and math.isclose(axis_roi[1], 1.0)))):
            continue
        if scale_f[d] <= 0:
            raise ValueError("Resize: scales must be positive")
        result = resize_axis(result, d, scale_f[d], out[d], kind=kind, coord_mode=coord_mode, roi=axis_roi,
                             **kwargs)
    if result.dtype != x.dtype:
        if x.dtype.kind in "iu":
            info = np.iinfo(x.dtype)
            result = np.clip(np.rint(result), info.min, info.max)
        result = result.astype(x.dtype)
    return result
