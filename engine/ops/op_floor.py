"""Floor: Elementwise floor of a float tensor."""

import numpy as np

from engine.ops._elementwise import float_compute
from engine.ops.registry import register


@register("Floor", since=6)
@float_compute
def floor(x):
    return np.floor(x)
