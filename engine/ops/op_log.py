"""Log: Elementwise natural logarithm; log(0) = -inf, negative inputs give NaN."""

import numpy as np

from engine.ops._elementwise import float_compute
from engine.ops.registry import register


@register("Log", since=6)
@float_compute
def log(x):
    return np.log(x)
