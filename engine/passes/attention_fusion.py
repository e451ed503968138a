"""attention_fusion (O2): scaled dot-product attention as exporters spell it becomes one
``ai.ronn::FusedAttention`` node::

    S = MatMul(Q, Kt)  [Mul(S, c) | Div(S, c)]  [Add(S, mask) | Where(cond, S, fill) | Where(cond, fill, S)]
    Y = MatMul(Softmax(S, last axis), V)

Scale and mask are optional. Every intermediate must be read by the pattern alone. The fused kernel keeps
one score buffer and scales, masks and normalizes it in place.
"""

from __future__ import annotations

from typing import Any

from engine import ir
from engine.passes import _rewrite as rw

NAME = "attention_fusion"


def _softmax_on_last_axis(ix: rw.Index, softmax: ir.Node) -> bool:
    opset = ix.graph.opset("")
    axis = int(softmax.attrs.get("axis", -1 if opset >= 13 else 1))
    rank = rw.rank_of(ix.graph, softmax.inputs[0])
    return axis == -1 or (rank is not None and axis == rank - 1)


def _scores(ix: rw.Index, name: str, nodes: list[ir.Node]) -> tuple[ir.Node, float] | None:
    """(the Q @ Kt MatMul, scale) for a scores value, optionally scaled by a constant."""
    scale = 1.0
    node = rw.private_producer(ix, name, ("Mul", "Div"))
    if node is not None:
        found = ix.split_const(node)
        if found is None or found[1] == 0:
            return None
        name, scale = found[0], (found[1] if node.op_type == "Mul" else 1.0 / found[1])
        nodes.append(node)
    matmul = rw.private_producer(ix, name, "MatMul")
    if matmul is None:
        return None
    nodes.append(matmul)
    return matmul, scale


def _match(ix: rw.Index, out: ir.Node) -> tuple[list[str], dict[str, Any], list[ir.Node]] | None:
    probs, v = out.inputs
    softmax = rw.private_producer(ix, probs, "Softmax")
    if softmax is None or not _softmax_on_last_axis(ix, softmax):
        return None
    nodes: list[ir.Node] = [softmax]
    logits = softmax.inputs[0]
    masked = rw.private_producer(ix, logits, ("Add", "Where"))
    candidates: list[tuple[str, list[str], str]] = [(logits, [], "none")]
    if masked is not None and masked.op_type == "Add":
        a, b = masked.inputs
        candidates = [(a, [b], "add"), (b, [a], "add"), *candidates]
    elif masked is not None:
        cond, x, y = masked.inputs
        candidates = [(x, [cond, y], "where"), (y, [cond, x], "where_inverted"), *candidates]
    for scores, extra, mode in candidates:
        trial = list(nodes) + ([masked] if masked is not None and mode != "none" else [])
        found = _scores(ix, scores, trial)
        if found is None or scores in extra:
            continue
        matmul, scale = found
        attrs: dict[str, Any] = {"mask_mode": mode}
        if scale != 1.0:
            attrs["scale"] = scale
        return [*matmul.inputs, v, *extra], attrs, trial
    return None


def run(graph: ir.Graph) -> bool:
    ix = rw.Index(graph)
    changed = False
    for node in list(graph.nodes):
        if (
            node.op_type != "MatMul"
            or node.domain not in ("", "ai.onnx")
            or not rw.is_float(graph, node.outputs[0])
        ):
            continue
        found = _match(ix, node)
        if found is None:
            continue
        inputs, attrs, pattern = found
        rw.use_ronn_domain(graph)
        fused = ir.Node(
            "FusedAttention",
            inputs,
            [node.outputs[0]],
            attrs,
            rw.node_name(node, "attention"),
            rw.RONN_DOMAIN,
        )
        rw.replace(graph, node, fused, dead=pattern, ix=ix)
        changed = True
    return changed
