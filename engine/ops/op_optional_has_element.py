"""OptionalHasElement: whether an optional (or an omitted input) holds a value, as a bool scalar."""

from typing import Any

import numpy as np

from engine.ops.registry import register


@register("OptionalHasElement", since=15)
def optional_has_element(value: Any = None) -> tuple:
    return (np.array(value is not None),)
