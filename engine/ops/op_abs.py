"""Abs: elementwise absolute value for every numeric type (unsigned values are unchanged)."""

import numpy as np

from engine.ops._elementwise import out
from engine.ops.registry import register


@register("Abs", since=6)
def abs_(x):
    return out(np.abs(x), x.dtype)
