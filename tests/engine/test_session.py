"""InferenceSession: onnxruntime's API, clear errors for bad feeds, threads, async, weight updates."""

from __future__ import annotations

import threading

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import ronn
from engine.errors import InvalidInputError, ProviderError
from engine.options import GraphOptimizationLevel, SessionOptions
from engine.session import InferenceSession

ort = pytest.importorskip("onnxruntime")


def mlp_model(batch: int | str = "batch") -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    w1 = rng.normal(size=(8, 16)).astype(np.float32)
    w2 = rng.normal(size=(16, 3)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w1"], ["h"]),
            helper.make_node("Relu", ["h"], ["r"]),
            helper.make_node("MatMul", ["r", "w2"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probs"], axis=-1),
        ],
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 8])],
        [
            helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, 3]),
            helper.make_tensor_value_info("probs", TensorProto.FLOAT, [batch, 3]),
        ],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")],
    )
    # IR 10: what onnxruntime reads from 1.18 on; the onnx package's default (IR 14 for onnx
    # 1.23) failed on onnxruntime 1.30 (seen on the GPU machine)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10)


@pytest.fixture(scope="module")
def pair() -> tuple[InferenceSession, object]:
    blob = mlp_model().SerializeToString()
    return InferenceSession(blob), ort.InferenceSession(blob, providers=["CPUExecutionProvider"])


def test_outputs_match_onnxruntime(pair) -> None:
    ours, theirs = pair
    x = np.random.default_rng(1).normal(size=(5, 8)).astype(np.float32)
    for a, b in zip(ours.run(None, {"x": x}), theirs.run(None, {"x": x}), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        assert a.dtype == b.dtype


def test_node_args_match_onnxruntime(pair) -> None:
    ours, theirs = pair
    for a, b in ((ours.get_inputs(), theirs.get_inputs()), (ours.get_outputs(), theirs.get_outputs())):
        assert [(i.name, i.shape, i.type) for i in a] == [(i.name, i.shape, i.type) for i in b]


def test_output_selection_and_order(pair) -> None:
    ours, _ = pair
    x = np.ones((2, 8), np.float32)
    logits, probs = ours.run(None, {"x": x})
    (p,) = ours.run(["probs"], {"x": x})
    np.testing.assert_array_equal(p, probs)
    q, lg = ours.run(["probs", "logits"], {"x": x})
    np.testing.assert_array_equal(lg, logits)


@pytest.mark.parametrize(
    ("feed", "match"),
    [
        ({}, "missing input 'x'"),
        ({"x": np.ones((2, 8), np.float32), "y": np.ones(1)}, "unknown input name 'y'"),
        ({"X": np.ones((2, 8), np.float32)}, "unknown input name 'X'"),
        ({"x": np.ones((2, 8), np.float64)}, "dtype float64.*expects float32"),
        ({"x": np.ones((2, 8), np.int64)}, "dtype int64"),
        ({"x": np.ones((8,), np.float32)}, "rank 1.*rank 2"),
        ({"x": np.ones((2, 7), np.float32)}, "dimension 1 must be 8, got 7"),
        ({"x": "hello"}, "must be a numpy array"),
    ],
)
def test_bad_feeds_raise_invalid_input(pair, feed, match) -> None:
    ours, _ = pair
    with pytest.raises(InvalidInputError, match=match):
        ours.run(None, feed)


def test_bad_feed_container_and_output_name(pair) -> None:
    ours, _ = pair
    with pytest.raises(InvalidInputError, match="dict"):
        ours.run(None, [np.ones((2, 8), np.float32)])  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="unknown output name 'nope'"):
        ours.run(["nope"], {"x": np.ones((2, 8), np.float32)})
    name = ours.get_outputs()[0].name
    for run in (ours.run, lambda names, feed: next(ours.run_in_slices(names, feed))):
        with pytest.raises(InvalidInputError, match=f"a list of names or None, got the string '{name}'"):
            run(name, {"x": np.ones((2, 8), np.float32)})  # type: ignore[arg-type]


def test_static_dimension_is_enforced() -> None:
    sess = InferenceSession(mlp_model(batch=1).SerializeToString())
    sess.run(None, {"x": np.ones((1, 8), np.float32)})
    with pytest.raises(InvalidInputError, match="dimension 0 must be 1, got 4"):
        sess.run(None, {"x": np.ones((4, 8), np.float32)})


def test_concurrent_runs_from_threads_are_correct(pair) -> None:
    ours, theirs = pair
    rng = np.random.default_rng(2)
    inputs = [rng.normal(size=(3, 8)).astype(np.float32) for _ in range(8)]
    expected = [theirs.run(None, {"x": x})[1] for x in inputs]
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            for _ in range(50):
                (p,) = ours.run(["probs"], {"x": inputs[k]})
                np.testing.assert_allclose(p, expected[k], rtol=1e-5, atol=1e-6)
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]


