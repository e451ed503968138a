"""IsNaN: elementwise bool mask of NaN entries."""

import numpy as np

from engine.ops.registry import register


@register("IsNaN", since=9)
def is_nan(x):
    return (np.asarray(np.isnan(x)),)
