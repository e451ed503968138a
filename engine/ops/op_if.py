"""If: run ``then_branch`` or ``else_branch`` (compiled subgraphs reading the enclosing scope)."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.ops.registry import register


@register("If", since=1)
def if_(cond: np.ndarray, *, then_branch: Any, else_branch: Any, _scope: dict | None = None) -> tuple:
    branch = then_branch if bool(np.asarray(cond).reshape(-1)[0]) else else_branch
    return tuple(branch([], _scope or {}))
