"""SequenceInsert: a new sequence with ``tensor`` inserted at ``position`` (default: appended)."""

import numpy as np

from engine.ops._sequence import position
from engine.ops.registry import register


@register("SequenceInsert", since=11)
def sequence_insert(seq: list, tensor: np.ndarray, pos: np.ndarray | None = None) -> tuple:
    out = list(seq)
    out.insert(position(seq, pos, insert=True), tensor)
    return (out,)
