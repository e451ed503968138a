"""Tan: Elementwise tangent."""

import numpy as np

from engine.ops._elementwise import float_compute
from engine.ops.registry import register


@register("Tan", since=7)
@float_compute
def tan(x):
    return np.tan(x)
