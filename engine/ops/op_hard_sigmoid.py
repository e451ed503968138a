"""HardSigmoid: elementwise max(0, min(1, alpha * x + beta))."""

import numpy as np

from engine.ops._elementwise import float_compute
from engine.ops.registry import register


@register("HardSigmoid", since=6)
@float_compute
def hard_sigmoid(x, *, alpha=0.2, beta=0.5):
    y = x * float(alpha)
    y += float(beta)
    return np.clip(y, 0, 1, out=y)
