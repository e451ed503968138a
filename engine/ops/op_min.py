"""Min: elementwise minimum of any number of tensors with numpy-style broadcasting."""

import numpy as np

from engine.ops._elementwise import out, variadic
from engine.ops.registry import register


@register("Min", since=6)
def min_(*inputs):
    with np.errstate(all="ignore"):
        return out(variadic(np.minimum, inputs), inputs[0].dtype)
