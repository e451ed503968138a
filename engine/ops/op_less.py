"""Less: elementwise comparison (less) of two tensors with numpy-style broadcasting, giving bool."""

import numpy as np

from engine.ops.registry import register


@register("Less", since=7)
def less(a, b):
    return (np.asarray(np.less(a, b), dtype=np.bool_),)
