"""Upsample (deprecated): nearest (floor) or linear resampling by scales with asymmetric coordinates; scales
is an attribute before opset 9 and an input from opset 9."""

from __future__ import annotations

import numpy as np

from engine.ops._nn_resize import resize_nd
from engine.ops.registry import register


def _upsample(x, scales, mode):
    kind = "linear" if mode in ("linear", "bilinear") else mode
    return (resize_nd(x, kind=kind, coord_mode="asymmetric", scales=np.asarray(scales, dtype=np.float32),
                      nearest_mode="floor"),)


@register("Upsample", since=7)
def upsample_v7(x, *, mode: str = "nearest", scales: list[float]) -> tuple[np.ndarray]:
    return _upsample(x, scales, mode)


@register("Upsample", since=9)
def upsample_v9(x, scales, *, mode: str = "nearest") -> tuple[np.ndarray]:
    return _upsample(x, scales, mode)
