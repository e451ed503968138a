"""Run the optimization pipeline of a level (O0..O3) to a fixed point.

``PIPELINES`` is the one ordered list that says which level runs which pass; any pass can be switched off by
name through ``SessionOptions.disabled_optimizers``. A pass is a function ``(graph) -> bool`` that rewrites the
graph in place and returns whether it changed anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from engine import ir

Pass = Callable[[ir.Graph], bool]

# name -> pass function; filled by the pass modules listed in PIPELINES.
PASSES: dict[str, Pass] = {}

# Level -> ordered pass names. Each level includes the passes of the levels below it.
PIPELINES: dict[int, list[str]] = {0: [], 1: [], 2: [], 3: []}

MAX_ROUNDS = 10


def optimize(graph: ir.Graph, level: int, disabled: Iterable[str] = ()) -> ir.Graph:
    """Run level ``level``'s passes on ``graph`` until none changes it (at most MAX_ROUNDS rounds).

    Raises:
        ValueError: ``disabled`` names a pass that does not exist.
    """
    off = set(disabled)
    unknown = off - set(PASSES)
    if unknown:
        raise ValueError(
            f"disabled_optimizers names unknown passes {sorted(unknown)}; known passes: {sorted(PASSES)}"
        )
    names = [n for n in PIPELINES.get(min(max(level, 0), 3), []) if n not in off]
    for _ in range(MAX_ROUNDS):
        changed = False
        for name in names:
            changed |= PASSES[name](graph)
        if not changed:
            break
    return graph
