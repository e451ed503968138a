"""HammingWindow: the Hamming window (alpha = 25/46) of length ``size``, periodic by default."""

from __future__ import annotations

import numpy as np

from engine.ops._reduce import window
from engine.ops.registry import register


@register("HammingWindow", since=17)
def hamming_window(size: np.ndarray, *, output_datatype: int = 1, periodic: int = 1) -> tuple[np.ndarray]:
    return (window(size, output_datatype, periodic, (25.0 / 46.0, 21.0 / 46.0)),)
