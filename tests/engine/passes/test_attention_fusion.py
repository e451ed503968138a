"""attention_fusion: MatMul -> scale -> mask -> Softmax -> MatMul becomes ai.ronn::FusedAttention."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper
from passes_helpers import assert_same_outputs, model, ops, rand, run_pass, tensor

NAME = "attention_fusion"
mk = helper.make_node
SHAPES = {"q": [2, 3, 4, 8], "kt": [2, 3, 8, 5], "v": [2, 3, 5, 8]}


def _model(scale: str | None, mask: str | None):
    nodes = [mk("MatMul", ["q", "kt"], ["s0"])]
    last = "s0"
    if scale:
        nodes.append(mk(scale, ["s0", "c"], ["s1"]))
        last = "s1"
    inputs = [tensor(n, s) for n, s in SHAPES.items()]
    if mask == "add":
        nodes.append(mk("Add", ["mask", last], ["s2"]))
        inputs.append(tensor("mask", [2, 1, 1, 5]))
        last = "s2"
    elif mask == "where":
        nodes.append(mk("Where", ["keep", last, "fill"], ["s2"]))
        inputs.append(tensor("keep", [4, 5], TensorProto.BOOL))
        last = "s2"
    nodes += [mk("Softmax", [last], ["p"], axis=-1), mk("MatMul", ["p", "v"], ["y"])]
    weights = {"c": np.array(0.35, np.float32), "fill": np.array(-1e9, np.float32)}
    return model(nodes, inputs, [tensor("y", [2, 3, 4, 8])], weights)


def _feeds() -> dict[str, np.ndarray]:
    feeds = {n: rand(*s, seed=i) for i, (n, s) in enumerate(SHAPES.items())}
    feeds["mask"] = np.where(rand(2, 1, 1, 5, seed=9) > 0, 0, -1e4).astype(np.float32)
    feeds["keep"] = np.tril(np.ones((4, 5), bool))
    return feeds


@pytest.mark.parametrize("scale", [None, "Mul", "Div"])
@pytest.mark.parametrize("mask", [None, "add", "where"])
def test_attention_is_fused(scale: str | None, mask: str | None) -> None:
    m = _model(scale, mask)
    graph = run_pass(m, NAME)
    assert ops(graph) == ["ai.ronn::FusedAttention"]
    attrs = graph.nodes[0].attrs
    assert attrs["mask_mode"] == (mask or "none")
    assert attrs.get("scale", 1.0) == pytest.approx({None: 1.0, "Mul": 0.35, "Div": 1 / 0.35}[scale])
    feeds = {k: v for k, v in _feeds().items() if k in {i.name for i in m.graph.input}}
    assert_same_outputs(m, graph, feeds, rtol=1e-5, atol=1e-6)


def test_softmax_over_another_axis_is_not_fused() -> None:
    m = _model("Mul", "add")
    for node in m.graph.node:
        if node.op_type == "Softmax":
            node.attribute[0].i = 2
    assert "ai.ronn::FusedAttention" not in ops(run_pass(m, NAME))


def test_scores_read_elsewhere_are_not_fused() -> None:
    m = _model("Mul", None)
    m.graph.output.append(tensor("s1", [2, 3, 4, 5]))
    assert "ai.ronn::FusedAttention" not in ops(run_pass(m, NAME))
