"""constant_folding: constant subgraphs become initializers, computed by the nodes' own kernels."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper
from passes_helpers import assert_same_outputs, model, ops, rand, run_pass, tensor

from engine.loader import load_model
from engine.passes import constant_folding


def test_folds_weight_transpose_and_constant_arithmetic() -> None:
    w = rand(4, 3)
    m = model(
        [
            helper.make_node("Transpose", ["w"], ["wt"], perm=[1, 0]),
            helper.make_node(
                "Constant", [], ["two"], value=helper.make_tensor("v", TensorProto.FLOAT, [], [2.0])
            ),
            helper.make_node("Mul", ["wt", "two"], ["w2"]),
            helper.make_node("MatMul", ["x", "w2"], ["y"]),
        ],
        [tensor("x", [2, 3])],
        [tensor("y", [2, 4])],
        {"w": w},
    )
    graph = run_pass(m, "constant_folding")
    assert ops(graph) == ["MatMul"]
    np.testing.assert_array_equal(graph.initializers["w2"], w.T * 2)
    assert graph.initializers["w2"].flags.c_contiguous
    assert_same_outputs(m, graph, {"x": rand(2, 3)})


def test_folded_value_that_is_a_graph_output_keeps_its_name() -> None:
    m = model([helper.make_node("Neg", ["c"], ["y"])], [], [tensor("y", [2])], {"c": np.ones(2, np.float32)})
    graph = run_pass(m, "constant_folding")
    assert graph.nodes == [] and "y" in graph.initializers
    assert_same_outputs(m, graph, {})


def test_size_cap_keeps_huge_results_unmaterialized(monkeypatch) -> None:
    monkeypatch.setattr(constant_folding, "MAX_FOLDED_ELEMENTS", 100)
    m = model(
        [
            helper.make_node("ConstantOfShape", ["shape"], ["big"]),
            helper.make_node("Add", ["x", "big"], ["y"]),
        ],
        [tensor("x", [20, 20])],
        [tensor("y", [20, 20])],
        {"shape": np.array([20, 20], np.int64)},
    )
    graph = run_pass(m, "constant_folding")
    assert "ConstantOfShape" in ops(graph) and "big" not in graph.initializers
    assert_same_outputs(m, graph, {"x": rand(20, 20)})


def test_result_no_larger_than_its_inputs_is_folded_above_the_cap(monkeypatch) -> None:
    monkeypatch.setattr(constant_folding, "MAX_FOLDED_ELEMENTS", 10)
    m = model(
        [helper.make_node("Neg", ["c"], ["n"]), helper.make_node("Add", ["x", "n"], ["y"])],
        [tensor("x", [64])],
        [tensor("y", [64])],
        {"c": rand(64)},
    )
    assert ops(run_pass(m, "constant_folding")) == ["Add"]


def test_random_and_subgraph_nodes_are_not_folded() -> None:
    branch = helper.make_graph([helper.make_node("Identity", ["c"], ["o"])], "b", [], [tensor("o", [2])])
    m = model(
        [
            helper.make_node("RandomUniformLike", ["c"], ["r"], seed=1.0),
            helper.make_node("If", ["cond"], ["i"], then_branch=branch, else_branch=branch),
            helper.make_node("Add", ["r", "i"], ["y"]),
        ],
        [],
        [tensor("y", [2])],
        {"c": np.ones(2, np.float32), "cond": np.array(True)},
    )
    assert ops(run_pass(m, "constant_folding")) == ["RandomUniformLike", "If", "Add"]


def test_kernel_failure_is_left_for_the_session_to_report() -> None:
    m = model(
        [helper.make_node("Reshape", ["c", "shape"], ["r"]), helper.make_node("Add", ["x", "r"], ["y"])],
        [tensor("x", [3])],
        [tensor("y", [3])],
        {"c": np.ones(3, np.float32), "shape": np.array([5], np.int64)},
    )
    graph = load_model(m, check=False, infer_shapes=False)
    assert constant_folding.run(graph) is False
    assert ops(graph) == ["Reshape", "Add"]
