"""LeakyRelu: elementwise x for x >= 0, alpha * x otherwise."""

import numpy as np

from engine.ops._elementwise import out
from engine.ops.registry import register


@register("LeakyRelu", since=6)
def leaky_relu(x, *, alpha=0.01):
    return out(np.where(x < 0, x * float(alpha), x), x.dtype)
