"""Concat: join tensors along ``axis`` (negative axis allowed)."""

from __future__ import annotations

import numpy as np

from engine.ops._tensor import normalize_axis
from engine.ops.registry import register


@register("Concat", since=4)
def concat(*inputs: np.ndarray, axis: int) -> tuple[np.ndarray]:
    if not inputs:
        raise ValueError("Concat needs at least one input")
    axis = normalize_axis(axis, inputs[0].ndim)
    if len(inputs) == 1:
        return (inputs[0],)
    return (np.concatenate(inputs, axis=axis),)
