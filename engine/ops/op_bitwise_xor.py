"""BitwiseXor: elementwise bitwise XOR of two integer tensors with numpy-style broadcasting."""

import numpy as np

from engine.ops._elementwise import out
from engine.ops.registry import register


@register("BitwiseXor", since=18)
def bitwise_xor(a, b):
    return out(np.bitwise_xor(a, b), a.dtype)