async def test_run_async_under_trio(pair) -> None:
    ours, _ = pair
    x = np.ones((2, 8), np.float32)
    (p,) = await ours.run_async(["probs"], {"x": x})
    np.testing.assert_array_equal(p, ours.run(["probs"], {"x": x})[0])


def test_run_async_under_asyncio(pair) -> None:
    import asyncio

    ours, _ = pair
    x = np.ones((2, 8), np.float32)
    (p,) = asyncio.run(ours.run_async(["probs"], {"x": x}))
    np.testing.assert_array_equal(p, ours.run(["probs"], {"x": x})[0])


def test_update_weights_swaps_atomically_and_validates() -> None:
    sess = InferenceSession(mlp_model().SerializeToString())
    x = np.ones((1, 8), np.float32)
    before = sess.run(["logits"], {"x": x})[0]
    w2 = np.zeros((16, 3), np.float32)
    sess.update_weights({"w2": w2})
    np.testing.assert_array_equal(sess.run(["logits"], {"x": x})[0], np.zeros((1, 3), np.float32))
    assert not np.array_equal(before, np.zeros((1, 3)))
    with pytest.raises(InvalidInputError, match="no initializer named 'w9'"):
        sess.update_weights({"w9": w2})
    with pytest.raises(InvalidInputError, match="shape"):
        sess.update_weights({"w2": np.zeros((3, 16), np.float32)})
    with pytest.raises(InvalidInputError, match="dtype"):
        sess.update_weights({"w2": np.zeros((16, 3), np.float64)})


def test_a_session_leaves_the_graph_it_is_given_as_it_was() -> None:
    # the passes rewrite (Identity dropped, MatMul + Add fused, a dead node and its weight removed) a copy: the
    # caller's nodes, lists, initializers and arrays stay as they were (the arrays as writable as they were)
    import dataclasses

    from engine import ir
    from engine.loader import load_model

    rng = np.random.default_rng(0)
    w, b, dead = (rng.standard_normal(s).astype(np.float32) for s in ((4, 3), (3,), (4, 4)))
    model = helper.make_model(
        helper.make_graph(
            [
                helper.make_node("Identity", ["x"], ["a"]),
                helper.make_node("MatMul", ["a", "w"], ["m"]),
                helper.make_node("Add", ["m", "b"], ["y"]),
                helper.make_node("MatMul", ["x", "dead"], ["unused"]),
            ],
            "g",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])],
            [numpy_helper.from_array(v, n) for v, n in ((w, "w"), (b, "b"), (dead, "dead"))],
        ),
        opset_imports=[helper.make_opsetid("", 17)],
    )
    graph = load_model(model)

    def snapshot(g):
        nodes = [(n.op_type, list(n.inputs), list(n.outputs), dict(n.attrs)) for n in g.nodes]
        return nodes, dict(g.initializers), list(g.inputs), list(g.outputs)

    before = snapshot(graph)
    writable = {name: a.flags.writeable for name, a in graph.initializers.items()}
    x = rng.standard_normal((2, 4)).astype(np.float32)
    for level in (GraphOptimizationLevel.ORT_DISABLE_ALL, GraphOptimizationLevel.ORT_ENABLE_ALL):
        options = SessionOptions()
        options.graph_optimization_level = level
        sess = InferenceSession(graph, options)
        np.testing.assert_allclose(sess.run(None, {"x": x})[0], x @ w + b, rtol=1e-5)
        after = snapshot(graph)
        assert after[0] == before[0] and after[2:] == before[2:]
        assert after[1].keys() == before[1].keys() and all(after[1][k] is before[1][k] for k in before[1])
        assert {name: a.flags.writeable for name, a in graph.initializers.items()} == writable
    assert len(sess.graph.nodes) < len(graph.nodes)  # (the passes did rewrite the session's copy)
    # a graph cut at an inner value shares the caller's lists and dicts (as the agent's feature session did):
    # the dead Add and its weight go from the session's copy only
    cut = InferenceSession(dataclasses.replace(graph, outputs=[ir.Value("m", np.dtype(np.float32), None)]))
    np.testing.assert_allclose(cut.run(None, {"x": x})[0], x @ w, rtol=1e-5)
    assert "b" not in cut.graph.initializers and snapshot(graph)[:2] == before[:2]


