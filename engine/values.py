"""A graph's boundary as users see it: onnxruntime's NodeArg and type strings, model metadata, and the checks
that turn a user's feed into a value the plan can run (or an InvalidInputError that says what to fix)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import helper

from engine import ir
from engine.errors import InvalidInputError


def type_string(dtype: np.dtype | None) -> str:
    """onnxruntime's type name for a numpy dtype, e.g. ``tensor(float)``."""
    if dtype is None:
        return "unknown"
    try:
        elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    except (KeyError, TypeError, ValueError):
        return f"tensor({np.dtype(dtype).name})"
    return f"tensor({onnx.TensorProto.DataType.Name(elem).lower()})"


@dataclass(frozen=True)
class NodeArg:
    """A graph input or output as onnxruntime describes it: name, shape (ints, names or None), type string."""

    name: str
    shape: list[int | str | None] | None
    type: str

    @classmethod
    def from_value(cls, value: ir.Value) -> NodeArg:
        shape = None if value.shape is None else list(value.shape)
        return cls(value.name, shape, type_string(value.dtype))


@dataclass(frozen=True)
class ModelMetadata:
    producer_name: str
    graph_name: str
    domain: str
    description: str
    version: int
    custom_metadata_map: dict[str, str]


def shape_text(shape: Sequence[Any] | None) -> str:
    """A shape for messages: ``[batch, 64]``, ``?`` for unknown dimensions."""
    if shape is None:
        return "unknown"
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def check_feed(value: ir.Value, data: Any) -> Any:
    """``data`` as a feed for ``value``: converted from Python scalars/lists, checked for dtype, rank and static
    dimensions. Raises InvalidInputError naming the input, what was expected and what was received."""
    if value.dtype is None:
        return data  # sequences/optionals: passed through unchecked
    if not isinstance(data, np.ndarray):
        if isinstance(data, list | tuple | int | float | bool | np.generic):
            try:
                data = np.asarray(data, dtype=value.dtype)
            except (TypeError, ValueError) as exc:
                raise InvalidInputError(
                    f"input {value.name!r}: cannot convert {type(data).__name__} to {value.dtype}: {exc}"
                ) from exc
        else:
            raise InvalidInputError(
                f"input {value.name!r} must be a numpy array, got {type(data).__name__}"
            )
    if data.dtype != value.dtype:
        raise InvalidInputError(
            f"input {value.name!r} has dtype {data.dtype} ({type_string(data.dtype)}); the model expects "
            f"{value.dtype} ({type_string(value.dtype)}): convert it with .astype(np.{value.dtype.name})"
        )
    if value.shape is not None:
        if data.ndim != len(value.shape):
            raise InvalidInputError(
                f"input {value.name!r} has rank {data.ndim} (shape {list(data.shape)}); the model expects rank "
                f"{len(value.shape)} (shape {shape_text(value.shape)})"
            )
        for axis, (want, got) in enumerate(zip(value.shape, data.shape, strict=True)):
            if isinstance(want, int) and want != got:
                raise InvalidInputError(
                    f"input {value.name!r}: dimension {axis} must be {want}, got {got} "
                    f"(expected shape {shape_text(value.shape)}, received {list(data.shape)})"
                )
    return data
