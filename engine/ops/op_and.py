"""And: elementwise logical AND of two bool tensors with numpy-style broadcasting."""

import numpy as np

from engine.ops.registry import register


@register("And", since=7)
def and_(a, b):
    return (np.asarray(np.logical_and(a, b)),)
