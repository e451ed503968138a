"""HardSwish: elementwise x * max(0, min(1, x / 6 + 0.5))."""

import numpy as np

from engine.ops._elementwise import float_compute
from engine.ops.registry import register


@register("HardSwish", since=14)
@float_compute
def hard_swish(x):
    y = x * (1.0 / 6.0)
    y += 0.5
    np.clip(y, 0, 1, out=y)
    y *= x
    return y
