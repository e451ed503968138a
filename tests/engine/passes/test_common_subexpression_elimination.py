"""common_subexpression_elimination: equal nodes on equal inputs are computed once."""

from __future__ import annotations

from onnx import helper
from passes_helpers import assert_same_outputs, model, ops, rand, run_pass, tensor

CSE = "common_subexpression_elimination"


def test_repeated_chain_is_computed_once() -> None:
    m = model(
        [
            helper.make_node("Relu", ["x"], ["a1"]),
            helper.make_node("Relu", ["x"], ["a2"]),
            helper.make_node("Neg", ["a1"], ["b1"]),
            helper.make_node("Neg", ["a2"], ["b2"]),
            helper.make_node("Add", ["b1", "b2"], ["y"]),
        ],
        [tensor("x", [3])],
        [tensor("y", [3])],
    )
    graph = run_pass(m, CSE)
    assert ops(graph) == ["Relu", "Neg", "Add"]
    assert graph.nodes[-1].inputs == ["b1", "b1"]
    assert_same_outputs(m, graph, {"x": rand(3)})


def test_different_attributes_or_random_ops_are_not_merged() -> None:
    m = model(
        [
            helper.make_node("LeakyRelu", ["x"], ["a"], alpha=0.1),
            helper.make_node("LeakyRelu", ["x"], ["b"], alpha=0.2),
            helper.make_node("RandomNormalLike", ["x"], ["r1"]),
            helper.make_node("RandomNormalLike", ["x"], ["r2"]),
            helper.make_node("Sum", ["a", "b", "r1", "r2"], ["y"]),
        ],
        [tensor("x", [3])],
        [tensor("y", [3])],
    )
    assert len(run_pass(m, CSE).nodes) == 5


def test_duplicate_that_is_a_graph_output_keeps_its_name() -> None:
    m = model(
        [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Relu", ["x"], ["b"])],
        [tensor("x", [3])],
        [tensor("a", [3]), tensor("b", [3])],
    )
    graph = run_pass(m, CSE)
    assert graph.output_names == ["a", "b"] and len(graph.nodes) == 2
    assert_same_outputs(m, graph, {"x": rand(3)})
