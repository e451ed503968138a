"""SpaceToDepth: move (blocksize x blocksize) spatial blocks into channels; opset 28 adds ``mode`` (DCR puts
the block offset outermost, CRD innermost in the channel index)."""

from __future__ import annotations

import numpy as np

from engine.ops.registry import register


def _space_to_depth(x, b, mode):
    n, c, h, w = x.shape
    if h % b or w % b:
        raise ValueError("SpaceToDepth: spatial dims must be divisible by blocksize")
    t = x.reshape(n, c, h // b, b, w // b, b)
    if mode == "DCR":
        t = t.transpose(0, 3, 5, 1, 2, 4)
    elif mode == "CRD":
        t = t.transpose(0, 1, 3, 5, 2, 4)
    else:
        raise ValueError(f"SpaceToDepth: unknown mode {mode!r}")
    return (t.reshape(n, c * b * b, h // b, w // b),)


@register("SpaceToDepth", since=1)
def space_to_depth(x, *, blocksize: int) -> tuple[np.ndarray]:
    return _space_to_depth(x, blocksize, "DCR")


@register("SpaceToDepth", since=28)
def space_to_depth_v28(x, *, blocksize: int, mode: str = "DCR") -> tuple[np.ndarray]:
    return _space_to_depth(x, blocksize, mode)
