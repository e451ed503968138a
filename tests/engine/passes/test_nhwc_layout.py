"""nhwc_layout: depthwise / 1x1 convolution chains become channels-last ai.ronn::NhwcConv nodes."""

from __future__ import annotations

import numpy as np
from onnx import helper
from passes_helpers import assert_same_outputs, model, ops, rand, run_level, run_pass, tensor

NAME = "nhwc_layout"
CLIP = {"lo": np.array(0, np.float32), "hi": np.array(6, np.float32)}


def _block_model(extra_output: bool = False):  # type: ignore[no-untyped-def]
    """stem 3x3/2 -> [1x1 expand, depthwise 3x3, 1x1 project] + residual -> mean: a MobileNetV2 block."""
    nodes = [
        helper.make_node("Conv", ["x", "w0", "b0"], ["s"], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Clip", ["s", "lo", "hi"], ["s6"]),
        helper.make_node("Conv", ["s6", "w1", "b1"], ["e"]),
        helper.make_node("Clip", ["e", "lo", "hi"], ["e6"]),
        helper.make_node("Conv", ["e6", "w2", "b2"], ["d"], group=12, pads=[1, 1, 1, 1]),
        helper.make_node("Clip", ["d", "lo", "hi"], ["d6"]),
        helper.make_node("Conv", ["d6", "w3"], ["p"]),
        helper.make_node("Add", ["s6", "p"], ["r"]),
        helper.make_node("ReduceMean", ["r", "axes"], ["y"], keepdims=0),
    ]
    weights = {"w0": rand(4, 3, 3, 3), "b0": rand(4, seed=1), "w1": rand(12, 4, 1, 1, seed=2),
               "b1": rand(12, seed=3), "w2": rand(12, 1, 3, 3, seed=4), "b2": rand(12, seed=5),
               "w3": rand(4, 12, 1, 1, seed=6), "axes": np.array([2, 3], np.int64), **CLIP}
    outputs = [tensor("y", [1, 4])] + ([tensor("d6", [1, 12, 5, 5])] if extra_output else [])
    return model(nodes, [tensor("x", [1, 3, 10, 10])], outputs, weights)


def test_block_runs_channels_last_with_one_transpose() -> None:
    m = _block_model()
    graph = run_pass(m, "activation_fusion", NAME)
    assert ops(graph).count("ai.ronn::NhwcConv") == 4
    assert ops(graph).count("Transpose") == 1  # before the mean: the stem reads NCHW, the Add runs NHWC
    stem = graph.nodes[0]
    assert stem.op_type == "NhwcConv" and stem.attrs["nchw_input"] == 1
    assert_same_outputs(m, graph, {"x": rand(1, 3, 10, 10, seed=7)}, rtol=1e-4, atol=1e-5)


def test_intermediate_graph_output_keeps_its_name_and_layout() -> None:
    m = _block_model(extra_output=True)
    graph = run_pass(m, "activation_fusion", NAME)
    assert "d6" in graph.output_names and any(n.outputs == ["d6"] and n.op_type == "Transpose" for n in graph.nodes)
    assert_same_outputs(m, graph, {"x": rand(1, 3, 10, 10, seed=8)}, rtol=1e-4, atol=1e-5)


def test_isolated_pointwise_conv_stays_nchw() -> None:
    m = model([helper.make_node("Conv", ["x", "w", "b"], ["y"])], [tensor("x", [1, 3, 4, 4])],
              [tensor("y", [1, 5, 4, 4])], {"w": rand(5, 3, 1, 1), "b": rand(5, seed=1)})
    graph = run_pass(m, NAME)
    assert ops(graph) == ["Conv"]
    assert_same_outputs(m, graph, {"x": rand(1, 3, 4, 4, seed=2)})


def test_lone_depthwise_conv_is_wrapped() -> None:
    m = model([helper.make_node("Conv", ["x", "w"], ["y"], group=6, pads=[1, 1, 1, 1], strides=[2, 2])],
              [tensor("x", [2, 6, 7, 7])], [tensor("y", [2, 6, 4, 4])], {"w": rand(6, 1, 3, 3)})
    graph = run_pass(m, NAME)
    assert ops(graph) == ["Transpose", "ai.ronn::NhwcConv", "Transpose"]
    assert_same_outputs(m, graph, {"x": rand(2, 6, 7, 7, seed=3)})


def test_regular_conv_is_left_alone() -> None:
    m = model([helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])], [tensor("x", [1, 3, 5, 5])],
              [tensor("y", [1, 4, 5, 5])], {"w": rand(4, 3, 3, 3)})
    assert ops(run_pass(m, NAME)) == ["Conv"]


def test_level_3_matches_o0() -> None:
    m = _block_model(extra_output=True)
    graph = run_level(m, 3)
    assert "ai.ronn::NhwcConv" in ops(graph)
    assert_same_outputs(m, graph, {"x": rand(1, 3, 10, 10, seed=9)}, rtol=1e-4, atol=1e-5)
