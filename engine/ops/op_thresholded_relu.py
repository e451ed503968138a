"""ThresholdedRelu: elementwise x where x > alpha, else 0."""

import numpy as np

from engine.ops._elementwise import out
from engine.ops.registry import register


@register("ThresholdedRelu", since=10)
def thresholded_relu(x, *, alpha=1.0):
    return out(np.where(x > float(alpha), x, x.dtype.type(0)), x.dtype)
