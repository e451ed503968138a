"""Tile: repeat ``input`` ``repeats[i]`` times along each axis."""

from __future__ import annotations

import numpy as np

from engine.ops._tensor import int_list
from engine.ops.registry import register


@register("Tile", since=6)
def tile(data: np.ndarray, repeats: np.ndarray) -> tuple[np.ndarray]:
    reps = int_list(repeats)
    if len(reps) != data.ndim or any(r < 0 for r in reps):
        raise ValueError(f"Tile: repeats {reps} must be {data.ndim} non-negative values")
    return (np.tile(data, reps),)
