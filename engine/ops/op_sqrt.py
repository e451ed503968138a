"""Sqrt: Elementwise square root; negative inputs give NaN."""

import numpy as np

from engine.ops._elementwise import float_compute
from engine.ops.registry import register


@register("Sqrt", since=6)
@float_compute
def sqrt(x):
    return np.sqrt(x)
