"""HannWindow: the Hann window of length ``size`` (periodic by default), in ``output_datatype``."""

from __future__ import annotations

import numpy as np

from engine.ops._reduce import window
from engine.ops.registry import register


@register("HannWindow", since=17)
def hann_window(size: np.ndarray, *, output_datatype: int = 1, periodic: int = 1) -> tuple[np.ndarray]:
    return (window(size, output_datatype, periodic, (0.5, 0.5)),)
