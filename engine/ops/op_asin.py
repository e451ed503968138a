"""Asin: Elementwise arcsine; inputs outside [-1, 1] give NaN."""

import numpy as np

from engine.ops._elementwise import float_compute
from engine.ops.registry import register


@register("Asin", since=7)
@float_compute
def asin(x):
    return np.arcsin(x)
