"""The flat execution plan: intermediates are freed after their last reader, broken graphs are refused."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

from engine import ir
from engine.errors import ExecutionError, ModelError
from engine.loader import load_model
from engine.plan import Plan


def chain_graph() -> ir.Graph:
    nodes = [
        helper.make_node("Relu", ["x"], ["a"]),
        helper.make_node("Neg", ["a"], ["b"]),
        helper.make_node("Add", ["a", "b"], ["c"]),   # last reader of a and b
        helper.make_node("Exp", ["c"], ["d"]),
        helper.make_node("Mul", ["d", "x"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "chain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3]),
         helper.make_tensor_value_info("c", TensorProto.FLOAT, [3])],
    )
    return load_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))


def test_every_intermediate_is_freed_right_after_its_last_reader() -> None:
    plan = Plan(chain_graph())
    freed_at = {s: i for i, step in enumerate(plan.steps) for s in step.frees}
    slot = plan.slot_of
    assert freed_at[slot["a"]] == 2 and freed_at[slot["b"]] == 2
    assert freed_at[slot["d"]] == 4 and freed_at[slot["x"]] == 4
    assert slot["c"] not in freed_at and slot["y"] not in freed_at  # graph outputs stay


def test_execute_matches_numpy_and_reruns_independently() -> None:
    plan = Plan(chain_graph())
    x = np.array([-1.0, 0.5, 2.0], np.float32)
    for _ in range(2):
        y, c = plan.execute([x])
        a = np.maximum(x, 0)
        np.testing.assert_allclose(c, a - a)
        np.testing.assert_allclose(y, np.exp(a - a) * x)


def test_reading_an_undefined_value_is_a_model_error() -> None:
    graph = helper.make_graph(
        [helper.make_node("Relu", ["nowhere"], ["y"], name="r")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(ModelError, match="'nowhere'"):
        Plan(load_model(model, check=False, infer_shapes=False))


def test_unknown_attribute_is_refused_when_compiling() -> None:
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"], name="r", bogus=3)], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(ModelError, match="bogus"):
        Plan(load_model(model, check=False, infer_shapes=False))


def test_kernel_failure_names_the_node() -> None:
    graph = helper.make_graph(
        [helper.make_node("Reshape", ["x", "shape"], ["y"], name="bad_reshape")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [6]),
         helper.make_tensor_value_info("shape", TensorProto.INT64, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, None])],
    )
    plan = Plan(load_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])))
    with pytest.raises(ExecutionError, match="bad_reshape.*Reshape"):
        plan.execute([np.zeros(6, np.float32), np.array([4, 4], np.int64)])
