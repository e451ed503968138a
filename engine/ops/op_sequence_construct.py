"""SequenceConstruct: a sequence of the given tensors, in order."""

import numpy as np

from engine.ops.registry import register


@register("SequenceConstruct", since=11)
def sequence_construct(*tensors: np.ndarray) -> tuple:
    return (list(tensors),)
