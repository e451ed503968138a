"""ConvTranspose: grouped N-d transposed convolution (matmul + col2im scatter-add per kernel offset) with
strides, dilations, pads/auto_pad, output_padding and output_shape (which, as in the ONNX reference, fixes the
output extent; SAME_* auto_pad derives the pads from it)."""

from __future__ import annotations

import math

import numpy as np

from engine.ops._nn import compute_dtype
from engine.ops.registry import register


@register("ConvTranspose", since=1)
def conv_transpose(x, w, b=None, *, auto_pad: str = "NOTSET", dilations: list[int] | None = None,
                   group: int = 1, kernel_shape: list[int] | None = None,
                   output_padding: list[int] | None = None, output_shape: list[int] | None = None,
                   pads: list[int] | None = None, strides: list[int] | None = None) -> tuple[np.ndarray]:
    n, c = x.shape[:2]
    spatial = list(x.shape[2:])
    nd = len(spatial)
    ks = [int(k) for k in (kernel_shape or w.shape[2:])]
    if ks != list(w.shape[2:]):
        raise ValueError(f"kernel_shape {ks} does not match W {tuple(w.shape)}")
    if c != w.shape[0] or c % group:
        raise ValueError(f"ConvTranspose channel mismatch: X {tuple(x.shape)}, W {tuple(w.shape)}")
    strides = [int(s) for s in strides] if strides else [1] * nd
    dilations = [int(d) for d in dilations] if dilations else [1] * nd
    output_padding = [int(p) for p in output_padding] if output_padding else [0] * nd
    eff = [(k - 1) * d + 1 for k, d in zip(ks, dilations, strict=False)]
    natural = [
        s * (i - 1) + op + e for s, i, op, e in zip(strides, spatial, output_padding, eff, strict=True)
    ]
    if pads is None and auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        if output_shape:
            target = [int(o) for o in output_shape[-nd:]]
        else:
            target = [i * s for i, s in zip(spatial, strides, strict=True)]
        total = [nat - t for nat, t in zip(natural, target, strict=False)]
        small = [t // 2 for t in total]
        large = [t - t // 2 for t in total]
        begin, end = (small, large) if auto_pad == "SAME_UPPER" else (large, small)
        out_shape = target
    else:
        pads = [int(p) for p in pads] if pads else [0] * (2 * nd)
        begin, end = pads[:nd], pads[nd:]
        if output_shape:
            out_shape = [int(o) for o in output_shape[-nd:]]
        else:
            out_shape = [nat - bg - en for nat, bg, en in zip(natural, begin, end, strict=False)]
    ct = compute_dtype(x.dtype)
    m = w.shape[1] * group
    cg, mg = c // group, w.shape[1]
    ksize = math.prod(ks)
    isize = math.prod(spatial)
    # cols[n, g, mg, k, i] = sum_c W[g, c, mg, k] * X[n, g, c, i]
    xg = x.astype(ct, copy=False).reshape(n, group, cg, isize)
    wg = w.astype(ct, copy=False).reshape(group, cg, mg * ksize)
    cols = np.matmul(wg.transpose(0, 2, 1), xg)  # (N, G, Mg*K, I)
    cols = cols.reshape(n, m, ksize, *spatial)
    # scatter-add every kernel offset into a buffer large enough for both the natural and requested extents
    full = [max(nat, bg + o) for nat, bg, o in zip(natural, begin, out_shape, strict=False)]
    lead = [max(0, -bg) for bg in begin]
    buf = np.zeros((n, m, *[f + ld for f, ld in zip(full, lead, strict=False)]), dtype=ct)
    for kidx, koff in enumerate(np.ndindex(*ks)):
        sl = tuple(
            slice(ld + k * d, ld + k * d + (i - 1) * s + 1, s)
            for ld, k, d, i, s in zip(lead, koff, dilations, spatial, strides, strict=False)
        )
        buf[(slice(None), slice(None), *sl)] += cols[:, :, kidx]
    crop = tuple(slice(ld + bg, ld + bg + o) for ld, bg, o in zip(lead, begin, out_shape, strict=False))
    y = buf[(slice(None), slice(None), *crop)]
    if b is not None:
        y = y + b.astype(ct, copy=False).reshape((1, m) + (1,) * nd)
    return (np.ascontiguousarray(y).astype(x.dtype, copy=False),)
