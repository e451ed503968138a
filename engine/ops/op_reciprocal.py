"""Reciprocal: Elementwise 1/x; 1/0 = inf."""

import numpy as np

from engine.ops._elementwise import float_compute
from engine.ops.registry import register


@register("Reciprocal", since=6)
@float_compute
def reciprocal(x):
    return np.reciprocal(x)
