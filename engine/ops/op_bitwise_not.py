"""BitwiseNot: elementwise bitwise complement of an integer tensor."""

import numpy as np

from engine.ops._elementwise import out
from engine.ops.registry import register


@register("BitwiseNot", since=18)
def bitwise_not(x):
    return out(np.invert(x), x.dtype)
