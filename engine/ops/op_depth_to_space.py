"""DepthToSpace: move (blocksize x blocksize) blocks of channels into spatial positions; DCR (default) or
CRD channel ordering."""

from __future__ import annotations

import numpy as np

from engine.ops.registry import register


@register("DepthToSpace", since=1)
def depth_to_space(x, *, blocksize: int, mode: str = "DCR") -> tuple[np.ndarray]:
    n, c, h, w = x.shape
    b = blocksize
    if c % (b * b):
        raise ValueError("DepthToSpace: channels must be divisible by blocksize^2")
    if mode == "DCR":
        t = x.reshape(n, b, b, c // (b * b), h, w).transpose(0, 3, 4, 1, 5, 2)
    elif mode == "CRD":
        t = x.reshape(n, c // (b * b), b, b, h, w).transpose(0, 1, 4, 2, 5, 3)
    else:
        raise ValueError(f"DepthToSpace: unknown mode {mode!r}")
    return (t.reshape(n, c // (b * b), h * b, w * b),)
