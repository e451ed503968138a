"""Softplus: elementwise log(1 + exp(x)), computed stably as logaddexp(0, x)."""

import numpy as np

from engine.ops._elementwise import float_compute
from engine.ops.registry import register


@register("Softplus", since=1)
@float_compute
def softplus(x):
    return np.logaddexp(x.dtype.type(0), x)
