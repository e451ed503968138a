"""Slice: per-axis ``starts/ends/steps`` (attributes before opset 10, inputs after), ONNX clamping rules.

Huge values (e.g. INT64_MAX / INT64_MIN) clamp to the axis bounds; negative steps walk backwards, with an end
clamped to -1 meaning "past the first element".
"""

from __future__ import annotations

import numpy as np

from engine.ops._tensor import int_list, normalize_axes, slice_bounds
from engine.ops.registry import register


def _slice(data, starts, ends, axes, steps):
    if len(starts) != len(ends):
        raise ValueError("Slice: starts and ends differ in length")
    axes = normalize_axes(axes, data.ndim) if axes else list(range(len(starts)))
    steps = steps or [1] * len(starts)
    if not len(axes) == len(steps) == len(starts):
        raise ValueError("Slice: starts, ends, axes and steps differ in length")
    index = [slice(None)] * data.ndim
    for start, end, axis, step in zip(starts, ends, axes, steps, strict=True):
        index[axis] = slice_bounds(start, end, step, data.shape[axis])
    return (data[tuple(index)],)


@register("Slice", since=1)
def slice_1(data: np.ndarray, *, starts: list[int], ends: list[int],
            axes: list[int] | None = None) -> tuple[np.ndarray]:
    return _slice(data, list(starts), list(ends), list(axes) if axes else None, None)


@register("Slice", since=10)
def slice_10(data: np.ndarray, starts: np.ndarray, ends: np.ndarray, axes: np.ndarray | None = None,
             steps: np.ndarray | None = None) -> tuple[np.ndarray]:
    return _slice(data, int_list(starts), int_list(ends),
                  int_list(axes) if axes is not None else None,
                  int_list(steps) if steps is not None else None)
