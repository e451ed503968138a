"""common_subexpression_elimination (O1): two nodes with the same operator, attributes and inputs compute
the same values, so the later one is dropped and its readers read the earlier one's outputs.

Exporters repeat ``Shape(x)``, ``Gather(shape, i)`` and ``Unsqueeze`` chains once per use; after this pass
each is computed once. Not merged: nondeterministic operators, nodes with subgraphs, and a later node whose
output is a graph output (its name must stay, so it is kept; other readers still share the earlier one).
Identical initializers are *not* merged: each stays updatable by name through ``update_weights``.
"""

from __future__ import annotations

from typing import Any

from engine import ir
from engine.passes import _rewrite as rw

NAME = "common_subexpression_elimination"


def _key(node: ir.Node) -> Any:
    attrs = tuple(sorted((k, rw.attr_key(v)) for k, v in node.attrs.items()))
    return (node.domain or "", node.op_type, tuple(node.inputs), len(node.outputs), attrs)


def run(graph: ir.Graph) -> bool:
    outputs = set(graph.output_names)
    seen: dict[Any, ir.Node] = {}
    kept: list[ir.Node] = []
    alias: dict[str, str] = {}
    for node in graph.nodes:
        if alias and any(name in alias for name in node.inputs):
            node.inputs = [alias.get(name, name) for name in node.inputs]
        if node.op_type in rw.NONDETERMINISTIC or rw.has_subgraph(node) or not node.outputs:
            kept.append(node)
            continue
        key = _key(node)
        first = seen.get(key)
        if first is None:
            seen[key] = node
            kept.append(node)
            continue
        if any(out in outputs for out in node.outputs) or any(
            out and not mine for mine, out in zip(first.outputs, node.outputs, strict=True)
        ):
            kept.append(node)
            continue
        for mine, out in zip(first.outputs, node.outputs, strict=True):
            if out:
                alias[out] = mine
    graph.nodes = kept
    if alias and any(rw.has_subgraph(node) for node in kept):
        for old, new in alias.items():
            rw.rename(graph, old, new)  # subgraph bodies capture values by name
    return bool(alias)
