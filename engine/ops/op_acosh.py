"""Acosh: Elementwise inverse hyperbolic cosine; inputs below 1 give NaN."""

import numpy as np

from engine.ops._elementwise import float_compute
from engine.ops.registry import register


@register("Acosh", since=9)
@float_compute
def acosh(x):
    return np.arccosh(x)
