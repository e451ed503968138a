"""Shrink: elementwise x + bias for x < -lambd, x - bias for x > lambd, else 0 (integer inputs included)."""

import numpy as np

from engine.ops._elementwise import out
from engine.ops.registry import register


@register("Shrink", since=9)
def shrink(x, *, bias=0.0, lambd=0.5):
    bias, lambd = float(bias), float(lambd)
    with np.errstate(all="ignore"):
        if x.dtype.kind == "f":
            y = np.where(x < -lambd, x + bias, np.where(x > lambd, x - bias, x.dtype.type(0)))
        else:  # integer tensor: compare and shift in float64, then convert back
            xf = x.astype(np.float64)
            y = np.where(xf < -lambd, xf + bias, np.where(xf > lambd, xf - bias, 0.0))
    return out(y, x.dtype)
