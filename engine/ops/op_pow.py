"""Pow: elementwise base ** exponent with broadcasting; the exponent may have another numeric type and the
result always has the base's type (integer results of float exponents are truncated, as C casts do)."""

import numpy as np

from engine.ops._elementwise import out
from engine.ops.registry import register


@register("Pow", since=7)
def pow_(x, y):
    with np.errstate(all="ignore"):
        if y.ndim == 0 and y == 2 and x.dtype.kind != "b":
            return out(np.square(x), x.dtype)
        if x.dtype.kind in "iu":
            if y.dtype.kind in "iu" and not (y < 0).any():
                return out(np.power(x, y.astype(x.dtype, copy=False)), x.dtype)
            return out(np.power(x.astype(np.float64), y.astype(np.float64, copy=False)), x.dtype)
        if y.dtype.kind in "iu" or y.dtype.itemsize < x.dtype.itemsize:
            y = y.astype(x.dtype)  # numpy would otherwise promote; float16 ** int8 stays float16 like ONNX
        return out(np.power(x, y), x.dtype)
