"""Swish: elementwise x * sigmoid(alpha * x) with a stable sigmoid."""

from engine.ops._elementwise import float_compute, sigmoid
from engine.ops.registry import register


@register("Swish", since=24)
@float_compute
def swish(x, *, alpha=1.0):
    y = sigmoid(x * float(alpha))
    y *= x
    return y
