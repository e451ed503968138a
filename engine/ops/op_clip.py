"""Clip: elementwise clamp to [min, max]; bounds are attributes before opset 11 and optional scalar inputs
after. Where min > max every value becomes max, as ONNX specifies."""

import numpy as np

from engine.ops._elementwise import out
from engine.ops.registry import register


def _clip(x, lo, hi):
    y = x
    if lo is not None:
        y = np.maximum(y, lo)
    if hi is not None:
        y = np.minimum(y, hi, out=y if y is not x else None)
    return out(y.copy() if y is x else y, x.dtype)


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
