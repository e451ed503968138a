"""Unsqueeze: insert size-1 ``axes`` (positions in the output; attribute before opset 13, input after)."""

from __future__ import annotations

import numpy as np

from engine.ops._tensor import int_list, normalize_axes
from engine.ops.registry import register


def _unsqueeze(data, axes):
    axes = normalize_axes(axes, data.ndim + len(axes))
    return (np.expand_dims(data, tuple(axes)),)


@register("Unsqueeze", since=1)
def unsqueeze_1(data: np.ndarray, *, axes: list[int]) -> tuple[np.ndarray]:
    return _unsqueeze(data, list(axes))


@register("Unsqueeze", since=13)
def unsqueeze_13(data: np.ndarray, axes: np.ndarray) -> tuple[np.ndarray]:
    return _unsqueeze(data, int_list(axes))
