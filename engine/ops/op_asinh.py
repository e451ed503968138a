"""Asinh: Elementwise inverse hyperbolic sine."""

import numpy as np

from engine.ops._elementwise import float_compute
from engine.ops.registry import register


@register("Asinh", since=9)
@float_compute
def asinh(x):
    return np.arcsinh(x)
