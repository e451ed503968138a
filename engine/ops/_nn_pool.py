"""Shared pooling helpers of the neural-network operator family (MaxPool, AveragePool, LpPool and their
numba overrides)."""

from __future__ import annotations

import math

import numpy as np

from engine.ops._nn import auto_pads, compute_dtype, pad_spatial, spatial_attrs, windows


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
