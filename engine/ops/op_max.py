"""Max: elementwise maximum of any number of tensors with numpy-style broadcasting."""

import numpy as np

from engine.ops._elementwise import out, variadic
from engine.ops.registry import register


@register("Max", since=6)
def max_(*inputs):
    with np.errstate(all="ignore"):
        return out(variadic(np.maximum, inputs), inputs[0].dtype)
