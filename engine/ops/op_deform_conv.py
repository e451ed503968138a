"""DeformConv (2-D): convolution whose kernel taps sample the input bilinearly at learned per-position offsets
(zero outside the image), optionally scaled by a modulation mask; grouped weights and offset groups."""

from __future__ import annotations

import numpy as np

from engine.ops.registry import register


def _bilinear(img: np.ndarray, py: np.ndarray, px: np.ndarray) -> np.ndarray:
    """Sample img [C, H, W] at float positions py/px (any equal shape) -> [C, *shape], zeros outside."""
    _, h, w = img.shape
    y0 = np.floor(py).astype(np.int64)
    x0 = np.floor(px).astype(np.int64)
    ly, lx = py - y0, px - x0
    out: np.ndarray | int = 0
    for dy, wy in ((0, 1 - ly), (1, ly)):
        for dx, wx in ((0, 1 - lx), (1, lx)):
            yy, xx = y0 + dy, x0 + dx
            inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
            vals = img[:, np.clip(yy, 0, h - 1), np.clip(xx, 0, w - 1)]
            out = out + vals * (wy * wx * inside).astype(img.dtype)
    assert isinstance(out, np.ndarray)  # the loop above runs four times
    return out


@register("DeformConv", since=19)
def deform_conv(
    x: np.ndarray,
    w: np.ndarray,
    offset: np.ndarray,
    b: np.ndarray | None = None,
    mask: np.ndarray | None = None,
    *,
    dilations: list[int] | None = None,
    group: int = 1,
    kernel_shape: list[int] | None = None,
    offset_group: int = 1,
    pads: list[int] | None = None,
    strides: list[int] | None = None,
) -> tuple[np.ndarray]:
    if x.ndim != 4:
        raise ValueError("DeformConv: only 2-D inputs (N, C, H, W) are supported")
    n, c, _, _ = x.shape
    oc = w.shape[0]
    kh, kw = kernel_shape or w.shape[2:]
    dh, dw = dilations or (1, 1)
    sh, sw = strides or (1, 1)
    pad_top, pad_left = (pads or (0, 0, 0, 0))[:2]
    oh, ow = offset.shape[2:]
    if c % offset_group or c % group or oc % group:
        raise ValueError("DeformConv: channels must be divisible by group and offset_group")
    ct = np.float32 if x.dtype == np.float16 else x.dtype
    off = offset.astype(ct, copy=False).reshape(n, offset_group, kh, kw, 2, oh, ow)
    msk = (None if mask is None
           else mask.astype(ct, copy=False).reshape(n, offset_group, kh, kw, oh, ow))
    # undeformed tap positions [kh, kw, oh, ow]
    base_y = (np.arange(kh) * dh)[:, None, None, None] + (np.arange(oh) * sh - pad_top)[None, None, :, None]
    base_x = (np.arange(kw) * dw)[None, :, None, None] + (np.arange(ow) * sw - pad_left)[None, None, None, :]
    cg = c // offset_group
    wg = w.astype(ct, copy=False).reshape(group, oc // group, -1)
    cpg = c // group
    y = np.empty((n, oc, oh * ow), dtype=ct)
    xs = x.astype(ct, copy=False)
    for i in range(n):
        cols = np.empty((c, kh, kw, oh, ow), dtype=ct)
        for g in range(offset_group):
            py = base_y + off[i, g, :, :, 0]
            px = base_x + off[i, g, :, :, 1]
            sampled = _bilinear(xs[i, g * cg:(g + 1) * cg], py, px)
            if msk is not None:
                sampled = sampled * msk[i, g]
            cols[g * cg:(g + 1) * cg] = sampled
        grouped = cols.reshape(group, cpg * kh * kw, oh * ow)
        y[i] = np.matmul(wg, grouped).reshape(oc, oh * ow)
    if b is not None:
        y += b.astype(ct, copy=False)[None, :, None]
    return (y.reshape(n, oc, oh, ow).astype(x.dtype, copy=False),)
