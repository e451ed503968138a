"""Mod: elementwise remainder with broadcasting; fmod=0 takes the divisor's sign (floor division, as Python),
fmod=1 takes the dividend's sign (C fmod)."""

import numpy as np

from engine.ops._elementwise import out
from engine.ops.registry import register


@register("Mod", since=10)
def mod(a, b, *, fmod=0):
    with np.errstate(all="ignore"):
        r = np.fmod(a, b) if fmod else np.mod(a, b)
    return out(r, a.dtype)
