"""Optional: wrap a value (or nothing) as an optional; an optional is the value itself or None (empty)."""

from typing import Any

from engine.ops.registry import register


@register("Optional", since=15)
def optional(value: Any = None, *, type: Any = None) -> tuple:
    return (value,)