def test_outputs_never_alias_weights() -> None:
    w = np.arange(4, dtype=np.float32)
    graph = helper.make_graph(
        [helper.make_node("Identity", ["w"], ["y"])], "g", [],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])], [numpy_helper.from_array(w, "w")],
    )
    sess = InferenceSession(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    (y,) = sess.run(None, {})
    y += 100  # the caller owns its outputs
    np.testing.assert_array_equal(sess.run(None, {})[0], w)


@pytest.mark.parametrize(("op", "shape"), [("Identity", [2, 3]), ("Flatten", [2, 3]), ("Reshape", [3, 2])])
def test_outputs_never_alias_the_inputs(op: str, shape: list[int]) -> None:
    inputs = ["x", "s"] if op == "Reshape" else ["x"]
    inits = [numpy_helper.from_array(np.array(shape, np.int64), "s")] if op == "Reshape" else []
    graph = helper.make_graph(
        [helper.make_node(op, inputs, ["y"])], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)], inits,
    )
    sess = InferenceSession(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    for run in (sess.run, lambda names, feed: _sliced(sess, feed)):
        y = run(None, {"x": x})[0]
        expected = x.reshape(shape).copy()
        x += 1  # a caller refilling its input buffer leaves the output it kept alone
        assert not np.shares_memory(y, x)
        np.testing.assert_array_equal(y, expected)


def _sliced(sess: InferenceSession, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
    steps = sess.run_in_slices(None, feed, 1e-6)
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value


def test_providers_and_options() -> None:
    blob = mlp_model().SerializeToString()
    assert "CPUExecutionProvider" in ronn.get_available_providers()
    sess = InferenceSession(blob, providers=["CPUExecutionProvider"])
    assert sess.get_providers() == ["CPUExecutionProvider"]
    with pytest.raises(ProviderError, match="unknown execution provider 'TPUExecutionProvider'"):
        InferenceSession(blob, providers=["TPUExecutionProvider"])
    opts = SessionOptions()
    opts.graph_optimization_level = GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.intra_op_num_threads = 1
    assert InferenceSession(blob, sess_options=opts).get_session_options().intra_op_num_threads == 1
    with pytest.raises(ValueError):
        opts.intra_op_num_threads = -1
    with pytest.raises(ValueError):
        opts.graph_optimization_level = 7
    with pytest.raises(AttributeError):
        opts.no_such_option = 1  # type: ignore[attr-defined]



def test_intra_op_threads_option_runs_and_gives_the_same_outputs() -> None:
    opts = SessionOptions()
    opts.intra_op_num_threads = 1
    x = np.random.default_rng(3).normal(size=(4, 8)).astype(np.float32)
    one = InferenceSession(mlp_model().SerializeToString(), sess_options=opts).run(None, {"x": x})
    default = InferenceSession(mlp_model().SerializeToString()).run(None, {"x": x})
    for a, b in zip(one, default, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def _drain(steps) -> tuple[int, list[np.ndarray]]:
    slices = 0
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return slices + 1, done.value
        slices += 1


@pytest.mark.parametrize("level", [GraphOptimizationLevel.ORT_DISABLE_ALL, GraphOptimizationLevel.ORT_ENABLE_ALL])
def test_run_in_slices_matches_run_and_yields_between_nodes(level) -> None:
    options = SessionOptions()
    options.graph_optimization_level = level
    options.intra_op_num_threads = 1
    session = InferenceSession(mlp_model().SerializeToString(), options)
    x = np.random.default_rng(1).normal(size=(2, 8)).astype(np.float32)
    expected = session.run(["probs", "logits"], {"x": x})
    slices, outs = _drain(session.run_in_slices(["probs", "logits"], {"x": x}, slice_s=1e-9))
    assert slices == len(session._plan.steps)  # one node per slice with a tiny slice
    for got, want in zip(outs, expected, strict=True):
        np.testing.assert_array_equal(got, want)
    slices, outs = _drain(session.run_in_slices(None, {"x": x}, slice_s=10.0))
    assert slices == 1 and len(outs) == len(session.get_outputs())
    np.testing.assert_array_equal(outs[-1], expected[0])


def test_run_in_slices_checks_feeds_and_slice_before_running() -> None:
    session = InferenceSession(mlp_model().SerializeToString())
    with pytest.raises(InvalidInputError, match="dtype"):
        session.run_in_slices(None, {"x": np.zeros((1, 8), np.float64)})  # raised at the call, not at next()
    with pytest.raises(InvalidInputError, match="slice_s"):
        session.run_in_slices(None, {"x": np.zeros((1, 8), np.float32)}, slice_s=0)
    with pytest.raises(InvalidInputError, match="unknown output"):
        session.run_in_slices(["nope"], {"x": np.zeros((1, 8), np.float32)})
