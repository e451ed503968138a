"""Neg: elementwise negation (signed integers wrap like C on their minimum value)."""

import numpy as np

from engine.ops._elementwise import out
from engine.ops.registry import register


@register("Neg", since=6)
def neg(x):
    return out(np.negative(x), x.dtype)
