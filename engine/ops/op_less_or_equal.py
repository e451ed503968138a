"""LessOrEqual: elementwise a <= b with numpy-style broadcasting, giving bool."""

import numpy as np

from engine.ops.registry import register


@register("LessOrEqual", since=12)
def less_or_equal(a, b):
    return (np.asarray(np.less_equal(a, b), dtype=np.bool_),)
