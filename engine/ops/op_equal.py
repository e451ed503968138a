"""Equal: elementwise comparison (equal) of two tensors with numpy-style broadcasting, giving bool."""

import numpy as np

from engine.ops.registry import register


@register("Equal", since=7)
def equal(a, b):
    return (np.asarray(np.equal(a, b), dtype=np.bool_),)
