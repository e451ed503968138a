"""Xor: elementwise logical XOR of two bool tensors with numpy-style broadcasting."""

import numpy as np

from engine.ops.registry import register


@register("Xor", since=7)
def xor_(a, b):
    return (np.asarray(np.logical_xor(a, b)),)
