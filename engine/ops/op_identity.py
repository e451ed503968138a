"""Identity: returns its input unchanged (tensors, and sequences/optionals passed through as-is)."""

from __future__ import annotations

from engine.ops.registry import register


@register("Identity", since=1)
def identity(data):
    return (data,)
