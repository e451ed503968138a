"""shape_folding: the Shape -> Gather -> Unsqueeze -> Concat -> Reshape chains exporters emit."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper
from passes_helpers import assert_same_outputs, model, ops, rand, run_level, run_pass, tensor

NAME = "shape_folding"


def test_static_shape_and_size_become_constants() -> None:
    m = model(
        [
            helper.make_node("Shape", ["x"], ["s"], start=1),
            helper.make_node("Size", ["x"], ["n"]),
            helper.make_node("Cast", ["s"], ["y"], to=1),
            helper.make_node("Cast", ["n"], ["z"], to=1),
        ],
        [tensor("x", [2, 3, 4])],
        [tensor("y", [2]), tensor("z", [])],
    )
    graph = run_pass(m, NAME)
    assert ops(graph) == ["Cast", "Cast"]
    np.testing.assert_array_equal(graph.initializers["s"], [3, 4])
    assert_same_outputs(m, graph, {"x": rand(2, 3, 4)})


def _batch_reshape_model() -> onnx.ModelProto:
    """x: [batch, 6] -> reshape to [batch, 2, 3] with the batch read from Shape(x) at run time."""
    return model(
        [
            helper.make_node("Shape", ["x"], ["s"]),
            helper.make_node("Gather", ["s", "i0"], ["b"], axis=0),
            helper.make_node("Gather", ["s", "i1"], ["f"], axis=0),
            helper.make_node("Div", ["f", "three"], ["two"]),
            helper.make_node("Unsqueeze", ["b", "ax"], ["b1"]),
            helper.make_node("Unsqueeze", ["two", "ax"], ["two1"]),
            helper.make_node("Concat", ["b1", "two1", "three1"], ["shape"], axis=0),
            helper.make_node("Reshape", ["x", "shape"], ["y"]),
        ],
        [tensor("x", ["batch", 6])],
        [tensor("y", ["batch", 2, 3])],
        {
            "i0": np.array(0),
            "i1": np.array(1),
            "three": np.array(3),
            "ax": np.array([0]),
            "three1": np.array([3]),
        },
    )


def test_partially_known_shape_folds_the_known_dimensions() -> None:
    m = _batch_reshape_model()
    graph = run_pass(m, NAME)
    assert "f" in graph.initializers and int(graph.initializers["f"]) == 6
    assert "b" not in graph.initializers  # the batch is not known before run time


def test_reshape_target_becomes_constant_and_the_chain_dies() -> None:
    m = _batch_reshape_model()
    graph = run_level(m, 1)
    assert ops(graph) == ["Reshape"]
    np.testing.assert_array_equal(graph.initializers[graph.nodes[0].inputs[1]], [0, 2, 3])
    for batch in (1, 3):
        assert_same_outputs(m, graph, {"x": rand(batch, 6)})


def test_single_unknown_piece_becomes_minus_one() -> None:
    m = model(
        [
            helper.make_node("Shape", ["n"], ["s"]),  # n's dim is unrelated to x's: only -1 can stand for it
            helper.make_node("Concat", ["s", "three1"], ["shape"], axis=0),
            helper.make_node("Reshape", ["x", "shape"], ["y"]),
        ],
        [tensor("x", ["batch", 6]), tensor("n", ["m"])],
        [tensor("y", ["m", 3])],
        {"three1": np.array([3])},
    )
    graph = run_level(m, 1)
    target = graph.initializers[graph.nodes[0].inputs[1]]
    np.testing.assert_array_equal(target, [-1, 3])
    assert_same_outputs(m, graph, {"x": rand(4, 6), "n": rand(8)})


def test_two_unknown_pieces_are_left_alone() -> None:
    m = model(
        [
            helper.make_node("Shape", ["n"], ["s"]),
            helper.make_node("Concat", ["s", "s"], ["shape"], axis=0),
            helper.make_node("Reshape", ["x", "shape"], ["y"]),
        ],
        [tensor("x", [4]), tensor("n", ["m"])],
        [tensor("y", ["m", "m"])],
    )
    graph = run_level(m, 1)
    assert ops(graph) == ["Shape", "Concat", "Reshape"]
