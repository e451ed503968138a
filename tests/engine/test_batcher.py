"""Dynamic batcher: joined runs equal individual runs, errors reach exactly their callers, trio and asyncio."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import anyio
import numpy as np
import onnx
import pytest
import trio
from onnx import TensorProto, helper, numpy_helper

from engine.batcher import DynamicBatcher, batch_axis_free
from engine.errors import InvalidInputError
from engine.session import InferenceSession


def mlp_model(batch: int | str = "batch", width: int = 8) -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    w1 = rng.normal(size=(width, 16)).astype(np.float32)
    w2 = rng.normal(size=(16, 3)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w1"], ["h"]),
            helper.make_node("Relu", ["h"], ["r"]),
            helper.make_node("MatMul", ["r", "w2"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probs"], axis=-1),
        ],
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, width])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, 3]),
         helper.make_tensor_value_info("probs", TensorProto.FLOAT, [batch, 3])],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")],
    )  # fmt: skip
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def seq_model() -> onnx.ModelProto:
    """Embedding lookup over [batch, seq] token ids: a bad id fails at run time (Gather), not at validation."""
    table = np.arange(40, dtype=np.float32).reshape(10, 4)
    graph = helper.make_graph(
        [helper.make_node("Gather", ["table", "ids"], ["emb"], axis=0),
         helper.make_node("ReduceSum", ["emb", "axes"], ["pooled"], keepdims=0)],
        "seq",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "seq"])],
        [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["batch", 4])],
        [numpy_helper.from_array(table, "table"), numpy_helper.from_array(np.array([1], np.int64), "axes")],
    )  # fmt: skip
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.fixture()
def session() -> InferenceSession:
    return InferenceSession(mlp_model().SerializeToString())


def inputs(n: int, rows: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(n)
    return [rng.normal(size=(rows, 8)).astype(np.float32) for _ in range(n)]


def test_batch_axis_detection() -> None:
    assert batch_axis_free(InferenceSession(mlp_model().SerializeToString()))
    assert not batch_axis_free(InferenceSession(mlp_model(batch=1).SerializeToString()))


def test_options_are_validated(session: InferenceSession) -> None:
    for kwargs in ({"max_batch": 0}, {"max_wait_s": -1.0}, {"max_wait_s": float("inf")}, {"max_concurrent": 0}):
        with pytest.raises(ValueError):
            DynamicBatcher(session, **kwargs)  # type: ignore[arg-type]


async def test_concurrent_requests_are_joined_and_match_individual_runs(session: InferenceSession) -> None:
    batcher = session.enable_batching(max_batch=16, max_wait_s=0.05)
    xs = inputs(300) + inputs(40, rows=3)
    expected = [session.run(None, {"x": x}) for x in xs]
    got: list[list[np.ndarray] | None] = [None] * len(xs)

    async def one(i: int) -> None:
        got[i] = await session.run_async(None, {"x": xs[i]})

    async with anyio.create_task_group() as tg:
        for i in range(len(xs)):
            tg.start_soon(one, i)
    for g, e in zip(got, expected, strict=True):
        assert g is not None
        for a, b in zip(g, e, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
            assert a.shape == b.shape
    assert batcher.stats.requests == len(xs)
    assert batcher.stats.batched_runs >= 1
    assert batcher.stats.runs < len(xs) // 2  # joined, not one run each
    assert batcher.stats.mean_batch > 2


async def test_different_shapes_and_outputs_are_not_mixed() -> None:
    session = InferenceSession(seq_model().SerializeToString())
    batcher = session.enable_batching(max_batch=8, max_wait_s=0.05)
    rng = np.random.default_rng(0)
    feeds = [rng.integers(0, 10, (1, 3 + i % 3)) for i in range(60)]
    got: dict[int, np.ndarray] = {}

    async def one(i: int) -> None:
        (got[i],) = await session.run_async(["pooled"], {"ids": feeds[i]})

    async with anyio.create_task_group() as tg:
        for i in range(len(feeds)):
            tg.start_soon(one, i)
    for i, f in enumerate(feeds):
        np.testing.assert_array_equal(got[i], session.run(["pooled"], {"ids": f})[0])
    assert batcher.stats.batched_runs >= 3  # three sequence lengths: at least one group each


async def test_bad_input_fails_only_its_own_request() -> None:
    session = InferenceSession(seq_model().SerializeToString())
    batcher = session.enable_batching(max_batch=32, max_wait_s=0.05)
    good = [np.full((1, 4), i % 10, np.int64) for i in range(50)]
    results: dict[int, object] = {}

    async def one(key: int, feed: Mapping[str, object]) -> None:
        try:
            results[key] = (await session.run_async(None, feed))[0]
        except Exception as exc:
            results[key] = exc

    async with anyio.create_task_group() as tg:
        for i, ids in enumerate(good):
            tg.start_soon(one, i, {"ids": ids})
        tg.start_soon(one, -1, {"ids": np.full((1, 4), 99, np.int64)})      # out-of-range id: fails in Gather
        tg.start_soon(one, -2, {"ids": np.zeros((1, 4), np.int32)})         # wrong dtype: fails validation
        tg.start_soon(one, -3, {"tokens": np.zeros((1, 4), np.int64)})      # unknown input name
    for i, ids in enumerate(good):
        np.testing.assert_array_equal(results[i], session.run(None, {"ids": ids})[0])
    assert isinstance(results[-1], Exception) and "Gather" in str(results[-1])
    assert isinstance(results[-2], InvalidInputError)
    assert isinstance(results[-3], InvalidInputError)
    assert batcher.stats.fallbacks >= 1


async def test_unbatchable_model_still_runs(session: InferenceSession) -> None:
    static = InferenceSession(mlp_model(batch=1).SerializeToString())
    batcher = static.enable_batching(max_batch=8, max_wait_s=0.01)
    xs = inputs(20)
    got: dict[int, list[np.ndarray]] = {}

    async def one(i: int) -> None:
        got[i] = await static.run_async(None, {"x": xs[i]})

    async with anyio.create_task_group() as tg:
        for i in range(len(xs)):
            tg.start_soon(one, i)
    for i, x in enumerate(xs):
        np.testing.assert_array_equal(got[i][1], static.run(None, {"x": x})[1])
    assert batcher.stats.batched_runs == 0 and batcher.stats.runs == len(xs)


async def test_cancelled_leader_still_serves_the_group(session: InferenceSession) -> None:
    session.enable_batching(max_batch=64, max_wait_s=0.05)
    xs = inputs(10)
    got: dict[int, list[np.ndarray]] = {}

    async def one(i: int) -> None:
        got[i] = await session.run_async(None, {"x": xs[i]})

    async with trio.open_nursery() as nursery:
        with trio.CancelScope() as leader_scope:
            nursery.start_soon(one, 0)
            await trio.sleep(0)  # the leader joins first
        for i in range(1, len(xs)):
            nursery.start_soon(one, i)
        await trio.sleep(0.001)
        leader_scope.cancel()
    for i in range(1, len(xs)):
        np.testing.assert_array_equal(got[i][0], session.run(None, {"x": xs[i]})[0])


def test_works_under_asyncio(session: InferenceSession) -> None:
    batcher = session.enable_batching(max_batch=8, max_wait_s=0.02)
    xs = inputs(64)

    async def main() -> list[list[np.ndarray]]:
        return await asyncio.gather(*(session.run_async(["probs"], {"x": x}) for x in xs))

    got = asyncio.run(main())
    for g, x in zip(got, xs, strict=True):
        np.testing.assert_allclose(g[0], session.run(["probs"], {"x": x})[0], rtol=1e-6, atol=1e-7)
    assert batcher.stats.batched_runs >= 1 and batcher.stats.runs < 64


async def test_disable_batching(session: InferenceSession) -> None:
    session.enable_batching()
    session.disable_batching()
    x = inputs(1)[0]
    (p,) = await session.run_async(["probs"], {"x": x})
    np.testing.assert_array_equal(p, session.run(["probs"], {"x": x})[0])
