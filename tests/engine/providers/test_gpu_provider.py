"""The GPU provider's op set, run with numpy standing in for cupy, against the CPU kernels; and on a real
GPU."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from engine.options import GraphOptimizationLevel, SessionOptions
from engine.providers import base, gpu_ops
from engine.session import InferenceSession

NO_FUSION = SessionOptions()
NO_FUSION.graph_optimization_level = GraphOptimizationLevel.ORT_DISABLE_ALL
RNG = np.random.default_rng(11)
F = TensorProto.FLOAT


def _f(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


# (op, data inputs, constant inputs (initializers), attributes, opset)
CASES = [
    ("Add", [_f(2, 3), _f(3)], {}, {}, 17), ("Sub", [_f(2, 3), _f(2, 3)], {}, {}, 17),
    ("Mul", [_f(2, 3), _f(1, 3)], {}, {}, 17), ("Div", [_f(2, 3), _f(2, 3) + 4], {}, {}, 17),
    ("Pow", [np.abs(_f(2, 3)) + 0.1, _f(2, 3)], {}, {}, 17), ("Relu", [_f(4, 5)], {}, {}, 17),
    ("Sigmoid", [_f(4)], {}, {}, 17), ("Tanh", [_f(4)], {}, {}, 17), ("Exp", [_f(4)], {}, {}, 17),
    ("Log", [np.abs(_f(4)) + 0.1], {}, {}, 17), ("Sqrt", [np.abs(_f(4))], {}, {}, 17),
    ("Neg", [_f(4)], {}, {}, 17), ("Abs", [_f(4)], {}, {}, 17), ("Reciprocal", [_f(4) + 5], {}, {}, 17),
    ("Erf", [_f(3, 4)], {}, {}, 17), ("Gelu", [_f(3, 4)], {}, {}, 20),
    ("Gelu", [_f(3, 4)], {}, {"approximate": "tanh"}, 20), ("MatMul", [_f(2, 3, 4), _f(4, 5)], {}, {}, 17),
    ("Gemm", [_f(3, 4)], {"B": _f(5, 4), "C": _f(5)}, {"transB": 1, "alpha": 0.5, "beta": 2.0}, 17),
    ("Gemm", [_f(4, 3), _f(4, 5)], {}, {"transA": 1}, 17), ("Softmax", [_f(2, 5)], {}, {"axis": 0}, 17),
    ("LayerNormalization", [_f(2, 3, 8)], {"s": _f(8), "b": _f(8)}, {"epsilon": 1e-3}, 17),
    ("Transpose", [_f(2, 3, 4)], {}, {"perm": [2, 0, 1]}, 17),
    ("Reshape", [_f(2, 3, 4)], {"shape": np.array([0, -1], np.int64)}, {}, 17),
    ("Flatten", [_f(2, 3, 4)], {}, {"axis": 2}, 17), ("Identity", [_f(3)], {}, {}, 17),
    ("Concat", [_f(2, 3), _f(2, 1)], {}, {"axis": 1}, 17),
    ("Unsqueeze", [_f(2, 3)], {"axes": np.array([0, -1], np.int64)}, {}, 17),
    ("Squeeze", [_f(1, 3, 1)], {"axes": np.array([2], np.int64)}, {}, 17),
    ("Gather", [_f(5, 3), np.array([[0, -1], [2, 2]], np.int64)], {}, {"axis": 0}, 17),
    ("Where", [_f(2, 3) > 0, _f(2, 3), _f(2, 3)], {}, {}, 17),
    ("Clip", [_f(2, 3)], {"lo": np.array(-0.5, np.float32), "hi": np.array(0.5, np.float32)}, {}, 17),
    ("ReduceMean", [_f(2, 3, 4)], {"axes": np.array([1], np.int64)}, {"keepdims": 0}, 18),
    ("GlobalAveragePool", [_f(2, 3, 4, 4)], {}, {}, 17),
]


def _model(op: str, data: list[np.ndarray], consts: dict[str, np.ndarray], attrs: dict, opset: int) -> bytes:
    names = [f"in{i}" for i in range(len(data))] + list(consts)
    node = helper.make_node(op, names, ["y"], **attrs)
    inputs = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
              for n, a in zip(names, data, strict=False)]
    graph = helper.make_graph([node], op, inputs, [helper.make_tensor_value_info("y", F, None)],
                              [numpy_helper.from_array(v, k) for k, v in consts.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]).SerializeToString()


def test_every_listed_op_has_a_case() -> None:
    assert {c[0] for c in CASES} | {"Dropout"} == set(gpu_ops.OPS)


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_op_matches_cpu(case, fake_device: Any) -> None:
    op, data, consts, attrs, opset = case
    blob = _model(op, data, consts, attrs, opset)
    feeds = {f"in{i}": a for i, a in enumerate(data)}
    sess = InferenceSession(blob, NO_FUSION, providers=[fake_device.name, "CPUExecutionProvider"],
                            check_model=False)
    assert [a.provider for a in sess.node_providers() if a.op_type == op] == [fake_device.name]
    (got,) = sess.run(None, feeds)
    (expected,) = InferenceSession(blob, NO_FUSION, check_model=False).run(None, feeds)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_integer_arithmetic_stays_on_the_host(fake_device: Any) -> None:
    blob = _model("Add", [np.arange(3), np.arange(3)], {}, {}, 17)
    sess = InferenceSession(blob, NO_FUSION, providers=[fake_device.name, "CPUExecutionProvider"],
                            check_model=False)
    assert [a.provider for a in sess.node_providers()] == ["CPUExecutionProvider"]


GPU_REASON = base.unavailable_reason("CUDAExecutionProvider")


@pytest.mark.skipif(GPU_REASON is not None, reason=f"CUDAExecutionProvider unusable: {GPU_REASON}")
@pytest.mark.parametrize("float16", [False, True])
def test_real_gpu_matches_cpu(float16: bool) -> None:
    data = Path(__file__).resolve().parents[2] / "data"
    for stem in ("mlp_dynamo_static", "bert_dynamo_static"):
        refs = np.load(data / f"{stem}.npz")
        feeds = {k[6:]: v for k, v in refs.items() if k.startswith("input:")}
        sess = InferenceSession(str(data / f"{stem}.onnx"),
                                providers=[("CUDAExecutionProvider", {"float16": float16}),
                                           "CPUExecutionProvider"])
        assert "CUDAExecutionProvider" in {a.provider for a in sess.node_providers()}
        tol = 3e-2 if float16 else 1e-4
        for name, got in zip([o.name for o in sess.get_outputs()], sess.run(None, feeds), strict=True):
            np.testing.assert_allclose(got, refs[f"output:{name}"], rtol=tol, atol=tol)


def test_float16_saturates_values_past_its_range(fake_device: Any) -> None:
    """A mask filled with float32's minimum (as exported attention does) becomes -65504, not -inf: 0 * -inf is NaN."""
    lowest = np.array(np.finfo(np.float32).min, np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Mul", ["mask", "lowest"], ["fill"]),
            helper.make_node("Add", ["x", "fill"], ["scores"]),
            helper.make_node("Softmax", ["scores"], ["y"], axis=-1),
        ],
        "masked",
        [helper.make_tensor_value_info("x", F, [2, 4]), helper.make_tensor_value_info("mask", F, [2, 4])],
        [helper.make_tensor_value_info("y", F, [2, 4])],
        [numpy_helper.from_array(lowest, "lowest")],
    )
    blob = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    feeds = {"x": _f(2, 4), "mask": np.array([[0, 0, 1, 1], [0, 1, 1, 1]], np.float32)}
    sess = InferenceSession(blob, NO_FUSION, providers=[(fake_device.name, {"float16": True}),
                                                        "CPUExecutionProvider"])  # fmt: skip
    assert {a.provider for a in sess.node_providers() if a.op_type in ("Mul", "Add", "Softmax")} == {fake_device.name}
    (got,) = sess.run(None, feeds)
    (expected,) = InferenceSession(blob, NO_FUSION).run(None, feeds)
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, expected, rtol=1e-2, atol=1e-3)


