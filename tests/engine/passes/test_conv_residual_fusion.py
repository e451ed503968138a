"""conv_residual_fusion: Conv -> Add(residual) [-> activation] becomes one FusedConv with a Z input."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper
from passes_helpers import assert_same_outputs, model, ops, rand, run_level, run_pass, tensor

NAME = "conv_residual_fusion"


def _block(act: list, add_inputs: tuple[str, str] = ("p", "r"), bias: bool = True, out: str = "y"):
    conv = helper.make_node("Conv", ["x", "w", "b"] if bias else ["x", "w"], ["p"], pads=[1, 1, 1, 1])
    add = helper.make_node("Add", list(add_inputs), ["s" if act else out])
    weights = {
        "w": rand(3, 2, 3, 3),
        "b": rand(3, seed=1),
        "lo": np.array(-0.5, np.float32),
        "hi": np.array(0.7, np.float32),
    }
    return model(
        [conv, add, *act],
        [tensor("x", ["N", 2, 5, 5]), tensor("r", ["N", 3, 5, 5])],
        [tensor(out, ["N", 3, 5, 5])],
        weights,
    )


FEEDS = {"x": rand(2, 2, 5, 5, seed=2), "r": rand(2, 3, 5, 5, seed=3)}


@pytest.mark.parametrize("order", [("p", "r"), ("r", "p")])
@pytest.mark.parametrize("bias", [True, False])
def test_conv_add_relu_becomes_one_node(order, bias) -> None:
    m = _block([helper.make_node("Relu", ["s"], ["y"])], order, bias)
    graph = run_pass(m, NAME)
    assert ops(graph) == ["ai.ronn::FusedConv"]
    node = graph.nodes[0]
    assert node.attrs["activation"] == "Relu" and node.inputs[3] == "r" and len(node.inputs) == 4
    assert node.inputs[2] == ("b" if bias else "")
    assert_same_outputs(m, graph, FEEDS)


def test_conv_add_clip_and_plain_add() -> None:
    m = _block([helper.make_node("Clip", ["s", "lo", "hi"], ["y"])])
    graph = run_pass(m, NAME)
    assert ops(graph) == ["ai.ronn::FusedConv"] and np.allclose(graph.nodes[0].attrs["activation_params"], [-0.5, 0.7])
    assert_same_outputs(m, graph, FEEDS)
    m = _block([])
    graph = run_pass(m, NAME)
    assert ops(graph) == ["ai.ronn::FusedConv"] and not graph.nodes[0].attrs.get("activation")
    assert_same_outputs(m, graph, FEEDS)


def test_unfused_activation_after_add_stays() -> None:
    m = _block([helper.make_node("Softmax", ["s"], ["y"])])
    graph = run_pass(m, NAME)
    assert ops(graph) == ["ai.ronn::FusedConv", "Softmax"]
    assert_same_outputs(m, graph, FEEDS)


def test_broadcast_residual_is_not_fused() -> None:
    conv = helper.make_node("Conv", ["x", "w"], ["p"], pads=[1, 1, 1, 1])
    add = helper.make_node("Add", ["p", "r"], ["y"])
    m = model(
        [conv, add],
        [tensor("x", [1, 2, 5, 5]), tensor("r", [1, 3, 1, 1])],
        [tensor("y", [1, 3, 5, 5])],
        {"w": rand(3, 2, 3, 3)},
    )
    assert ops(run_pass(m, NAME)) == ["Conv", "Add"]


def test_conv_read_elsewhere_or_activated_is_not_fused() -> None:
    conv = helper.make_node("Conv", ["x", "w"], ["p"], pads=[1, 1, 1, 1])
    add = helper.make_node("Add", ["p", "r"], ["y"])
    relu = helper.make_node("Relu", ["p"], ["y2"])
    io = (
        [tensor("x", [1, 2, 5, 5]), tensor("r", [1, 3, 5, 5])],
        [tensor("y", [1, 3, 5, 5]), tensor("y2", [1, 3, 5, 5])],
    )
    m = model([conv, add, relu], *io, {"w": rand(3, 2, 3, 3)})
    assert ops(run_pass(m, NAME)) == ["Conv", "Add", "Relu"]
    # an activation already fused into the conv: act(conv) + r is not act(conv + r)
    m = model(
        [conv, helper.make_node("Relu", ["p"], ["q"]), helper.make_node("Add", ["q", "r"], ["y"])],
        io[0],
        [tensor("y", [1, 3, 5, 5])],
        {"w": rand(3, 2, 3, 3)},
    )
    graph = run_pass(m, "activation_fusion", NAME)
    assert ops(graph) == ["ai.ronn::FusedConv", "Add"]
    assert_same_outputs(m, graph, {"x": rand(1, 2, 5, 5), "r": rand(1, 3, 5, 5, seed=1)})


def test_sum_read_twice_keeps_the_activation_separate() -> None:
    conv = helper.make_node("Conv", ["x", "w"], ["p"], pads=[1, 1, 1, 1])
    nodes = [
        conv,
        helper.make_node("Add", ["p", "r"], ["s"]),
        helper.make_node("Relu", ["s"], ["y"]),
        helper.make_node("Neg", ["s"], ["y2"]),
    ]
    m = model(
        nodes,
        [tensor("x", [1, 2, 5, 5]), tensor("r", [1, 3, 5, 5])],
        [tensor("y", [1, 3, 5, 5]), tensor("y2", [1, 3, 5, 5])],
        {"w": rand(3, 2, 3, 3)},
    )
    graph = run_pass(m, NAME)
    assert ops(graph) == ["ai.ronn::FusedConv", "Relu", "Neg"]
    assert_same_outputs(m, graph, {"x": rand(1, 2, 5, 5), "r": rand(1, 3, 5, 5, seed=1)})


def test_resnet_block_at_o3() -> None:
    """conv-relu-conv-add(identity)-relu: the level pipeline fuses both convolutions' epilogues."""
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["h"]),
        helper.make_node("Conv", ["h", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["c2", "x"], ["s"]),
        helper.make_node("Relu", ["s"], ["y"]),
    ]
    m = model(
        nodes,
        [tensor("x", [1, 4, 30, 30])],
        [tensor("y", [1, 4, 30, 30])],
        {"w1": rand(4, 4, 3, 3), "b1": rand(4, seed=1), "w2": rand(4, 4, 3, 3, seed=2), "b2": rand(4, seed=3)},
    )
    graph = run_level(m, 3)
    assert ops(graph) == ["ai.ronn::FusedConv", "ai.ronn::FusedConv"]
    assert len(graph.nodes[1].inputs) == 4
    assert_same_outputs(m, graph, {"x": rand(1, 4, 30, 30, seed=4)}, rtol=1e-4, atol=1e-5)
    assert ops(run_level(m, 3, disabled=[NAME])) == ["ai.ronn::FusedConv", "Conv", "Add", "Relu"]
