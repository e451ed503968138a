"""Clip: elementwise clamp to [min, max]; bounds are attributes before opset 11 and optional scalar inputs
after. Where min > max every value becomes max, as ONNX specifies."""

import numpy as np

from engine.ops._elementwise import out
from engine.ops.registry import register


def _clip(x, lo, hi):
    if lo is None and hi is None:
        return (x.copy(),)
    y = x if lo is None else np.maximum(x, lo)
    if hi is not None:
        in_place = y is not x and isinstance(y, np.ndarray) and y.ndim > 0
        y = np.minimum(y, hi, out=y if in_place else None)
    return out(y, x.dtype)


@register("Clip", since=6)
def clip_6(x, *, min=-3.4028234663852886e38, max=3.4028234663852886e38):
    lo = float(min) if x.dtype.kind == "f" else None
    hi = float(max) if x.dtype.kind == "f" else None
    return _clip(x, lo, hi)


@register("Clip", since=11)
def clip(x, min=None, max=None):
    lo = None if min is None or min.size == 0 else min.reshape(()).astype(x.dtype, copy=False)
    hi = None if max is None or max.size == 0 else max.reshape(()).astype(x.dtype, copy=False)
    return _clip(x, lo, hi)
