"""ReduceSum: the sum over ``axes`` (an input from opset 13), input dtype kept;
empty reduction: 0."""

from __future__ import annotations

import numpy as np

from engine.ops._reduce import reduce
from engine.ops.registry import register


@register("ReduceSum", since=1)
def reduce_sum_attr(
    data: np.ndarray, *, axes: list[int] | None = None, keepdims: int = 1
) -> tuple[np.ndarray]:
    return reduce("sum", data, axes, keepdims)


@register("ReduceSum", since=13)
def reduce_sum(
    data: np.ndarray, axes: np.ndarray | None = None, *, keepdims: int = 1, noop_with_empty_axes: int = 0
) -> tuple[np.ndarray]:
    return reduce("sum", data, axes, keepdims, noop_with_empty_axes)
