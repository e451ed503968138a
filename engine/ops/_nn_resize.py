"""Shared Resize helpers of the neural-network operator family (Resize, Upsample)."""

from __future__ import annotations

import math

import numpy as np

from engine.ops._nn import compute_dtype


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
