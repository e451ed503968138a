"""Transpose: permute axes by ``perm`` (default: reverse all axes)."""

from __future__ import annotations

import numpy as np

from engine.ops.registry import register


@register("Transpose", since=1)
def transpose(data: np.ndarray, *, perm: list[int] | None = None) -> tuple[np.ndarray]:
    return (np.transpose(data, perm),)
