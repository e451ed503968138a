"""Tanh: Elementwise hyperbolic tangent."""

import numpy as np

from engine.ops._elementwise import float_compute
from engine.ops.registry import register


@register("Tanh", since=6)
@float_compute
def tanh(x):
    return np.tanh(x)
