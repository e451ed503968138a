"""dead_code_elimination (O1): drop nodes none of whose outputs is read, and initializers nothing reads.

Readers are node inputs, values captured by subgraphs (If/Loop/Scan bodies) and graph outputs. Nodes are
visited from the end so a whole dead chain goes in one sweep. Nondeterministic nodes are dead like any other:
their results are not observable when nothing reads them.
"""

from __future__ import annotations

from engine import ir
from engine.passes import _rewrite as rw

NAME = "dead_code_elimination"


def run(graph: ir.Graph) -> bool:
    uses = rw.used_names(graph)
    kept: list[ir.Node] = []
    removed = 0
    for node in reversed(graph.nodes):
        if any(out and uses.get(out, 0) for out in node.outputs):
            kept.append(node)
            continue
        removed += 1
        for name in node.inputs:
            if name:
                uses[name] -= 1
        for sub in rw.subgraphs(node):
            for name in rw.free_names(sub):
                uses[name] = uses.get(name, 1) - 1
    kept.reverse()
    graph.nodes = kept
    dead_weights = [name for name in graph.initializers if not uses.get(name, 0)]
    for name in dead_weights:
        del graph.initializers[name]
    return bool(removed or dead_weights)
