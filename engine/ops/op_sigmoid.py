"""Sigmoid: elementwise 1 / (1 + exp(-x)), computed without overflow for large |x|."""

from engine.ops._elementwise import out
from engine.ops._elementwise import sigmoid as _sigmoid
from engine.ops.registry import register


@register("Sigmoid", since=6)
def sigmoid(x):
    return out(_sigmoid(x), x.dtype)
