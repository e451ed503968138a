"""dead_code_elimination: unread nodes and initializers go; what subgraphs and outputs read stays."""

from __future__ import annotations

import numpy as np
from onnx import helper
from passes_helpers import assert_same_outputs, model, ops, rand, run_pass, tensor


def test_dead_chain_and_unused_initializers_are_removed() -> None:
    m = model(
        [
            helper.make_node("Relu", ["x"], ["y"]),
            helper.make_node("Mul", ["x", "w"], ["dead1"]),
            helper.make_node("Neg", ["dead1"], ["dead2"]),
        ],
        [tensor("x", [3])],
        [tensor("y", [3])],
        {"w": rand(3), "unused": rand(5)},
    )
    graph = run_pass(m, "dead_code_elimination")
    assert ops(graph) == ["Relu"]
    assert graph.initializers == {}
    assert_same_outputs(m, graph, {"x": rand(3)})


def test_values_read_only_inside_a_subgraph_are_kept() -> None:
    branch = helper.make_graph([helper.make_node("Neg", ["captured"], ["o"])], "b", [], [tensor("o", [3])])
    m = model(
        [
            helper.make_node("Abs", ["x"], ["captured"]),
            helper.make_node("If", ["cond"], ["y"], then_branch=branch, else_branch=branch),
        ],
        [tensor("x", [3]), tensor("cond", [], 9)],
        [tensor("y", [3])],
    )
    graph = run_pass(m, "dead_code_elimination")
    assert ops(graph) == ["Abs", "If"]
    assert_same_outputs(m, graph, {"x": rand(3), "cond": np.array(True)})


def test_node_with_one_used_output_is_kept() -> None:
    m = model(
        [helper.make_node("Split", ["x"], ["a", "b"], axis=0, num_outputs=2)],
        [tensor("x", [4])],
        [tensor("b", [2])],
    )
    graph = run_pass(m, "dead_code_elimination")
    assert ops(graph) == ["Split"]
    assert_same_outputs(m, graph, {"x": rand(4)})
