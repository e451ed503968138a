"""Constant: the tensor given by one of ``value``, ``value_float(s)``, ``value_int(s)``, ``value_string(s)``.

Scalar forms give 0-d tensors, lists 1-D; floats are float32, ints int64. ``sparse_value`` is unsupported.
"""

from __future__ import annotations

import numpy as np

from engine.ops.registry import register


@register("Constant", since=1)
def constant(*, value: np.ndarray | None = None, value_float: float | None = None,
             value_floats: list[float] | None = None, value_int: int | None = None,
             value_ints: list[int] | None = None, value_string: str | None = None,
             value_strings: list[str] | None = None) -> tuple[np.ndarray]:
    given = [
        (value, None),
        (value_float, np.float32),
        (value_floats, np.float32),
        (value_int, np.int64),
        (value_ints, np.int64),
        (value_string, object),
        (value_strings, object),
    ]
    present = [(v, dt) for v, dt in given if v is not None]
    if len(present) != 1:
        raise ValueError(f"Constant needs exactly one value attribute, got {len(present)}")
    v, dt = present[0]
    if dt is None:
        return (np.asarray(v),)
    return (np.asarray(v, dtype=dt),)
