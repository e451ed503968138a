"""SplitToSequence: split a tensor along ``axis`` into a sequence (chunks of a scalar size, given sizes, or ones)."""

import numpy as np

from engine.ops.registry import register


@register("SplitToSequence", since=11)
def split_to_sequence(x: np.ndarray, split: np.ndarray | None = None, *, axis: int = 0, keepdims: int = 1) -> tuple:
    axis = axis % x.ndim
    length = x.shape[axis]
    if split is None:
        parts = np.split(x, length, axis=axis) if length else []
        if not keepdims:
            parts = [np.squeeze(p, axis=axis) for p in parts]
        return ([np.ascontiguousarray(p) for p in parts],)
    split = np.asarray(split)
    if split.ndim == 0:
        size = int(split)
        if size <= 0:
            raise ValueError(f"split size must be positive, got {size}")
        bounds = list(range(size, length, size))
    else:
        sizes = [int(s) for s in split]
        if sum(sizes) != length:
            raise ValueError(f"split sizes {sizes} do not add up to dimension {axis} of size {length}")
        bounds = list(np.cumsum(sizes)[:-1])
    return ([np.ascontiguousarray(p) for p in np.split(x, bounds, axis=axis)],)
