"""Celu: elementwise max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""

import numpy as np

from engine.ops._elementwise import float_compute
from engine.ops.registry import register


@register("Celu", since=12)
@float_compute
def celu(x, *, alpha=1.0):
    alpha = float(alpha)
    return np.where(x > 0, x, np.expm1(x / alpha) * alpha)
