"""activation_fusion (O2): ``Conv``, ``Gemm`` or ``MatMul`` followed by an activation becomes one ``ai.ronn``
node (FusedConv, FusedGemm, FusedMatMul) that applies the activation to its fresh result in place.

Activations: Relu, Clip (constant bounds), Sigmoid, HardSwish, Tanh, LeakyRelu, HardSigmoid and Gelu (the
standard op or the ``ai.ronn`` one the GELU fusion emits). The producer's result must be read by the
activation alone, and hold floating-point values.
"""

from __future__ import annotations

import math

from engine import ir
from engine.passes import _rewrite as rw

NAME = "activation_fusion"

_FUSED = {
    ("", "Conv"): "FusedConv",
    ("", "Gemm"): "FusedGemm",
    ("", "MatMul"): "FusedMatMul",
    (rw.RONN_DOMAIN, "FusedConv"): "FusedConv",
    (rw.RONN_DOMAIN, "FusedGemm"): "FusedGemm",
    (rw.RONN_DOMAIN, "FusedMatMul"): "FusedMatMul",
}


def _activation(ix: rw.Index, node: ir.Node) -> tuple[str, list[float]] | None:
    """The fused kernels' (activation, activation_params) for ``node``, or None if it is not one."""
    op, attrs = node.op_type, node.attrs
    if node.domain == rw.RONN_DOMAIN and op == "Gelu":
        return ("GeluTanh" if attrs.get("approximate") == "tanh" else "Gelu"), []
    if node.domain not in ("", "ai.onnx"):
        return None
    if op in ("Relu", "Sigmoid", "HardSwish", "Tanh") and not attrs:
        return op, []
    if op == "LeakyRelu":
        return op, [float(attrs.get("alpha", 0.01))]
    if op == "HardSigmoid":
        return op, [float(attrs.get("alpha", 0.2)), float(attrs.get("beta", 0.5))]
    if op == "Gelu":
        return ("GeluTanh" if attrs.get("approximate") == "tanh" else "Gelu"), []
    if op == "Clip":
        if ix.graph.opset("") < 11:
            return op, [float(attrs.get("min", -math.inf)), float(attrs.get("max", math.inf))]
        bounds = [-math.inf, math.inf]
        for i, name in enumerate(node.inputs[1:3]):
            if name:
                value = ix.scalar(name)
                if value is None:
                    return None
                bounds[i] = value
        return op, bounds
    return None


def _fuse(ix: rw.Index, act: ir.Node) -> bool:
    graph = ix.graph
    if not act.inputs or not act.inputs[0] or not rw.is_float(graph, act.inputs[0]):
        return False
    found = _activation(ix, act)
    producer = ix.producer.get(act.inputs[0])
    if found is None or producer is None or not ix.private(act.inputs[0]):
        return False
    domain = rw.RONN_DOMAIN if producer.domain == rw.RONN_DOMAIN else ""
    fused_op = _FUSED.get((domain, producer.op_type))
    if fused_op is None or producer.attrs.get("activation"):
        return False
    activation, params = found
    attrs = dict(producer.attrs, activation=activation)
    if params:
        attrs["activation_params"] = params
    rw.use_ronn_domain(graph)
    node = ir.Node(
        fused_op,
        list(producer.inputs),
        [act.outputs[0]],
        attrs,
        rw.node_name(producer, activation.lower()),
        rw.RONN_DOMAIN,
    )
    rw.replace(graph, act, node, dead=[producer], ix=ix)
    return True


def run(graph: ir.Graph) -> bool:
    ix = rw.Index(graph)
    changed = False
    for node in list(graph.nodes):
        if node.outputs:
            changed |= _fuse(ix, node)
    return changed
