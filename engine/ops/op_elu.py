"""Elu: elementwise x for x > 0, alpha * (exp(x) - 1) otherwise (expm1 keeps small negatives accurate)."""

import numpy as np

from engine.ops._elementwise import float_compute
from engine.ops.registry import register


@register("Elu", since=6)
@float_compute
def elu(x, *, alpha=1.0):
    return np.where(x > 0, x, np.expm1(x) * float(alpha))
