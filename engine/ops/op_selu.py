"""Selu: elementwise gamma * x for x > 0, gamma * alpha * (exp(x) - 1) otherwise."""

import numpy as np

from engine.ops._elementwise import float_compute
from engine.ops.registry import register


@register("Selu", since=6)
@float_compute
def selu(x, *, alpha=1.67326319217681884765625, gamma=1.05070102214813232421875):
    return np.where(x > 0, x * float(gamma), np.expm1(x) * (float(alpha) * float(gamma)))
