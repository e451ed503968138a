"""Helpers for sequence values: an ONNX sequence is a Python list of numpy arrays, never mutated in place."""

from __future__ import annotations

import numpy as np


def position(seq: list, pos: np.ndarray | None, *, insert: bool = False) -> int:
    """A checked index into ``seq`` from an ONNX position tensor (negative counts from the end)."""
    n = len(seq)
    if pos is None:
        return n if insert else n - 1
    p = int(np.asarray(pos).reshape(-1)[0])
    limit = n if insert else n - 1
    if not -n <= p <= limit:
        raise IndexError(f"sequence position {p} is out of range for a sequence of length {n}")
    return p + n if p < 0 else p
