"""Size: the number of elements of the input, as an int64 scalar."""

from __future__ import annotations

import numpy as np

from engine.ops.registry import register


@register("Size", since=1)
def size(data: np.ndarray) -> tuple[np.ndarray]:
    return (np.asarray(data.size, dtype=np.int64),)
