"""ReduceProd: the product over ``axes`` (an input from opset 18), input dtype kept;
empty reduction: 1."""

from __future__ import annotations

import numpy as np

from engine.ops._reduce import reduce
from engine.ops.registry import register


@register("ReduceProd", since=1)
def reduce_prod_attr(
    data: np.ndarray, *, axes: list[int] | None = None, keepdims: int = 1
) -> tuple[np.ndarray]:
    return reduce("prod", data, axes, keepdims)


@register("ReduceProd", since=18)
def reduce_prod(
    data: np.ndarray, axes: np.ndarray | None = None, *, keepdims: int = 1, noop_with_empty_axes: int = 0
) -> tuple[np.ndarray]:
    return reduce("prod", data, axes, keepdims, noop_with_empty_axes)
