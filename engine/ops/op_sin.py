"""Sin: Elementwise sine."""

import numpy as np

from engine.ops._elementwise import float_compute
from engine.ops.registry import register


@register("Sin", since=7)
@float_compute
def sin(x):
    return np.sin(x)
