"""Round: Elementwise rounding to the nearest integer, halves to even (as ONNX specifies)."""

import numpy as np

from engine.ops._elementwise import float_compute
from engine.ops.registry import register


@register("Round", since=11)
@float_compute
def round(x):
    return np.round(x)
