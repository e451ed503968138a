"""BlackmanWindow: the Blackman window of length ``size`` (periodic by default), in ``output_datatype``."""

from __future__ import annotations

import numpy as np

from engine.ops._reduce import window
from engine.ops.registry import register


@register("BlackmanWindow", since=17)
def blackman_window(size: np.ndarray, *, output_datatype: int = 1, periodic: int = 1) -> tuple[np.ndarray]:
    return (window(size, output_datatype, periodic, (0.42, 0.5, 0.08)),)
