"""identity_elimination: nodes that pass their input through disappear; graph output names stay."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper
from passes_helpers import assert_same_outputs, model, ops, rand, run_pass, tensor

NAME = "identity_elimination"


@pytest.mark.parametrize(
    "node",
    [
        helper.make_node("Identity", ["h"], ["p"]),
        helper.make_node("Dropout", ["h"], ["p"]),
        helper.make_node("Dropout", ["h", "ratio", "off"], ["p"]),
        helper.make_node("Cast", ["h"], ["p"], to=TensorProto.FLOAT),
        helper.make_node("Reshape", ["h", "same"], ["p"]),
        helper.make_node("Reshape", ["h", "copy"], ["p"]),
        helper.make_node("Transpose", ["h"], ["p"], perm=[0, 1]),
        helper.make_node("Expand", ["h", "ones"], ["p"]),
    ],
    ids=lambda n: n.op_type + str(len(n.input)),
)
def test_pass_through_node_is_removed(node) -> None:
    weights = {
        "ratio": np.array(0.5, np.float32),
        "off": np.array(False),
        "same": np.array([2, 3]),
        "copy": np.array([0, -1]),
        "ones": np.array([1, 1]),
    }
    m = model(
        [helper.make_node("Relu", ["x"], ["h"]), node, helper.make_node("Neg", ["p"], ["y"])],
        [tensor("x", [2, 3])],
        [tensor("y", [2, 3])],
        weights,
    )
    graph = run_pass(m, NAME)
    assert ops(graph) == ["Relu", "Neg"]
    assert_same_outputs(m, graph, {"x": rand(2, 3)})


def test_output_of_removed_node_that_is_a_graph_output_renames_its_producer() -> None:
    m = model(
        [helper.make_node("Relu", ["x"], ["h"]), helper.make_node("Identity", ["h"], ["y"])],
        [tensor("x", [3])],
        [tensor("y", [3])],
    )
    graph = run_pass(m, NAME)
    assert ops(graph) == ["Relu"] and graph.nodes[0].outputs == ["y"]
    assert_same_outputs(m, graph, {"x": rand(3)})


def test_identity_between_graph_input_and_output_is_kept() -> None:
    m = model([helper.make_node("Identity", ["x"], ["y"])], [tensor("x", [3])], [tensor("y", [3])])
    assert ops(run_pass(m, NAME)) == ["Identity"]


def test_identity_whose_input_is_also_an_output_is_kept() -> None:
    m = model(
        [helper.make_node("Relu", ["x"], ["h"]), helper.make_node("Identity", ["h"], ["y"])],
        [tensor("x", [3])],
        [tensor("h", [3]), tensor("y", [3])],
    )
    graph = run_pass(m, NAME)
    assert ops(graph) == ["Relu", "Identity"]
    assert_same_outputs(m, graph, {"x": rand(3)})


@pytest.mark.parametrize(
    ("node", "out"),
    [
        (helper.make_node("Dropout", ["h", "ratio", "on"], ["p"], seed=3), tensor("p", [2, 3])),
        (
            helper.make_node("Cast", ["h"], ["p"], to=TensorProto.DOUBLE),
            tensor("p", [2, 3], TensorProto.DOUBLE),
        ),
        (helper.make_node("Reshape", ["h", "other"], ["p"]), tensor("p", [3, 2])),
        (helper.make_node("Transpose", ["h"], ["p"], perm=[1, 0]), tensor("p", [3, 2])),
    ],
    ids=lambda n: getattr(n, "op_type", ""),
)
def test_nodes_that_change_their_input_are_kept(node, out) -> None:
    weights = {"ratio": np.array(0.5, np.float32), "on": np.array(True), "other": np.array([3, 2])}
    m = model([helper.make_node("Relu", ["x"], ["h"]), node], [tensor("x", [2, 3])], [out], weights)
    assert len(run_pass(m, NAME).nodes) == 2


def test_dropout_whose_mask_is_read_is_kept() -> None:
    m = model(
        [helper.make_node("Dropout", ["x"], ["y", "mask"])],
        [tensor("x", [3])],
        [tensor("y", [3]), tensor("mask", [3], TensorProto.BOOL)],
    )
    assert ops(run_pass(m, NAME)) == ["Dropout"]
