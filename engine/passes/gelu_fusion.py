"""gelu_fusion (O2): the decomposed GELU exporters emit becomes one Gelu node (opset-20 semantics).

Erf form:  ``0.5 * x * (1 + erf(x / sqrt(2)))``  (``x * 0.7071...`` also accepted)
Tanh form: ``0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3)))``  (``x^3`` as ``Pow(x, 3)`` or
``x * x * x``)

The products may be nested in any order (``(x * 0.5) * (1 + ...)``, ``x * (0.5 * (1 + ...))``...): each Mul
tree is flattened into its constant factor and its other factors. Every intermediate value must be read by
the pattern alone. The result is the standard ``Gelu`` when the model imports opset 20 or newer, else
``ai.ronn::Gelu`` with the same semantics.
"""

from __future__ import annotations

import math

from engine import ir
from engine.passes import _rewrite as rw

NAME = "gelu_fusion"


def _flatten_mul(
    ix: rw.Index, node: ir.Node, nodes: list[ir.Node], depth: int = 0
) -> tuple[float, list[str]] | None:
    """(product of the constant factors, the other factors) of a tree of Mul nodes rooted at ``node``."""
    if depth > 4:
        return None
    nodes.append(node)
    factor, leaves = 1.0, []
    for name in node.inputs:
        value = ix.scalar(name)
        inner = rw.private_producer(ix, name, "Mul") if value is None else None
        if value is not None:
            factor *= value
        elif inner is not None:
            sub = _flatten_mul(ix, inner, nodes, depth + 1)
            if sub is None:
                return None
            factor *= sub[0]
            leaves += sub[1]
        else:
            leaves.append(name)
    return factor, leaves


def _erf_argument_is(ix: rw.Index, name: str, x: str, nodes: list[ir.Node]) -> bool:
    node = rw.private_producer(ix, name, ("Div", "Mul"))
    found = ix.split_const(node) if node is not None else None
    if found is None or found[0] != x:
        return False
    target = math.sqrt(2) if node.op_type == "Div" else math.sqrt(0.5)  # type: ignore[union-attr]
    if not rw.close(found[1], target):
        return False
    nodes.append(node)  # type: ignore[arg-type]
    return True


def _tanh_argument_is(ix: rw.Index, name: str, x: str, nodes: list[ir.Node]) -> bool:
    outer = rw.private_producer(ix, name, "Mul")
    flat = _flatten_mul(ix, outer, nodes) if outer is not None else None
    if flat is None or len(flat[1]) != 1 or not rw.close(flat[0], math.sqrt(2 / math.pi)):
        return False
    inner = rw.private_producer(ix, flat[1][0], "Add")
    if inner is None:
        return False
    nodes.append(inner)
    others = [n for n in inner.inputs if n != x]
    if len(others) != 1 or len(inner.inputs) != 2:
        return False
    cubic = rw.private_producer(ix, others[0], "Mul")
    flat = _flatten_mul(ix, cubic, nodes) if cubic is not None else None
    if flat is None or not rw.close(flat[0], 0.044715):
        return False
    if flat[1] == [x, x, x] or sorted(flat[1]) == [x, x, x]:
        return True
    if len(flat[1]) != 1:
        return False
    power = rw.private_producer(ix, flat[1][0], "Pow")
    if power is None or power.inputs[0] != x or not rw.close(ix.scalar(power.inputs[1]), 3.0):
        return False
    nodes.append(power)
    return True


def _match(ix: rw.Index, final: ir.Node) -> tuple[str, str, list[ir.Node]] | None:
    """(x, approximate, pattern nodes) when ``final`` is the last Mul of a GELU."""
    nodes: list[ir.Node] = []
    flat = _flatten_mul(ix, final, nodes)
    if flat is None or len(flat[1]) != 2 or not rw.close(flat[0], 0.5):
        return None
    for x, one_plus in (flat[1], reversed(flat[1])):
        add = rw.private_producer(ix, one_plus, "Add")
        found = ix.split_const(add) if add is not None else None
        if add is None or found is None or not rw.close(found[1], 1.0):
            continue
        fn = rw.private_producer(ix, found[0], ("Erf", "Tanh"))
        if fn is None:
            continue
        pattern = [*nodes, add, fn]
        if fn.op_type == "Erf" and _erf_argument_is(ix, fn.inputs[0], x, pattern):
            return x, "none", pattern
        if fn.op_type == "Tanh" and _tanh_argument_is(ix, fn.inputs[0], x, pattern):
            return x, "tanh", pattern
    return None


def run(graph: ir.Graph) -> bool:
    ix = rw.Index(graph)
    changed = False
    for node in list(graph.nodes):
        if (
            node.op_type != "Mul"
            or node.domain not in ("", "ai.onnx")
            or not rw.is_float(graph, node.outputs[0])
        ):
            continue
        found = _match(ix, node)
        if found is None:
            continue
        x, approximate, pattern = found
        standard = graph.opset("") >= 20
        if not standard:
            rw.use_ronn_domain(graph)
        attrs = {"approximate": approximate} if approximate != "none" else {}
        gelu = ir.Node(
            "Gelu",
            [x],
            [node.outputs[0]],
            attrs,
            rw.node_name(node, "gelu"),
            "" if standard else rw.RONN_DOMAIN,
        )
        rw.replace(graph, node, gelu, dead=[n for n in pattern if n is not node], ix=ix)
        changed = True
    return changed
