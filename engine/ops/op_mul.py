"""Mul: elementwise product of two same-typed tensors with numpy-style broadcasting (integers wrap)."""

import numpy as np

from engine.ops._elementwise import out
from engine.ops.registry import register


@register("Mul", since=7)
def mul(a, b):
    with np.errstate(all="ignore"):
        return out(np.multiply(a, b), a.dtype)
