"""Helpers the graph passes share: finding constants and static shapes, renaming values, replacing nodes.

Conventions every pass keeps:

* Nodes stay in topological order. A fused node takes the place of the last node of the pattern it replaces
  (every input of the pattern is defined before that node), and a node is only ever removed, never moved up.
* A value that is a graph output keeps its name: rewrites rename the value *inside* the graph instead.
* Rewritten weights get new initializer names, so ``InferenceSession.update_weights`` on an original name
  fails loudly instead of silently writing a weight the graph no longer reads.
* Subgraphs (If/Loop/Scan bodies) read enclosing values by name; :func:`used_names` and :func:`rename`
  look inside them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from engine import ir

RONN_DOMAIN = "ai.ronn"

# Operators whose result differs from run to run: never folded nor merged.
NONDETERMINISTIC = frozenset(
    {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli"}
)


def has_subgraph(node: ir.Node) -> bool:
    return any(
        isinstance(v, ir.Graph) or (isinstance(v, list) and any(isinstance(g, ir.Graph) for g in v))
        for v in node.attrs.values()
    )


def subgraphs(node: ir.Node) -> list[ir.Graph]:
    found: list[ir.Graph] = []
    for value in node.attrs.values():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, ir.Graph):
                found.append(item)
    return found


def free_names(graph: ir.Graph) -> set[str]:
    """Names a (sub)graph reads without defining them."""
    defined = set(graph.input_names) | set(graph.initializers) | {""}
    used: set[str] = set()
    for node in graph.nodes:
        used.update(n for n in node.inputs if n not in defined)
        for sub in subgraphs(node):
            used |= free_names(sub) - defined
        defined.update(node.outputs)
    used.update(n for n in graph.output_names if n not in defined)
    return used


def used_names(graph: ir.Graph) -> dict[str, int]:
    """How many times each value is read: node inputs, subgraph captures and graph outputs."""
    counts: dict[str, int] = {}
    for node in graph.nodes:
        for name in node.inputs:
            if name:
                counts[name] = counts.get(name, 0) + 1
        for sub in subgraphs(node):
            for name in free_names(sub):
                counts[name] = counts.get(name, 0) + 1
    for name in graph.output_names:
        counts[name] = counts.get(name, 0) + 1
    return counts


def rename(graph: ir.Graph, old: str, new: str) -> None:
    """Make every node (subgraph bodies included) that reads ``old`` read ``new`` instead.

    Graph outputs are never renamed: the caller makes sure ``old`` is not one.
    """
    assert old not in graph.output_names, f"cannot rename graph output {old!r}"
    for node in graph.nodes:
        if old in node.inputs:
            node.inputs = [new if n == old else n for n in node.inputs]
        for sub in subgraphs(node):
            if old not in sub.initializers and old not in sub.input_names:
                _rename_inner(sub, old, new)


def _rename_inner(graph: ir.Graph, old: str, new: str) -> None:
    for node in graph.nodes:
        if old in node.inputs:
            node.inputs = [new if n == old else n for n in node.inputs]
        for sub in subgraphs(node):
            if old not in sub.initializers and old not in sub.input_names:
                _rename_inner(sub, old, new)
    graph.outputs = [ir.Value(new, v.dtype, v.shape) if v.name == old else v for v in graph.outputs]


def fresh_name(graph: ir.Graph, base: str) -> str:
    """A value name not used anywhere in ``graph`` (node outputs, inputs, initializers)."""
    taken = set(graph.initializers) | set(graph.input_names) | {o for n in graph.nodes for o in n.outputs}
    if base not in taken:
        return base
    i = 1
    while f"{base}_{i}" in taken:
        i += 1
    return f"{base}_{i}"


def add_initializer(graph: ir.Graph, base: str, array: np.ndarray) -> str:
    name = fresh_name(graph, base)
    graph.initializers[name] = np.ascontiguousarray(array)
    graph.value_info[name] = ir.Value(name, array.dtype, tuple(array.shape))
    return name


def use_ronn_domain(graph: ir.Graph) -> None:
    """Import the internal ``ai.ronn`` operator set (where fused operators live) into ``graph``."""
    graph.opsets.setdefault(RONN_DOMAIN, 1)


# --- constants --------------------------------------------------------------------------------------------


def scalar_of(value: np.ndarray | None) -> float | None:
    """The value of a one-element floating or integer constant, else None."""
    if value is None or value.size != 1 or value.dtype.kind not in "fiu":
        return None
    return float(value.reshape(()))


def close(value: float | None, target: float, rtol: float = 1e-4) -> bool:
    return value is not None and math.isclose(value, target, rel_tol=rtol, abs_tol=1e-12)


# --- shapes -----------------------------------------------------------------------------------------------


def value_of(graph: ir.Graph, name: str) -> ir.Value | None:
    for v in graph.inputs:
        if v.name == name:
            return v
    if name in graph.initializers:
        array = graph.initializers[name]
        return ir.Value(name, array.dtype, tuple(array.shape))
    for v in graph.outputs:
        if v.name == name and v.shape is not None:
            return v
    return graph.value_info.get(name)


def shape_of(graph: ir.Graph, name: str) -> tuple[ir.Dim, ...] | None:
    value = value_of(graph, name)
    return None if value is None else value.shape


def rank_of(graph: ir.Graph, name: str) -> int | None:
    shape = shape_of(graph, name)
    return None if shape is None else len(shape)


def static_shape(graph: ir.Graph, name: str) -> tuple[int, ...] | None:
    shape = shape_of(graph, name)
    if shape is None or not all(isinstance(d, int) for d in shape):
        return None
    return tuple(int(d) for d in shape)  # type: ignore[arg-type]


def dtype_of(graph: ir.Graph, name: str) -> np.dtype | None:
    value = value_of(graph, name)
    return None if value is None else value.dtype


# --- pattern bookkeeping ----------------------------------------------------------------------------------


class Index:
    """Producers and readers of every value, computed once per sweep of a pass."""

    def __init__(self, graph: ir.Graph) -> None:
        self.graph = graph
        self.producer = graph.producers()
        self.uses = used_names(graph)
        self.outputs = set(graph.output_names)

    def producer_of(self, name: str, op_type: str | Iterable[str]) -> ir.Node | None:
        node = self.producer.get(name)
        types = (op_type,) if isinstance(op_type, str) else tuple(op_type)
        if node is None or node.op_type not in types or node.domain not in ("", "ai.onnx"):
            return None
        return node

    def const(self, name: str) -> np.ndarray | None:
        """The value of ``name`` when it is an initializer or the output of a Constant node."""
        if not name:
            return None
        value = self.graph.initializers.get(name)
        if value is not None:
            return value
        node = self.producer.get(name)
        if node is None or node.op_type != "Constant" or node.domain not in ("", "ai.onnx"):
            return None
        from engine.ops.registry import lookup

        try:
            return lookup("Constant", "", self.graph.opset("")).fn(**node.attrs)[0]
        except Exception:  # an invalid Constant is reported when the session runs it
            return None

    def scalar(self, name: str) -> float | None:
        return scalar_of(self.const(name))

    def split_const(self, node: ir.Node) -> tuple[str, float] | None:
        """For a binary node with one scalar-constant operand: (the other operand, the constant)."""
        if len(node.inputs) != 2:
            return None
        a, b = node.inputs
        vb = self.scalar(b)
        if vb is not None and self.const(a) is None:
            return a, vb
        va = self.scalar(a)
        if va is not None and self.const(b) is None and node.op_type in ("Add", "Mul"):
            return b, va
        return None

    def private(self, name: str, readers: int = 1) -> bool:
        """``name`` is read by exactly ``readers`` nodes of the pattern and nothing else."""
        return self.uses.get(name, 0) == readers and name not in self.outputs


def replace(
    graph: ir.Graph, anchor: ir.Node, new: ir.Node, dead: Iterable[ir.Node] = (), ix: Index | None = None
) -> None:
    """Put ``new`` where ``anchor`` is and drop ``dead`` (nodes of the pattern whose outputs nothing else
    reads). ``ix``, when given, is kept up to date for the rest of the sweep."""
    dead = list({id(n): n for n in dead if n is not anchor}.values())
    drop = {id(n) for n in dead}
    graph.nodes = [new if node is anchor else node for node in graph.nodes if id(node) not in drop]
    if ix is None:
        return
    for node in (anchor, *dead):
        for name in node.outputs:
            ix.producer.pop(name, None)
        for name in node.inputs:
            if name:
                ix.uses[name] = ix.uses.get(name, 1) - 1
    for name in new.outputs:
        ix.producer[name] = new
    for name in new.inputs:
        if name:
            ix.uses[name] = ix.uses.get(name, 0) + 1


def node_name(base: ir.Node, suffix: str) -> str:
    return f"{base.name or base.outputs[0]}/{suffix}"


def attr_key(value: Any) -> Any:
    """A hashable, exact key for an attribute value (used to compare nodes)."""
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, list):
        return ("list", tuple(attr_key(v) for v in value))
    if isinstance(value, float):
        return ("float", value)
    return (type(value).__name__, value)


def private_producer(ix: Index, name: str, op_type: str | Iterable[str], readers: int = 1) -> ir.Node | None:
    """The node of type ``op_type`` producing ``name`` when the pattern's ``readers`` are its only readers."""
    node = ix.producer_of(name, op_type)
    if node is None or not ix.private(name, readers):
        return None
    return node


def is_float(graph: ir.Graph, name: str) -> bool:
    dtype = dtype_of(graph, name)
    return dtype is not None and dtype.kind == "f"
