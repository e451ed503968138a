"""Exp: Elementwise exponential; overflow gives inf."""

import numpy as np

from engine.ops._elementwise import float_compute
from engine.ops.registry import register


@register("Exp", since=6)
@float_compute
def exp(x):
    return np.exp(x)
