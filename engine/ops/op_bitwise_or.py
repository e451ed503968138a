"""BitwiseOr: elementwise bitwise OR of two integer tensors with numpy-style broadcasting."""

import numpy as np

from engine.ops._elementwise import out
from engine.ops.registry import register


@register("BitwiseOr", since=18)
def bitwise_or(a, b):
    return out(np.bitwise_or(a, b), a.dtype)
