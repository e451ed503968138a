"""Per-node profiling: SessionOptions.enable_profiling / start_profiling, get_profile, end_profiling's trace."""

from __future__ import annotations

import json

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from engine.options import GraphOptimizationLevel, SessionOptions
from engine.session import InferenceSession


def model() -> bytes:
    w = np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
         helper.make_node("Softmax", ["r"], ["y"], axis=-1)],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])], [numpy_helper.from_array(w, "w")],
    )  # fmt: skip
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def test_profile_per_node_and_trace(tmp_path) -> None:
    options = SessionOptions()
    options.enable_profiling = True
    options.graph_optimization_level = GraphOptimizationLevel.ORT_DISABLE_ALL
    session = InferenceSession(model(), options)
    x = np.random.default_rng(1).normal(size=(3, 8)).astype(np.float32)
    plain = InferenceSession(model()).run(None, {"x": x})[0]
    for _ in range(4):
        np.testing.assert_allclose(session.run(None, {"x": x})[0], plain, rtol=1e-6)
    profile = session.get_profile()
    assert profile.runs == 4
    assert [n.op_type for n in profile.nodes] == ["MatMul", "Relu", "Softmax"]
    assert all(n.calls == 4 and n.total_ms >= 0 for n in profile.nodes)
    assert profile.run_ms >= profile.kernel_ms >= 0
    assert {op for op, _, _ in profile.by_op()} == {"MatMul", "Relu", "Softmax"}
    assert "| Softmax | 1 |" in profile.table()
    path = session.end_profiling(str(tmp_path / "trace.json"))
    events = json.loads(open(path).read())
    assert sum(e["cat"] == "Node" for e in events) == 12
    assert {e["args"]["op_name"] for e in events if e["cat"] == "Node"} == {"MatMul", "Relu", "Softmax"}
    assert session.get_profile() is None and session.end_profiling() == ""
    session.run(None, {"x": x})  # profiling off again: plain runs


def test_start_profiling_later() -> None:
    session = InferenceSession(model())
    assert session.get_profile() is None
    session.start_profiling()
    try:
        session.run(None, {"x": np.ones((2, 8), np.float32)})
    finally:
        profile = session.get_profile()
    assert profile.runs == 1 and len(profile.nodes) == len(session.graph.nodes)
