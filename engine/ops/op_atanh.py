"""Atanh: Elementwise inverse hyperbolic tangent; |x| > 1 gives NaN, +-1 gives +-inf."""

import numpy as np

from engine.ops._elementwise import float_compute
from engine.ops.registry import register


@register("Atanh", since=9)
@float_compute
def atanh(x):
    return np.arctanh(x)
