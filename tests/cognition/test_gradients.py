"""Head discovery on real graphs, and numpy gradients against central finite differences (float64)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from cognition.gradients import (
    DenseHead,
    DenseLayer,
    HeadNotFoundError,
    backward,
    find_dense_head,
    forward,
    softmax_cross_entropy,
    squared_gradient_sums,
)
from engine.loader import load_model
from ronn.cli import DATA

REFERENCE = DATA.parent.parent / "tests" / "data"


def _loss(head: DenseHead, params: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray,
          mask: np.ndarray | None) -> float:
    return softmax_cross_entropy(forward(head, params, x)[0], y, mask=mask)[0]


def _check(head: DenseHead, params: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray,
           mask: np.ndarray | None = None) -> None:
    logits, cache = forward(head, params, x)
    _, dlogits = softmax_cross_entropy(logits, y, mask=mask)
    grads = backward(head, params, cache, dlogits)
    assert set(grads) == set(head.parameter_names)
    eps = 1e-6
    for name, value in params.items():
        numeric = np.zeros_like(value)
        for i in np.ndindex(value.shape):
            old = value[i]
            value[i] = old + eps
            up = _loss(head, params, x, y, mask)
            value[i] = old - eps
            down = _loss(head, params, x, y, mask)
            value[i] = old
            numeric[i] = (up - down) / (2 * eps)
        np.testing.assert_allclose(grads[name], numeric, rtol=1e-5, atol=1e-7, err_msg=name)


def _layers(sizes: list[int], acts: list[str], trans_b: list[bool], alpha: float, beta: float,
            bias_shapes: list[str], rng: np.random.Generator) -> tuple[DenseHead, dict[str, np.ndarray]]:
    layers, params = [], {}
    for i, (k, n) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        w = rng.standard_normal((n, k) if trans_b[i] else (k, n))
        params[f"w{i}"] = w
        shape = {"vector": (n,), "row": (1, n), "scalar": (1,)}[bias_shapes[i]]
        params[f"b{i}"] = rng.standard_normal(shape)
        act = None if i == len(sizes) - 2 else acts[i]
        layers.append(DenseLayer(f"l{i}", f"w{i}", f"b{i}", trans_b[i], alpha, beta, act, f"in{i}", f"out{i}"))
    return DenseHead(tuple(layers), "in0", layers[-1].output), params


@settings(max_examples=12, deadline=None)
@given(
    depth=st.integers(1, 3),
    act=st.sampled_from(["relu", "gelu", "gelu_tanh"]),
    trans_b=st.booleans(),
    alpha=st.sampled_from([1.0, 0.5]),
    beta=st.sampled_from([1.0, 2.0]),
    bias=st.sampled_from(["vector", "row", "scalar"]),
    masked=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_gradients_match_finite_differences(depth: int, act: str, trans_b: bool, alpha: float, beta: float,
                                            bias: str, masked: bool, seed: int) -> None:
    rng = np.random.default_rng(seed)
    sizes = [4] + [5] * (depth - 1) + [3]
    head, params = _layers(sizes, [act] * depth, [trans_b] * depth, alpha, beta, [bias] * depth, rng)
    x = rng.standard_normal((6, 4))
    mask = np.array([True, False, True]) if masked else None
    y = rng.choice([0, 2] if masked else [0, 1, 2], size=6)
    _check(head, params, x, y, mask)


def test_squared_gradient_sums_equal_a_per_sample_loop() -> None:
    rng = np.random.default_rng(0)
    head, params = _layers([4, 6, 6, 3], ["gelu", "relu"], [True, False, True], 1.0, 1.0,
                           ["vector", "row", "vector"], rng)
    x, y = rng.standard_normal((7, 4)), rng.integers(0, 3, 7)
    logits, cache = forward(head, params, x)
    _, per_sample = softmax_cross_entropy(logits, y, per_sample=True)
    sums = squared_gradient_sums(head, params, cache, per_sample)
    expected = {n: np.zeros_like(p) for n, p in params.items()}
    for i in range(len(y)):
        logits_i, cache_i = forward(head, params, x[i:i + 1])
        _, d = softmax_cross_entropy(logits_i, y[i:i + 1])
        for n, g in backward(head, params, cache_i, d).items():
            expected[n] += g**2
    for n in params:
        np.testing.assert_allclose(sums[n], expected[n], rtol=1e-10, err_msg=n)


def test_digits_model_head_is_the_whole_mlp() -> None:
    graph = load_model(DATA / "digits_mlp.onnx")
    head = find_dense_head(graph)
    assert head.parameter_names == ("w1", "b1", "w2", "b2")
    assert head.feature == "pixels" and head.logits == "logits"
    assert [layer.activation for layer in head.layers] == ["relu", None]


@pytest.mark.parametrize("stem", ["mlp_dynamo_static", "mlp_torchscript_dynamic"])
def test_head_forward_matches_onnxruntime(stem: str) -> None:
    graph = load_model(REFERENCE / f"{stem}.onnx")
    head = find_dense_head(graph)
    assert len(head.layers) == 3 and all(layer.trans_b for layer in head.layers)
    data = np.load(REFERENCE / f"{stem}.npz")
    x = data[f"input:{head.feature}"].reshape(len(data[f"input:{head.feature}"]), -1)
    logits, _ = forward(head, head.parameters(graph), x)
    np.testing.assert_allclose(logits, data[f"output:{head.logits}"], rtol=1e-4, atol=1e-5)


def test_matmul_add_chain_and_frozen_extractor() -> None:
    rng = np.random.default_rng(1)
    inits = {"scale": np.float32(2.0) * np.ones(4, np.float32), "w1": rng.standard_normal((4, 5)).astype(np.float32),
             "b1": rng.standard_normal(5).astype(np.float32), "w2": rng.standard_normal((5, 3)).astype(np.float32),
             "b2": rng.standard_normal(3).astype(np.float32)}
    nodes = [helper.make_node("Mul", ["x", "scale"], ["f"]),            # the frozen extractor
             helper.make_node("MatMul", ["f", "w1"], ["m1"]), helper.make_node("Add", ["m1", "b1"], ["z1"]),
             helper.make_node("Gelu", ["z1"], ["h1"], approximate="tanh"),
             helper.make_node("MatMul", ["h1", "w2"], ["m2"]), helper.make_node("Add", ["b2", "m2"], ["logits"]),
             helper.make_node("Softmax", ["logits"], ["p"])]
    graph_proto = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
        [helper.make_tensor_value_info("p", TensorProto.FLOAT, [2, 3])],
        [numpy_helper.from_array(v, k) for k, v in inits.items()])
    model = helper.make_model(graph_proto, opset_imports=[helper.make_opsetid("", 20)])
    head = find_dense_head(load_model(model.SerializeToString()))
    assert head.feature == "f" and head.logits == "logits"
    assert head.parameter_names == ("w1", "b1", "w2", "b2")
    assert head.layers[0].activation == "gelu_tanh"


@pytest.mark.parametrize("level", [0, 1, 2, 3])
def test_head_of_an_optimized_session_graph(level: int) -> None:
    from engine.options import GraphOptimizationLevel, SessionOptions
    from engine.session import InferenceSession

    options = SessionOptions()
    options.graph_optimization_level = GraphOptimizationLevel(level)
    session = InferenceSession(REFERENCE / "mlp_dynamo_static.onnx", sess_options=options)
    head = find_dense_head(session.graph)  # fused nodes (FusedGemm with Relu) at O2 and above
    assert len(head.layers) == 3 and head.feature == "x"
    x = np.random.default_rng(0).standard_normal((1, 784)).astype(np.float32)
    (expected,) = session.run(None, {"x": x})
    np.testing.assert_allclose(forward(head, head.parameters(session.graph), x)[0], expected, rtol=1e-4,
                               atol=1e-5)


def test_graph_without_dense_layer_raises() -> None:
    graph_proto = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                                    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                                    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    model = helper.make_model(graph_proto, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(HeadNotFoundError):
        find_dense_head(load_model(model.SerializeToString()))
