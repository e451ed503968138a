"""SequenceEmpty: an empty sequence (its element type only matters for type checking)."""

from engine.ops.registry import register


@register("SequenceEmpty", since=11)
def sequence_empty(*, dtype: int = 1) -> tuple:
    return ([],)
