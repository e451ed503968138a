"""ternarize: which layers it rewrites, and that the BitNet provider and the CPU reference agree."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from engine.quantize import DOMAIN, QuantizedLayer, ternarize
from engine.session import InferenceSession


def _w(*shape: int, seed: int = 7) -> np.ndarray:
    return np.random.default_rng([seed, *shape]).standard_normal(shape).astype(np.float32)


def dense_model() -> onnx.ModelProto:
    """MatMul, Gemm (transB, alpha, beta, bias), a 1x1 Conv with stride, and a 3x3 Conv that must stay
    float."""
    inits = {
        "w1": _w(32, 48), "w2": _w(24, 48), "c2": _w(24),
        "wc": _w(8, 3, 1, 1), "bc": _w(8), "w3": _w(4, 8, 3, 3),
    }
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h1"], name="mm"),
        helper.make_node("Relu", ["h1"], ["r1"]),
        helper.make_node("Gemm", ["r1", "w2", "c2"], ["y"], name="gemm", transB=1, alpha=0.5, beta=2.0),
        helper.make_node("Conv", ["img", "wc", "bc"], ["c1"], name="conv1x1", strides=[2, 2]),
        helper.make_node("Conv", ["c1", "w3"], ["z"], name="conv3x3", pads=[1, 1, 1, 1]),
    ]
    graph = helper.make_graph(
        nodes, "dense",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 32]),
         helper.make_tensor_value_info("img", TensorProto.FLOAT, [2, 3, 6, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 24]),
         helper.make_tensor_value_info("z", TensorProto.FLOAT, [2, 4, 3, 3])],
        [numpy_helper.from_array(v, k) for k, v in inits.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


FEEDS = {"x": _w(3, 32, seed=1), "img": _w(2, 3, 6, 6, seed=1)}


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a.ravel() @ b.ravel() / np.linalg.norm(a) / np.linalg.norm(b))


@pytest.mark.parametrize("mode", ["ternary", "binary"])
def test_rewrites_dense_layers_and_providers_agree(mode: str) -> None:
    report: list[QuantizedLayer] = []
    graph = ternarize(dense_model(), mode=mode, report=report)
    assert [(r.node, r.op_type, r.shape) for r in report] == [
        ("mm", "MatMul", (48, 32)), ("gemm", "Gemm", (24, 48)), ("conv1x1", "Conv", (8, 3))]
    ops = {(n.domain, n.op_type) for n in graph.nodes}
    assert {(DOMAIN, "TernaryMatMul"), (DOMAIN, "TernaryConv"), ("", "Conv")} <= ops
    assert not {"w1", "w2", "wc"} & set(graph.initializers)  # float weights of rewritten layers are gone

    bitnet = InferenceSession(graph)
    assert bitnet.get_providers() == ["BitNetExecutionProvider", "CPUExecutionProvider"]
    placed = {a.node: a.provider for a in bitnet.node_providers()}
    assert placed["mm"] == placed["gemm"] == placed["conv1x1"] == "BitNetExecutionProvider"
    assert placed["conv3x3"] == "CPUExecutionProvider"
    cpu = InferenceSession(graph, providers=["CPUExecutionProvider"])
    assert {a.provider for a in cpu.node_providers()} == {"CPUExecutionProvider"}
    fast, reference = bitnet.run(None, FEEDS), cpu.run(None, FEEDS)
    for a, b in zip(fast, reference, strict=True):
        np.testing.assert_array_equal(a, b)

    exact = InferenceSession(dense_model()).run(None, FEEDS)
    floor = 0.7 if mode == "ternary" else 0.5  # random weights: a sanity bound, not a quality claim
    for a, b in zip(fast, exact, strict=True):
        assert a.shape == b.shape and a.dtype == np.float32
        assert _cosine(a, b) > floor


def test_weights_shrink_at_least_tenfold() -> None:
    report: list[QuantizedLayer] = []
    ternarize(dense_model(), report=report)
    float_bytes = sum(r.float_bytes for r in report)
    packed_bytes = sum(r.packed_bytes for r in report)
    assert float_bytes >= 10 * packed_bytes


def test_exclude_min_weights_and_inputs() -> None:
    graph = ternarize(dense_model(), exclude=["gemm"], min_weights=100)
    kept = {n.name: n.domain for n in graph.nodes}
    assert kept["gemm"] == "" and kept["conv1x1"] == "" and kept["mm"] == DOMAIN
    session = InferenceSession(dense_model())
    from_session = ternarize(session)
    assert any(n.domain == DOMAIN for n in from_session.nodes)
    assert all(n.domain != DOMAIN for n in session.graph.nodes)  # the session's graph is not modified
    with pytest.raises(ValueError, match="mode"):
        ternarize(dense_model(), mode="int4")


def test_gemm_with_matrix_bias_or_transposed_input_stays_float() -> None:
    nodes = [helper.make_node("Gemm", ["x", "w", "c"], ["y"], name="g1"),
             helper.make_node("Gemm", ["w", "x2"], ["y2"], name="g2", transA=1)]
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4]),
         helper.make_tensor_value_info("x2", TensorProto.FLOAT, [4, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3]),
         helper.make_tensor_value_info("y2", TensorProto.FLOAT, [3, 3])],
        [numpy_helper.from_array(_w(4, 3), "w"), numpy_helper.from_array(_w(2, 3), "c")],
    )
    quantized = ternarize(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    assert all(n.domain == "" for n in quantized.nodes)
