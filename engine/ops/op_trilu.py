"""Trilu: keep the upper (``upper=1``) or lower triangle of the last two axes, shifted by the ``k`` input."""

from __future__ import annotations

import numpy as np

from engine.ops._tensor import scalar
from engine.ops.registry import register


@register("Trilu", since=14)
def trilu(data: np.ndarray, k: np.ndarray | None = None, *, upper: int = 1) -> tuple[np.ndarray]:
    if data.ndim < 2:
        raise ValueError("Trilu: input must have rank >= 2")
    offset = int(scalar(k)) if k is not None else 0
    return ((np.triu if upper else np.tril)(data, offset),)
