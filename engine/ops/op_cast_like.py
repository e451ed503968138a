"""CastLike: convert the input to the element type of the second input (same semantics as Cast)."""

from engine.ops._elementwise import cast_array
from engine.ops.registry import register


@register("CastLike", since=15)
def cast_like(x, target_type, *, saturate=1, round_mode="up"):
    return (cast_array(x, target_type.dtype),)
