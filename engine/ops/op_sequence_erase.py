"""SequenceErase: a new sequence without the tensor at ``position`` (default: the last)."""

import numpy as np

from engine.ops._sequence import position
from engine.ops.registry import register


@register("SequenceErase", since=11)
def sequence_erase(seq: list, pos: np.ndarray | None = None) -> tuple:
    out = list(seq)
    del out[position(seq, pos)]
    return (out,)
