"""Atan: Elementwise arctangent."""

import numpy as np

from engine.ops._elementwise import float_compute
from engine.ops.registry import register


@register("Atan", since=7)
@float_compute
def atan(x):
    return np.arctan(x)
