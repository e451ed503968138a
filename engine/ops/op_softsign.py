"""Softsign: elementwise x / (1 + |x|)."""

import numpy as np

from engine.ops._elementwise import float_compute
from engine.ops.registry import register


@register("Softsign", since=1)
@float_compute
def softsign(x):
    d = np.abs(x)
    d += 1
    return np.divide(x, d, out=d)
