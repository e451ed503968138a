"""BitwiseAnd: elementwise bitwise AND of two integer tensors with numpy-style broadcasting."""

import numpy as np

from engine.ops._elementwise import out
from engine.ops.registry import register


@register("BitwiseAnd", since=18)
def bitwise_and(a, b):
    return out(np.bitwise_and(a, b), a.dtype)
