"""ReduceLogSum: the log of the sum over ``axes`` (an input from opset 18), input dtype kept;
empty reduction: -inf."""

from __future__ import annotations

import numpy as np

from engine.ops._reduce import reduce
from engine.ops.registry import register


@register("ReduceLogSum", since=1)
def reduce_log_sum_attr(
    data: np.ndarray, *, axes: list[int] | None = None, keepdims: int = 1
) -> tuple[np.ndarray]:
    return reduce("log_sum", data, axes, keepdims)


@register("ReduceLogSum", since=18)
def reduce_log_sum(
    data: np.ndarray, axes: np.ndarray | None = None, *, keepdims: int = 1, noop_with_empty_axes: int = 0
) -> tuple[np.ndarray]:
    return reduce("log_sum", data, axes, keepdims, noop_with_empty_axes)
