"""Or: elementwise logical OR of two bool tensors with numpy-style broadcasting."""

import numpy as np

from engine.ops.registry import register


@register("Or", since=7)
def or_(a, b):
    return (np.asarray(np.logical_or(a, b)),)
