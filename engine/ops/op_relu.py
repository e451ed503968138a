"""Relu: elementwise max(x, 0) for float and signed integer tensors (NaN propagates)."""

import numpy as np

from engine.ops._elementwise import out
from engine.ops.registry import register


@register("Relu", since=6)
def relu(x):
    return out(np.maximum(x, x.dtype.type(0)), x.dtype)
