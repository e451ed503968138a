"""IsInf: elementwise bool mask of infinities, restricted by detect_negative/detect_positive."""

import numpy as np

from engine.ops.registry import register


@register("IsInf", since=10)
def is_inf(x, *, detect_negative=1, detect_positive=1):
    if detect_negative and detect_positive:
        return (np.asarray(np.isinf(x)),)
    if detect_positive:
        return (np.asarray(x == np.inf),)
    if detect_negative:
        return (np.asarray(x == -np.inf),)
    return (np.zeros(x.shape, dtype=np.bool_),)
