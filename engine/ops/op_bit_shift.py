"""BitShift: elementwise shift of X by Y bits (direction LEFT or RIGHT); right shifts of signed values are
arithmetic, and shift counts that are negative or at least the bit width give only the sign fill (0 or -1)."""

import numpy as np

from engine.ops._elementwise import out
from engine.ops.registry import register


@register("BitShift", since=11)
def bit_shift(x, y, *, direction):
    if direction not in ("LEFT", "RIGHT"):
        raise ValueError(f"BitShift direction must be 'LEFT' or 'RIGHT', got {direction!r}")
    bits = x.dtype.itemsize * 8
    overflow = (y < 0) | (y >= bits) if y.dtype.kind == "i" else y >= bits
    shift = np.where(overflow, 0, y).astype(x.dtype, copy=False) if overflow.any() else y
    r = np.left_shift(x, shift) if direction == "LEFT" else np.right_shift(x, shift)
    if overflow.any():
        r = np.asarray(r)
        fill = (x < 0) if (direction == "RIGHT" and x.dtype.kind == "i") else False
        r = np.where(overflow, np.where(fill, -1, 0).astype(x.dtype), r)
    return out(r, x.dtype)
