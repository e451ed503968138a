"""Ceil: Elementwise ceiling of a float tensor."""

import numpy as np

from engine.ops._elementwise import float_compute
from engine.ops.registry import register


@register("Ceil", since=6)
@float_compute
def ceil(x):
    return np.ceil(x)
