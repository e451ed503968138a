"""layer_norm_fusion: the decomposed LayerNorm becomes one LayerNormalization node."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper
from passes_helpers import assert_same_outputs, model, ops, rand, run_pass, tensor

NAME = "layer_norm_fusion"


def _layer_norm(opset: int, square: str = "Pow", affine: bool = True):
    reduce = (
        (lambda i, o: helper.make_node("ReduceMean", [i, "axes"], [o]))
        if opset >= 18
        else (lambda i, o: helper.make_node("ReduceMean", [i], [o], axes=[-1]))
    )
    nodes = [
        reduce("x", "m"),
        helper.make_node("Sub", ["x", "m"], ["d"]),
        helper.make_node("Pow", ["d", "two"], ["sq"])
        if square == "Pow"
        else helper.make_node("Mul", ["d", "d"], ["sq"]),
        reduce("sq", "v"),
        helper.make_node("Add", ["v", "eps"], ["ve"]),
        helper.make_node("Sqrt", ["ve"], ["sd"]),
        helper.make_node("Div", ["d", "sd"], ["n" if affine else "y"]),
    ]
    if affine:
        nodes += [
            helper.make_node("Mul", ["gamma", "n"], ["g"]),
            helper.make_node("Add", ["g", "beta"], ["y"]),
        ]
    weights = {
        "two": np.array(2.0, np.float32),
        "eps": np.array(1e-5, np.float32),
        "gamma": rand(8, seed=1),
        "beta": rand(8, seed=2),
    }
    if opset >= 18:
        weights["axes"] = np.array([-1])
    if not affine:
        del weights["gamma"], weights["beta"]
    return model(nodes, [tensor("x", ["batch", 3, 8])], [tensor("y", ["batch", 3, 8])], weights, opset=opset)


@pytest.mark.parametrize("square", ["Pow", "Mul"])
@pytest.mark.parametrize("affine", [True, False])
def test_decomposed_layer_norm_is_fused(square: str, affine: bool) -> None:
    m = _layer_norm(18, square, affine)
    graph = run_pass(m, NAME)
    assert ops(graph) == ["LayerNormalization"]
    assert graph.nodes[0].attrs == {"axis": -1, "epsilon": pytest.approx(1e-5)}
    assert_same_outputs(m, graph, {"x": rand(2, 3, 8) * 3 + 1}, rtol=1e-4, atol=1e-5)


def test_old_opset_gets_the_internal_operator() -> None:
    m = _layer_norm(13)
    graph = run_pass(m, NAME)
    assert ops(graph) == ["ai.ronn::LayerNormalization"]
    assert_same_outputs(m, graph, {"x": rand(2, 3, 8)}, rtol=1e-4, atol=1e-5)


def test_intermediate_read_elsewhere_blocks_the_fusion() -> None:
    m = _layer_norm(18)
    m.graph.output.append(tensor("v", ["batch", 3, 1]))
    assert "LayerNormalization" not in ops(run_pass(m, NAME))
