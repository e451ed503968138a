"""conv_bn_folding (O2): fold an inference-mode BatchNormalization into the Conv that feeds it.

``BN(conv(x, W, B))`` with per-channel ``a = scale / sqrt(var + eps)`` equals ``conv(x, W * a, (B - mean) * a
+ bias)``. Folded when W, B and the four BN tensors are constants, the Conv output is read only by the BN, and
the BN is not in training mode nor asked for its running statistics. The new weights are computed in float64
and stored under new names (the originals become dead and are removed).
"""

from __future__ import annotations

import numpy as np

from engine import ir
from engine.passes import _rewrite as rw

NAME = "conv_bn_folding"


def _fold(ix: rw.Index, bn: ir.Node) -> bool:
    graph = ix.graph
    if len(bn.inputs) != 5 or any(o and ix.uses.get(o, 0) for o in bn.outputs[1:]):
        return False
    if int(bn.attrs.get("training_mode", 0)) or set(bn.attrs) - {"epsilon", "momentum", "training_mode"}:
        return False
    conv = rw.private_producer(ix, bn.inputs[0], "Conv")
    if conv is None:
        return False
    params = [ix.const(n) for n in bn.inputs[1:]]
    w = ix.const(conv.inputs[1])
    b = ix.const(conv.inputs[2]) if len(conv.inputs) > 2 and conv.inputs[2] else None
    has_bias = len(conv.inputs) > 2 and bool(conv.inputs[2])
    if w is None or (has_bias and b is None) or any(p is None for p in params) or w.dtype.kind != "f":
        return False
    scale, bias, mean, var = (p.astype(np.float64).reshape(-1) for p in params)  # type: ignore[union-attr]
    channels = w.shape[0]
    if any(t.size not in (1, channels) for t in (scale, bias, mean, var)):
        return False
    a = scale / np.sqrt(var + float(bn.attrs.get("epsilon", 1e-5)))
    new_w = (w.astype(np.float64) * a.reshape((-1,) + (1,) * (w.ndim - 1))).astype(w.dtype)
    old_b = np.zeros(channels) if b is None else b.astype(np.float64)
    new_b = ((old_b - mean) * a + bias).astype(w.dtype)
    base = conv.name or conv.outputs[0]
    w_name = rw.add_initializer(graph, f"{base}.bn_folded.weight", new_w)
    b_name = rw.add_initializer(graph, f"{base}.bn_folded.bias", np.broadcast_to(new_b, (channels,)))
    fused = ir.Node(
        "Conv",
        [conv.inputs[0], w_name, b_name],
        [bn.outputs[0]],
        dict(conv.attrs),
        rw.node_name(conv, "bn_folded"),
        conv.domain,
    )
    rw.replace(graph, bn, fused, dead=[conv], ix=ix)
    return True


def run(graph: ir.Graph) -> bool:
    ix = rw.Index(graph)  # matches never share nodes, so one index serves the whole sweep
    changed = False
    for bn in list(graph.nodes):
        if bn.op_type == "BatchNormalization" and bn.domain in ("", "ai.onnx"):
            changed |= _fold(ix, bn)
    return changed
