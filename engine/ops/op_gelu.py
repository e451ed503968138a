"""Gelu: elementwise 0.5 * x * (1 + erf(x / sqrt(2))), or the tanh approximation when approximate='tanh'."""

import math

import numpy as np

from engine.ops._elementwise import erf, float_compute
from engine.ops.registry import register


@register("Gelu", since=20)
@float_compute
def gelu(x, *, approximate="none"):
    if approximate == "tanh":
        inner = x * x
        inner *= 0.044715
        inner += 1
        inner *= x
        inner *= math.sqrt(2 / math.pi)
        y = np.tanh(inner, out=inner)
    elif approximate == "none":
        y = erf(x * math.sqrt(0.5))
    else:
        raise ValueError(f"Gelu approximate must be 'none' or 'tanh', got {approximate!r}")
    y += 1
    y *= x
    y *= 0.5
    return y