@pytest.mark.parametrize("activation", ["Relu", "Gelu", "LeakyRelu", "HardSigmoid"])
def test_fused_dense_layers_stay_on_the_device(activation: str, fake_device: Any) -> None:
    """At the default optimization level Gemm/MatMul + Add + activation become FusedGemm / FusedMatMul (ai.ronn);
    the device runs them (it ran only 4 of a fused 2048x8 MLP's 12 nodes before, on an H200)."""
    attrs = {"LeakyRelu": {"alpha": 0.2}, "HardSigmoid": {"alpha": 0.3, "beta": 0.4}}.get(activation, {})
    opset = 20 if activation == "Gelu" else 17
    w1, b1, w2, b2 = _f(8, 16), _f(16), _f(16, 4), _f(4)
    graph = helper.make_graph(
        [
            helper.make_node("Gemm", ["x", "w1", "b1"], ["h"]),
            helper.make_node(activation, ["h"], ["a"], **attrs),
            helper.make_node("Reshape", ["a", "shape"], ["a3"]),
            helper.make_node("MatMul", ["a3", "w2"], ["m"]),
            helper.make_node("Add", ["m", "b2"], ["y0"]),
            helper.make_node("Relu", ["y0"], ["y"]),
        ],
        "dense",
        [helper.make_tensor_value_info("x", F, [6, 8])],
        [helper.make_tensor_value_info("y", F, [2, 3, 4])],
        [numpy_helper.from_array(v, k) for k, v in
         {"w1": w1, "b1": b1, "w2": w2, "b2": b2, "shape": np.array([2, 3, 16], np.int64)}.items()],
    )
    blob = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]).SerializeToString()
    feeds = {"x": _f(6, 8)}
    sess = InferenceSession(blob, providers=[fake_device.name, "CPUExecutionProvider"])
    placed = {(a.op_type, a.provider) for a in sess.node_providers()}
    assert ("FusedGemm", fake_device.name) in placed and ("FusedMatMul", fake_device.name) in placed
    (got,) = sess.run(None, feeds)
    (expected,) = InferenceSession(blob, NO_FUSION).run(None, feeds)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_a_fused_activation_the_device_lacks_stays_on_the_host(fake_device: Any) -> None:
    from engine import ir

    node = ir.Node("FusedGemm", ["a", "b"], ["y"], attrs={"activation": "Softplus"}, domain="ai.ronn")
    assert not fake_device().supports(node, 1, [np.dtype(np.float32)] * 2)
    node = ir.Node("FusedGemm", ["a", "b"], ["y"], attrs={"activation": "Relu"}, domain="ai.ronn")
    assert fake_device().supports(node, 1, [np.dtype(np.float32)] * 2)
