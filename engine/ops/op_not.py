"""Not: elementwise logical negation of a bool tensor."""

import numpy as np

from engine.ops.registry import register


@register("Not", since=1)
def not_(x):
    return (np.asarray(np.logical_not(x)),)
