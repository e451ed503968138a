"""Helpers shared by the tensor shape, indexing and creation operators (family C)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

# ONNX TensorProto.DataType codes -> numpy dtypes (only the types numpy represents natively).
ONNX_TO_NUMPY: dict[int, np.dtype] = {
    1: np.dtype(np.float32),
    2: np.dtype(np.uint8),
    3: np.dtype(np.int8),
    4: np.dtype(np.uint16),
    5: np.dtype(np.int16),
    6: np.dtype(np.int32),
    7: np.dtype(np.int64),
    8: np.dtype(object),  # string
    9: np.dtype(np.bool_),
    10: np.dtype(np.float16),
    11: np.dtype(np.float64),
    12: np.dtype(np.uint32),
    13: np.dtype(np.uint64),
    14: np.dtype(np.complex64),
    15: np.dtype(np.complex128),
}


def numpy_dtype(code: int) -> np.dtype:
    """The numpy dtype of an ONNX element-type code; ValueError for types numpy cannot hold."""
    try:
        return ONNX_TO_NUMPY[int(code)]
    except KeyError:
        raise ValueError(f"unsupported ONNX element type {code}") from None


def normalize_axis(axis: int, rank: int) -> int:
    """Map a possibly negative axis into ``[0, rank)``; ValueError when out of range."""
    axis = int(axis)
    if not -rank <= axis < rank:
        raise ValueError(f"axis {axis} is out of range for rank {rank}")
    return axis + rank if axis < 0 else axis


def normalize_axes(axes: Iterable[int], rank: int) -> list[int]:
    """Normalize every axis of ``axes`` against ``rank`` and reject duplicates."""
    result = [normalize_axis(a, rank) for a in axes]
    if len(set(result)) != len(result):
        raise ValueError(f"repeated axes {list(axes)}")
    return result


def int_list(values: np.ndarray | Iterable[int] | None) -> list[int]:
    """A 1-D integer tensor (or list) as Python ints (no int64 overflow in later arithmetic)."""
    if values is None:
        return []
    return [int(v) for v in np.asarray(values).reshape(-1)]


def scalar(value: np.ndarray) -> int | float | bool:
    """The single element of a scalar or one-element tensor as a Python number."""
    arr = np.asarray(value)
    if arr.size != 1:
        raise ValueError(f"expected a single value, got shape {arr.shape}")
    return arr.reshape(-1)[0].item()


def int64(values) -> np.ndarray:
    """An int64 ndarray (0-d for scalars), as ONNX shape-like outputs require."""
    return np.asarray(values, dtype=np.int64)


def wrap_indices(indices: np.ndarray, dim: int) -> np.ndarray:
    """Map negative indices (``-dim <= i < 0``) to ``i + dim``; IndexError when any is out of range."""
    idx = np.asarray(indices)
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < -dim or hi >= dim:
            raise IndexError(f"index out of range [{-dim}, {dim - 1}]: min {lo}, max {hi}")
        if lo < 0:
            idx = np.where(idx < 0, idx + dim, idx)
    return idx.astype(np.intp, copy=False)


_OPEN_END = (2**31 - 1, 2**63 - 1)  # INT32_MAX / INT64_MAX as an end mean "no end", as onnxruntime reads them


def slice_bounds(start: int, end: int, step: int, dim: int) -> slice:
    """The Python slice for ONNX Slice's ``start/end/step`` on an axis of size ``dim`` (ONNX clamping).

    Like onnxruntime, an end of INT32_MAX or INT64_MAX means "through the last element in the direction of
    ``step``", so with a negative step it runs to index 0 (the spec alone would clamp it to ``dim - 1``).
    """
    if step == 0:
        raise ValueError("Slice step cannot be 0")
    if start < 0:
        start += dim
    open_end = end in _OPEN_END
    if end < 0:
        end += dim
    if step > 0:
        start = min(max(start, 0), dim)
        end = min(max(end, 0), dim)
        return slice(start, end, step)
    start = min(max(start, 0), dim - 1)
    end = -1 if open_end else min(max(end, -1), dim - 1)
    return slice(start, end if end >= 0 else None, step)


_REDUCERS = {"add": np.add, "mul": np.multiply, "max": np.maximum, "min": np.minimum}


def scatter_into(out: np.ndarray, key: tuple, updates: np.ndarray, reduction: str) -> np.ndarray:
    """Write ``updates`` into ``out[key]`` (in place), combining with ``reduction`` (none/add/mul/max/min).

    With a reduction, duplicate indices accumulate (``ufunc.at``); with none the last write wins.
    """
    if reduction == "none":
        out[key] = updates
    else:
        try:
            ufunc = _REDUCERS[reduction]
        except KeyError:
            raise ValueError(f"unknown reduction {reduction!r}") from None
        if out.dtype == np.bool_ and reduction in ("add", "mul"):
            ufunc = np.logical_or if reduction == "add" else np.logical_and
        ufunc.at(out, key, updates)
    return out
