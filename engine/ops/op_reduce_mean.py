"""ReduceMean: the mean over ``axes`` (an input from opset 18), input dtype kept."""

from __future__ import annotations

import numpy as np

from engine.ops._reduce import reduce
from engine.ops.registry import register


@register("ReduceMean", since=1)
def reduce_mean_attr(
    data: np.ndarray, *, axes: list[int] | None = None, keepdims: int = 1
) -> tuple[np.ndarray]:
    return reduce("mean", data, axes, keepdims)


@register("ReduceMean", since=18)
def reduce_mean(
    data: np.ndarray, axes: np.ndarray | None = None, *, keepdims: int = 1, noop_with_empty_axes: int = 0
) -> tuple[np.ndarray]:
    return reduce("mean", data, axes, keepdims, noop_with_empty_axes)
