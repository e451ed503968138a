"""Div: elementwise quotient with broadcasting; integer division truncates toward zero as in C."""

import numpy as np

from engine.ops._elementwise import out, trunc_divide
from engine.ops.registry import register


@register("Div", since=7)
def div(a, b):
    if a.dtype.kind in "iu":
        return out(trunc_divide(a, b), a.dtype)
    with np.errstate(all="ignore"):
        return out(np.true_divide(a, b), a.dtype)
