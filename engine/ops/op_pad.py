"""Pad: pad (or, with negative pads, crop) each axis; modes constant/reflect/edge/wrap.

``pads`` is ``[b_1..b_n, e_1..e_n]`` over ``axes`` (all axes by default; optional input since opset 18).
Negative pads crop first, then the positive pads are applied to the cropped tensor.
"""

from __future__ import annotations

import numpy as np

from engine.ops._tensor import int_list, normalize_axes, scalar
from engine.ops.registry import register

_MODES = {"constant", "reflect", "edge", "wrap"}


def _pad(data, pads, mode, value, axes):
    if mode not in _MODES:
        raise ValueError(f"Pad: unknown mode {mode!r}")
    rank = data.ndim
    axes = normalize_axes(axes, rank) if axes is not None else list(range(rank))
    n = len(axes)
    if len(pads) != 2 * n:
        raise ValueError(f"Pad: expected {2 * n} pads, got {len(pads)}")
    width = [(0, 0)] * rank
    crop = [slice(None)] * rank
    cropping = False
    for i, axis in enumerate(axes):
        begin, end = pads[i], pads[n + i]
        if begin < 0 or end < 0:
            cropping = True
            dim = data.shape[axis]
            crop[axis] = slice(max(-begin, 0), max(dim - max(-end, 0), max(-begin, 0)))
        width[axis] = (max(begin, 0), max(end, 0))
    if cropping:
        data = data[tuple(crop)]
    if not any(b or e for b, e in width):
        return (data,)
    if mode == "constant":
        out = np.pad(data, width, mode="constant", constant_values=value)
    else:
        for axis, (b, e) in enumerate(width):
            if (b or e) and data.shape[axis] == 0:
                raise ValueError(f"Pad: mode {mode!r} cannot pad an empty axis")
        out = np.pad(data, width, mode=mode)
    return (out.astype(data.dtype, copy=False),)


@register("Pad", since=2)
def pad_2(data: np.ndarray, *, pads: list[int], mode: str = "constant",
          value: float = 0.0) -> tuple[np.ndarray]:
    return _pad(data, list(pads), mode, value, None)


@register("Pad", since=11)
def pad_11(data: np.ndarray, pads: np.ndarray, constant_value: np.ndarray | None = None,
           axes: np.ndarray | None = None, *, mode: str = "constant") -> tuple[np.ndarray]:
    value = scalar(constant_value) if constant_value is not None and constant_value.size else 0
    return _pad(data, int_list(pads), mode, value, int_list(axes) if axes is not None else None)
