"""SequenceLength: the number of tensors in a sequence, as an int64 scalar."""

import numpy as np

from engine.ops.registry import register


@register("SequenceLength", since=11)
def sequence_length(seq: list) -> tuple:
    return (np.array(len(seq), dtype=np.int64),)
