"""Run the optimization pipeline of a level (O0..O3) to a fixed point.

``PIPELINES`` is the one ordered list that says which level runs which pass; any pass can be switched off
by name through ``SessionOptions.disabled_optimizers``. A pass is a function ``(graph) -> bool`` that
rewrites the graph in place and returns whether it changed anything. Each pass lives in its own module,
named like the pass; docs/passes.md describes them all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from engine import ir
from engine.passes import (
    activation_fusion,
    attention_fusion,
    common_subexpression_elimination,
    constant_folding,
    conv_bn_folding,
    conv_residual_fusion,
    dead_code_elimination,
    gelu_fusion,
    identity_elimination,
    layer_norm_fusion,
    matmul_add_fusion,
    memory_planning,
    nhwc_layout,
    shape_folding,
)

Pass = Callable[[ir.Graph], bool]

# name -> pass function, one module per pass.
PASSES: dict[str, Pass] = {
    module.NAME: module.run
    for module in (
        identity_elimination,
        constant_folding,
        shape_folding,
        common_subexpression_elimination,
        dead_code_elimination,
        conv_bn_folding,
        layer_norm_fusion,
        gelu_fusion,
        attention_fusion,
        matmul_add_fusion,
        activation_fusion,
        nhwc_layout,
        conv_residual_fusion,
        memory_planning,
    )
}

_O1 = [
    "identity_elimination",
    "constant_folding",
    "shape_folding",
    "common_subexpression_elimination",
    "dead_code_elimination",
]
_O2 = [
    "conv_bn_folding",
    "layer_norm_fusion",
    "gelu_fusion",
    "attention_fusion",
    "matmul_add_fusion",
    "activation_fusion",
]
_O3 = ["nhwc_layout", "conv_residual_fusion", "memory_planning"]

# Level -> ordered pass names. Each level includes the passes of the levels below it.
PIPELINES: dict[int, list[str]] = {0: [], 1: _O1, 2: _O1 + _O2, 3: _O1 + _O2 + _O3}

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
