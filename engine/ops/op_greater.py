"""Greater: elementwise comparison (greater) of two tensors with numpy-style broadcasting, giving bool."""

import numpy as np

from engine.ops.registry import register


@register("Greater", since=7)
def greater(a, b):
    return (np.asarray(np.greater(a, b), dtype=np.bool_),)
