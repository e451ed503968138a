"""Split: cut along ``axis`` by explicit sizes (attribute < 13, input >= 13) or into equal chunks.

Equal chunks use ``num_outputs`` (opset 18) or the node's output count; when the axis does not divide
evenly the last chunk is smaller (chunk size = ceil(dim / n)), as opset 18 specifies.
"""

from __future__ import annotations

import itertools

import numpy as np

from engine.ops._tensor import int_list, normalize_axis
from engine.ops.registry import register


def _split(data: np.ndarray, axis: int, sizes: list[int] | None, count: int) -> tuple[np.ndarray, ...]:
    axis = normalize_axis(axis, data.ndim)
    dim = data.shape[axis]
    if sizes is None:
        if count < 1:
            raise ValueError("Split needs at least one output")
        chunk = -(-dim // count)
        if dim and (count - 1) * chunk >= dim:
            raise ValueError(f"Split: {count} outputs of size {chunk} leave the last one empty (dim {dim})")
        sizes = [min(chunk, max(dim - i * chunk, 0)) for i in range(count)]
    if sum(sizes) != dim or any(s < 0 for s in sizes):
        raise ValueError(f"Split sizes {sizes} do not add up to dimension {dim}")
    bounds = list(itertools.accumulate(sizes))
    index = [slice(None)] * data.ndim
    parts = []
    start = 0
    for end in bounds:
        index[axis] = slice(start, end)
        parts.append(data[tuple(index)])
        start = end
    return tuple(parts)


@register("Split", since=2)
def split_2(data: np.ndarray, *, axis: int = 0, split: list[int] | None = None,
            _num_outputs: int = 1) -> tuple[np.ndarray, ...]:
    return _split(data, axis, list(split) if split else None, _num_outputs)


@register("Split", since=13)
def split_13(data: np.ndarray, split: np.ndarray | None = None, *, axis: int = 0,
             _num_outputs: int = 1) -> tuple[np.ndarray, ...]:
    sizes = int_list(split) if split is not None and split.size else None
    return _split(data, axis, sizes, _num_outputs)


@register("Split", since=18)
def split_18(data: np.ndarray, split: np.ndarray | None = None, *, axis: int = 0,
             num_outputs: int | None = None, _num_outputs: int = 1) -> tuple[np.ndarray, ...]:
    sizes = int_list(split) if split is not None and split.size else None
    if sizes is not None and num_outputs is not None:
        raise ValueError("Split: give either the 'split' input or the 'num_outputs' attribute, not both")
    return _split(data, axis, sizes, num_outputs if num_outputs is not None else _num_outputs)
