"""Cosh: Elementwise hyperbolic cosine."""

import numpy as np

from engine.ops._elementwise import float_compute
from engine.ops.registry import register


@register("Cosh", since=9)
@float_compute
def cosh(x):
    return np.cosh(x)
