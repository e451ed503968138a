"""Sub: elementwise difference of two same-typed tensors with numpy-style broadcasting (integers wrap)."""

import numpy as np

from engine.ops._elementwise import out
from engine.ops.registry import register


@register("Sub", since=7)
def sub(a, b):
    with np.errstate(all="ignore"):
        return out(np.subtract(a, b), a.dtype)
