"""LeakyRelu: elementwise x for x >= 0, alpha * x otherwise (max(x, alpha * x) when 0 <= alpha <= 1)."""

import numpy as np

from engine.ops._elementwise import out
from engine.ops.registry import register


@register("LeakyRelu", since=6)
def leaky_relu(x, *, alpha=0.01):
    alpha = float(alpha)
    y = np.multiply(x, alpha)
    if 0.0 <= alpha <= 1.0:
        return out(np.maximum(x, y, out=y if y.ndim else None), x.dtype)
    return out(np.where(x < 0, y, x), x.dtype)
