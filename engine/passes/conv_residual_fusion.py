"""conv_residual_fusion (O3): ``Conv -> Add(·, Z) [-> activation]`` becomes one ``ai.ronn::FusedConv`` with
the residual ``Z`` as its fourth input, ``Y = activation(Conv(X, W, B) + Z)`` (ResNet's skip connection).

The convolution kernel then adds the residual and applies the activation in the pass that already adds the
bias, instead of an Add and a Relu each reading and writing the whole tensor. Conditions: the convolution
(Conv, or a FusedConv without an activation or residual) is read by the Add alone; ``Z`` is a float tensor
whose shape is known and equal to the convolution's (no broadcasting, same symbolic batch dimension); the
activation, when one follows and reads the sum alone, is one ``activation_fusion`` accepts.

It runs at O3, after ``nhwc_layout``, so channels-last chains (MobileNetV2's residual Adds of NhwcConv
results) are left to that pass; convolutions still in NCHW are fused here.
"""

from __future__ import annotations

from engine import ir
from engine.passes import _rewrite as rw
from engine.passes.activation_fusion import _activation

NAME = "conv_residual_fusion"

_CONVS = {("", "Conv"), ("ai.onnx", "Conv"), (rw.RONN_DOMAIN, "FusedConv")}


def _known_equal(graph: ir.Graph, a: str, b: str) -> bool:
    sa, sb = rw.shape_of(graph, a), rw.shape_of(graph, b)
    return sa is not None and sa == sb and len(sa) == 4 and all(d is not None and d != "" for d in sa)


def _fuse(ix: rw.Index, add: ir.Node) -> bool:
    graph = ix.graph
    if add.op_type != "Add" or add.domain not in ("", "ai.onnx") or len(add.inputs) != 2 or not all(add.inputs):
        return False
    for side in (0, 1):
        conv_out, z = add.inputs[side], add.inputs[1 - side]
        conv = ix.producer.get(conv_out)
        if conv is None or (conv.domain, conv.op_type) not in _CONVS or len(conv.outputs) != 1:
            continue
        if not 2 <= len(conv.inputs) <= 3 or conv.attrs.get("activation") or not ix.private(conv_out):
            continue
        if z == conv_out or not rw.is_float(graph, z) or not rw.is_float(graph, conv_out):
            continue
        if not _known_equal(graph, conv_out, z) or not _known_equal(graph, conv_out, add.outputs[0]):
            continue
        attrs = {k: v for k, v in conv.attrs.items() if k not in ("activation", "activation_params")}
        dead = [conv]
        anchor, out = add, add.outputs[0]
        readers = [n for n in graph.nodes if out in n.inputs]
        if len(readers) == 1 and ix.private(out):
            found = _activation(ix, readers[0])
            if found is not None and readers[0].inputs[0] == out:
                attrs["activation"], params = found
                if params:
                    attrs["activation_params"] = params
                dead.append(add)
                anchor, out = readers[0], readers[0].outputs[0]
        inputs = list(conv.inputs) + [""] * (3 - len(conv.inputs)) + [z]
        rw.use_ronn_domain(graph)
        node = ir.Node("FusedConv", inputs, [out], attrs, rw.node_name(conv, "residual"), rw.RONN_DOMAIN)
        rw.replace(graph, anchor, node, dead=dead, ix=ix)
        return True
    return False


def run(graph: ir.Graph) -> bool:
    ix = rw.Index(graph)
    changed = False
    for node in list(graph.nodes):
        if node.outputs:
            changed |= _fuse(ix, node)
    return changed
