"""Squeeze: drop size-1 ``axes`` (attribute before opset 13, input after; all size-1 axes when none given)."""

from __future__ import annotations

import numpy as np

from engine.ops._tensor import int_list, normalize_axes
from engine.ops.registry import register


def _squeeze(data, axes):
    if axes is None:
        return (np.squeeze(data),)
    axes = normalize_axes(axes, data.ndim)
    for a in axes:
        if data.shape[a] != 1:
            raise ValueError(f"Squeeze: axis {a} has size {data.shape[a]}, not 1")
    return (np.squeeze(data, axis=tuple(axes)),)


@register("Squeeze", since=1)
def squeeze_1(data: np.ndarray, *, axes: list[int] | None = None) -> tuple[np.ndarray]:
    return _squeeze(data, list(axes) if axes else None)


@register("Squeeze", since=13)
def squeeze_13(data: np.ndarray, axes: np.ndarray | None = None) -> tuple[np.ndarray]:
    return _squeeze(data, int_list(axes) if axes is not None and axes.size else None)
