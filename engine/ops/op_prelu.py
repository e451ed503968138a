"""PRelu: elementwise x for x >= 0, slope * x otherwise; slope broadcasts unidirectionally to X's shape."""

import numpy as np

from engine.ops._elementwise import out
from engine.ops.registry import register


@register("PRelu", since=6)
def p_relu(x, slope):
    if np.broadcast_shapes(x.shape, slope.shape) != x.shape:
        raise ValueError(f"PRelu slope of shape {slope.shape} does not broadcast to X's shape {x.shape}")
    with np.errstate(all="ignore"):
        return out(np.where(x < 0, x * slope, x), x.dtype)
