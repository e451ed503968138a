"""OptionalGetElement: the value inside an optional (a plain tensor or sequence passes through)."""

from typing import Any

from engine.ops.registry import register


@register("OptionalGetElement", since=15)
def optional_get_element(value: Any) -> tuple:
    if value is None:
        raise ValueError("OptionalGetElement on an empty optional")
    return (value,)
