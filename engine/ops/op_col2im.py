"""Col2Im: rearrange (N, C*prod(block), L) column blocks back into an (N, C, *image_shape) image, summing
overlaps, with strides, dilations and pads (cropped off the result)."""

from __future__ import annotations

import math

import numpy as np

from engine.ops.registry import register


@register("Col2Im", since=18)
def col2im(x, image_shape, block_shape, *, dilations: list[int] | None = None, pads: list[int] | None = None,
           strides: list[int] | None = None) -> tuple[np.ndarray]:
    image = [int(v) for v in np.asarray(image_shape).reshape(-1)]
    block = [int(v) for v in np.asarray(block_shape).reshape(-1)]
    nd = len(image)
    dilations = list(dilations) if dilations else [1] * nd
    strides = list(strides) if strides else [1] * nd
    pads = list(pads) if pads else [0] * (2 * nd)
    n, ck, length = x.shape
    ksize = math.prod(block)
    if ck % ksize:
        raise ValueError("Col2Im: input dim 1 must be divisible by prod(block_shape)")
    c = ck // ksize
    padded = [i + pads[d] + pads[nd + d] for d, i in enumerate(image)]
    nblocks = [
        (p - ((k - 1) * dl + 1)) // s + 1
        for p, k, dl, s in zip(padded, block, dilations, strides, strict=True)
    ]
    if math.prod(nblocks) != length or min(nblocks) < 1:
        raise ValueError(f"Col2Im: input has {length} blocks, the geometry gives {nblocks}")
    cols = x.reshape(n, c, ksize, *nblocks)
    buf = np.zeros((n, c, *padded), dtype=x.dtype)
    for kidx, koff in enumerate(np.ndindex(*block)):
        sl = tuple(slice(k * dl, k * dl + (nb - 1) * s + 1, s)
                   for k, dl, nb, s in zip(koff, dilations, nblocks, strides, strict=False))
        buf[(slice(None), slice(None), *sl)] += cols[:, :, kidx]
    crop = tuple(slice(pads[d], pads[d] + image[d]) for d in range(nd))
    return (np.ascontiguousarray(buf[(slice(None), slice(None), *crop)]),)
