"""ReduceL1: the sum of absolute values over ``axes`` (an input from opset 18), input dtype kept."""

from __future__ import annotations

import numpy as np

from engine.ops._reduce import reduce
from engine.ops.registry import register


@register("ReduceL1", since=1)
def reduce_l1_attr(
    data: np.ndarray, *, axes: list[int] | None = None, keepdims: int = 1
) -> tuple[np.ndarray]:
    return reduce("l1", data, axes, keepdims)


@register("ReduceL1", since=18)
def reduce_l1(
    data: np.ndarray, axes: np.ndarray | None = None, *, keepdims: int = 1, noop_with_empty_axes: int = 0
) -> tuple[np.ndarray]:
    return reduce("l1", data, axes, keepdims, noop_with_empty_axes)
