"""ReduceMax: the maximum over ``axes`` (an input from opset 18), input dtype kept;
empty reduction: -inf (integer minimum)."""

from __future__ import annotations

import numpy as np

from engine.ops._reduce import reduce
from engine.ops.registry import register


@register("ReduceMax", since=1)
def reduce_max_attr(
    data: np.ndarray, *, axes: list[int] | None = None, keepdims: int = 1
) -> tuple[np.ndarray]:
    return reduce("max", data, axes, keepdims)


@register("ReduceMax", since=18)
def reduce_max(
    data: np.ndarray, axes: np.ndarray | None = None, *, keepdims: int = 1, noop_with_empty_axes: int = 0
) -> tuple[np.ndarray]:
    return reduce("max", data, axes, keepdims, noop_with_empty_axes)
