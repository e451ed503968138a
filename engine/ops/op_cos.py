"""Cos: Elementwise cosine."""

import numpy as np

from engine.ops._elementwise import float_compute
from engine.ops.registry import register


@register("Cos", since=7)
@float_compute
def cos(x):
    return np.cos(x)
