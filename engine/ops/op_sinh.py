"""Sinh: Elementwise hyperbolic sine."""

import numpy as np

from engine.ops._elementwise import float_compute
from engine.ops.registry import register


@register("Sinh", since=9)
@float_compute
def sinh(x):
    return np.sinh(x)
