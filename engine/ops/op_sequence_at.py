"""SequenceAt: the tensor at ``position`` (negative counts from the end)."""

import numpy as np

from engine.ops._sequence import position
from engine.ops.registry import register


@register("SequenceAt", since=11)
def sequence_at(seq: list, pos: np.ndarray) -> tuple:
    return (seq[position(seq, pos)],)
