"""matmul_add_fusion: MatMul + bias becomes Gemm (2-D) or ai.ronn::FusedMatMul (N-D)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import helper
from passes_helpers import assert_same_outputs, model, ops, rand, run_pass, tensor

NAME = "matmul_add_fusion"


def _model(a_shape, bias_shape, swap: bool = False, n: int = 5):
    add_inputs = ["bias", "mm"] if swap else ["mm", "bias"]
    out_shape = [*a_shape[:-1], n]
    return model(
        [helper.make_node("MatMul", ["a", "w"], ["mm"]), helper.make_node("Add", add_inputs, ["y"])],
        [tensor("a", a_shape)],
        [tensor("y", out_shape)],
        {"w": rand(a_shape[-1], n), "bias": rand(*bias_shape, seed=3)},
    )


def test_2d_becomes_gemm() -> None:
    m = _model([3, 4], [5], swap=True)
    graph = run_pass(m, NAME)
    assert ops(graph) == ["Gemm"]
    assert_same_outputs(m, graph, {"a": rand(3, 4)})


def test_nd_becomes_fused_matmul() -> None:
    m = _model(["batch", 7, 4], [5])
    graph = run_pass(m, NAME)
    assert ops(graph) == ["ai.ronn::FusedMatMul"]
    assert graph.opsets["ai.ronn"] == 1
    for batch in (1, 2):
        assert_same_outputs(m, graph, {"a": rand(batch, 7, 4)})


def test_bias_over_other_axes_is_not_fused_for_nd() -> None:
    m = _model([2, 7, 4], [7, 5])
    assert ops(run_pass(m, NAME)) == ["MatMul", "Add"]


def test_matmul_read_elsewhere_is_not_fused() -> None:
    m = model(
        [helper.make_node("MatMul", ["a", "w"], ["mm"]), helper.make_node("Add", ["mm", "bias"], ["y"])],
        [tensor("a", [3, 4])],
        [tensor("y", [3, 5]), tensor("mm", [3, 5])],
        {"w": rand(4, 5), "bias": rand(5)},
    )
    assert ops(run_pass(m, NAME)) == ["MatMul", "Add"]


@settings(max_examples=15, deadline=None)
@given(
    lead=st.lists(st.integers(1, 3), min_size=0, max_size=2),
    k=st.integers(1, 6),
    n=st.integers(1, 6),
    bias_rank=st.integers(0, 2),
)
def test_fused_result_matches_for_any_shapes(lead: list[int], k: int, n: int, bias_rank: int) -> None:
    a_shape = [*lead, 3, k]
    bias_shape = [1] * max(bias_rank - 1, 0) + [n] if bias_rank else []
    m = _model(a_shape, bias_shape, n=n)
    graph = run_pass(m, NAME)
    assert_same_outputs(m, graph, {"a": rand(*a_shape)})
    assert len(graph.nodes) == 1 or np.prod(bias_shape) != n
