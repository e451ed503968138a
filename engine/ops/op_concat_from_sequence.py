"""ConcatFromSequence: concatenate a sequence along ``axis``, or stack it along a new axis (``new_axis=1``)."""

import numpy as np

from engine.ops.registry import register


@register("ConcatFromSequence", since=11)
def concat_from_sequence(seq: list, *, axis: int, new_axis: int = 0) -> tuple:
    if not seq:
        raise ValueError("ConcatFromSequence needs at least one tensor")
    if new_axis:
        rank = seq[0].ndim + 1
        return (np.stack(seq, axis=axis % rank),)
    return (np.concatenate(seq, axis=axis % seq[0].ndim),)
