"""Mish: elementwise x * tanh(softplus(x)), with a stable softplus."""

import numpy as np

from engine.ops._elementwise import float_compute
from engine.ops.registry import register


@register("Mish", since=18)
@float_compute
def mish(x):
    y = np.logaddexp(x.dtype.type(0), x)
    np.tanh(y, out=y)
    y *= x
    return y
