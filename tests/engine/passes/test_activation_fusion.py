"""activation_fusion: Conv / Gemm / MatMul + activation become one ai.ronn node."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper
from passes_helpers import assert_same_outputs, model, ops, rand, run_pass, tensor

NAME = "activation_fusion"

ACTIVATIONS = [
    (helper.make_node("Relu", ["p"], ["y"]), "Relu"),
    (helper.make_node("Clip", ["p", "lo", "hi"], ["y"]), "Clip"),
    (helper.make_node("Clip", ["p", "", "hi"], ["y"]), "Clip"),
    (helper.make_node("Sigmoid", ["p"], ["y"]), "Sigmoid"),
    (helper.make_node("HardSwish", ["p"], ["y"]), "HardSwish"),
    (helper.make_node("Tanh", ["p"], ["y"]), "Tanh"),
    (helper.make_node("LeakyRelu", ["p"], ["y"], alpha=0.3), "LeakyRelu"),
    (helper.make_node("HardSigmoid", ["p"], ["y"], alpha=0.3, beta=0.4), "HardSigmoid"),
]
BOUNDS = {"lo": np.array(-0.5, np.float32), "hi": np.array(0.7, np.float32)}


@pytest.mark.parametrize(("act", "name"), ACTIVATIONS, ids=lambda v: v if isinstance(v, str) else "")
def test_conv_activation(act, name) -> None:
    m = model(
        [helper.make_node("Conv", ["x", "w", "b"], ["p"], pads=[1, 1, 1, 1]), act],
        [tensor("x", [1, 2, 4, 4])],
        [tensor("y", [1, 3, 4, 4])],
        {"w": rand(3, 2, 3, 3), "b": rand(3, seed=1), **BOUNDS},
    )
    graph = run_pass(m, NAME)
    assert ops(graph) == ["ai.ronn::FusedConv"] and graph.nodes[0].attrs["activation"] == name
    assert_same_outputs(m, graph, {"x": rand(1, 2, 4, 4)})


@pytest.mark.parametrize(("act", "name"), ACTIVATIONS, ids=lambda v: v if isinstance(v, str) else "")
def test_gemm_activation(act, name) -> None:
    m = model(
        [helper.make_node("Gemm", ["x", "w", "b"], ["p"], transB=1, alpha=0.5), act],
        [tensor("x", [2, 4])],
        [tensor("y", [2, 3])],
        {"w": rand(3, 4), "b": rand(3, seed=1), **BOUNDS},
    )
    graph = run_pass(m, NAME)
    assert ops(graph) == ["ai.ronn::FusedGemm"]
    assert_same_outputs(m, graph, {"x": rand(2, 4)})


def test_matmul_bias_gelu_chain_becomes_one_node() -> None:
    m = model(
        [
            helper.make_node("MatMul", ["x", "w"], ["mm"]),
            helper.make_node("Add", ["mm", "b"], ["p"]),
            helper.make_node("Relu", ["p"], ["y"]),
        ],
        [tensor("x", [2, 3, 4])],
        [tensor("y", [2, 3, 5])],
        {"w": rand(4, 5), "b": rand(5, seed=1)},
    )
    graph = run_pass(m, "matmul_add_fusion", NAME)
    assert ops(graph) == ["ai.ronn::FusedMatMul"]
    assert_same_outputs(m, graph, {"x": rand(2, 3, 4)})


def test_non_constant_clip_bound_and_shared_producer_are_not_fused() -> None:
    m = model(
        [
            helper.make_node("Conv", ["x", "w"], ["p"]),
            helper.make_node("Clip", ["p", "lo_in"], ["y"]),
            helper.make_node("Gemm", ["a", "v"], ["g"]),
            helper.make_node("Relu", ["g"], ["z"]),
        ],
        [tensor("x", [1, 2, 3, 3]), tensor("lo_in", []), tensor("a", [2, 2])],
        [tensor("y", [1, 3, 1, 1]), tensor("z", [2, 2]), tensor("g", [2, 2])],
        {"w": rand(3, 2, 3, 3), "v": rand(2, 2)},
    )
    assert ops(run_pass(m, NAME)) == ["Conv", "Clip", "Gemm", "Relu"]
