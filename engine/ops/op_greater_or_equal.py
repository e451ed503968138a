"""GreaterOrEqual: elementwise a >= b with numpy-style broadcasting, giving bool."""

import numpy as np

from engine.ops.registry import register


@register("GreaterOrEqual", since=12)
def greater_or_equal(a, b):
    return (np.asarray(np.greater_equal(a, b), dtype=np.bool_),)
