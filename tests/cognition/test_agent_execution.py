"""How the agent runs a call: a lone call's model on the event loop in slices, its input hashed and stored on
a thread meanwhile, the exact cache checked first by fingerprint; under trio and asyncio."""

from __future__ import annotations

import anyio
import anyio.lowlevel
import numpy as np
import pytest
import trio

from cognition.agent import Agent
from cognition.config import AgentConfig, Thought
from engine.session import InferenceSession


class _SpySession:
    """A session stand-in that records the thread of every run and the ticks of a ticker task seen while a run
    in slices was in progress."""

    def __init__(self, session, ticker) -> None:
        self._session = session
        self._ticker = ticker
        self.threads: list[int] = []
        self.sliced_ticks: list[int] = []

    def __getattr__(self, name):
        return getattr(self._session, name)

    def run(self, names, feeds):
        import threading

        self.threads.append(threading.get_ident())
        return self._session.run(names, feeds)

    def run_in_slices(self, names, feeds, slice_s):
        import threading

        self.threads.append(threading.get_ident())
        inner = self._session.run_in_slices(names, feeds, slice_s)

        def steps():
            before = self._ticker[0]
            result = yield from inner
            self.sliced_ticks.append(self._ticker[0] - before)
            return result

        return steps()


async def _tick(ticks: list[int], done: trio.Event) -> None:
    """Count the loop's turns in ``ticks[0]`` (one a checkpoint) until ``done``."""
    while not done.is_set():
        ticks[0] += 1
        await trio.lowlevel.checkpoint()


@pytest.mark.parametrize("alone_max_s", [0.0, 10.0])
async def test_inline_alone_runs_a_lone_call_on_the_loop_in_slices(digit_stream, model_path, alone_max_s) -> None:
    import threading

    config = AgentConfig(inline_max_s=0.0, inline_alone_max_s=alone_max_s, inline_slice_s=1e-9, cache_size=0)
    inputs = digit_stream(40)
    ticks = [0]
    async with Agent(model_path, memory=":memory:", config=config) as agent:
        runner = agent._models.system1
        spy = runner.session = _SpySession(runner.session, ticks)
        reference = InferenceSession(model_path)
        done = trio.Event()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_tick, ticks, done)
            for x in inputs[:5]:  # one call in flight at a time
                thought = await agent.infer(x)
                expected = reference.run(None, {"pixels": x[None]})[-1][0]
                np.testing.assert_allclose(thought.output, expected, rtol=1e-5, atol=1e-6)
            done.set()
        on_loop = [t == threading.get_ident() for t in spy.threads]
        assert all(on_loop) if alone_max_s else not any(on_loop)
        if alone_max_s:  # the loop served the ticker between the run's slices (one node per slice here)
            assert len(spy.sliced_ticks) == 5 and min(spy.sliced_ticks) >= 2
        else:
            assert spy.sliced_ticks == []
        spy.threads.clear()
        async with trio.open_nursery() as nursery:
            for x in inputs[5:]:
                nursery.start_soon(agent.infer, x)
        assert sum(t != threading.get_ident() for t in spy.threads) >= len(inputs[5:]) - 1  # concurrent: threads
        assert agent.memory.episodic.count() == len(inputs)


async def test_a_lone_slow_call_stores_its_input_while_the_model_runs(digit_stream, model_path, tmp_path, monkeypatch
) -> None:
    import cognition.agent as agent_module

    monkeypatch.setattr(agent_module, "OVERLAP_MIN_S", 0.0)  # the digits MLP stands in for a slow model
    config = AgentConfig(inline_max_s=0.0, near_duplicate_similarity=None)
    inputs = digit_stream(6)
    path = tmp_path / "agent.db"
    async with Agent(model_path, memory=path, config=config) as agent:
        runner = agent._models.system1
        real = runner.session
        runs: list[int] = []

        class Counting:
            def __getattr__(self, name):
                return getattr(real, name)

            def run_in_slices(self, names, feeds, slice_s):
                runs.append(1)
                return real.run_in_slices(names, feeds, slice_s)

        runner.session = Counting()
        thoughts = [await agent.infer(x) for x in inputs]
        assert len(runs) == len(inputs) and all(t.route != "cache" for t in thoughts)
        again = await agent.infer(inputs[2])  # its fingerprint is cached: hashed first, then answered by the cache
        assert again.route == "cache" and again.prediction == thoughts[2].prediction and len(runs) == len(inputs)
        stored = agent.memory.episodic.get([t.episode_id for t in [*thoughts, again]])
        for episode, x in zip(stored, [*inputs, inputs[2]], strict=True):
            np.testing.assert_array_equal(episode.input, x[None])  # read back through episode_inputs
        raw = agent.memory.db.engine.raw_connection()
        try:
            inputs_rows = raw.execute("SELECT count(*) FROM episode_inputs").fetchone()[0]
            in_rows = raw.execute("SELECT count(*) FROM episodes WHERE input IS NOT NULL").fetchone()[0]
        finally:
            raw.close()
        # the new inputs went ahead of their rows; the cached one was hashed on the loop and stored in its row
        assert inputs_rows == len(inputs) and in_rows == 1
    async with Agent(model_path, memory=path, config=config) as agent:  # reopened: the inputs are there
        [first] = agent.memory.episodic.get([thoughts[0].episode_id])
        np.testing.assert_array_equal(first.input, inputs[0][None])


async def test_deferred_lone_slow_calls_store_their_inputs_with_the_batch(
    digit_stream, model_path, tmp_path, monkeypatch
) -> None:
    # deferred: the job encodes the input but commits nothing ahead; the batch's one transaction stores every
    # input with its row
    import cognition.agent as agent_module

    monkeypatch.setattr(agent_module, "OVERLAP_MIN_S", 0.0)  # the digits MLP stands in for a slow model
    config = AgentConfig(inline_max_s=0.0, durability="deferred", flush_interval_s=30.0, cache_size=0)
    inputs = digit_stream(8)
    path = tmp_path / "agent.db"
    async with Agent(model_path, memory=path, config=config) as agent:
        assert agent._writer.deferred_in_thread  # both models run off the loop: batches commit in a thread
        commits = agent.statistics().commits
        thoughts = [await agent.infer(x) for x in inputs]
        raw = agent.memory.db.engine.raw_connection()
        try:
            assert raw.execute("SELECT count(*) FROM episode_inputs").fetchone()[0] == 0  # nothing ahead
            await agent.flush()
            inputs_rows = raw.execute("SELECT count(*) FROM episode_inputs").fetchone()[0]
            in_rows = raw.execute("SELECT count(*) FROM episodes WHERE input IS NOT NULL").fetchone()[0]
        finally:
            raw.close()
        assert inputs_rows == len(inputs) and in_rows == 0
        assert agent.statistics().commits == commits + 1  # the writer waited out the interval for them all
        ids = [await agent._writer.committed_id(t.ticket) for t in thoughts]
        for episode, x in zip(agent.memory.episodic.get(ids), inputs, strict=True):
            np.testing.assert_array_equal(episode.input, x[None])


@pytest.mark.parametrize("backend", ["trio", "asyncio"])
def test_deferred_writer_commits_a_full_batch_before_the_interval(digit_stream, model_path, backend) -> None:
    # lone deferred calls queue without waking the writer; it wakes for a full batch, a flush or closing
    config = AgentConfig(durability="deferred", flush_interval_s=60.0, max_batch=4, cache_size=0)
    inputs = digit_stream(10)

    async def main() -> None:
        with anyio.fail_after(30):  # (closing too does not wait out the 60 s)
            await body()

    async def body() -> None:
        async with Agent(model_path, memory=":memory:", config=config) as agent:
            for x in inputs:
                await agent.infer(x)
            with anyio.fail_after(10):  # woken by the full batches, not by the 60 s interval
                while agent.statistics().episodes_stored < 8:
                    await anyio.sleep(0.01)
            stats = agent.statistics()
            assert stats.episodes_stored in (8, 9) and stats.pending_writes == len(inputs) - stats.episodes_stored
            commits = stats.commits
            for x in inputs:  # ten more, and a flush queued right behind them, beyond a whole batch
                await agent.infer(x + 1.0)
            with anyio.fail_after(10):
                await agent.flush()
            stats = agent.statistics()
            assert stats.episodes_stored == 20 and stats.pending_writes == 0 and stats.commits >= commits + 3
            for x in inputs[:3]:
                await agent.infer(x + 2.0)
        assert agent.statistics().episodes_stored == 23  # closing committed the last three at once

    anyio.run(main, backend=backend)


async def test_a_lone_slow_call_projects_its_input_in_the_job(conv_model, tmp_path, monkeypatch) -> None:
    # a model without dense layers: its features are the input's projection, computed beside the run
    import threading

    import cognition.agent as agent_module

    monkeypatch.setattr(agent_module, "OVERLAP_MIN_S", 0.0)  # the tiny conv net stands in for a slow model
    model = conv_model
    xs = np.random.default_rng(5).random((5, 3, 8, 8), dtype=np.float32)
    config = AgentConfig(inline_max_s=0.0, near_duplicate_similarity=None, cache_size=0)
    async with Agent(model, memory=tmp_path / "conv.db", fast_model=model, config=config) as agent:
        projection = agent._models.system1.input_projection
        threads: list[int] = []

        class Spy:
            kind = projection.kind

            def __call__(self, feeds):
                threads.append(threading.get_ident())
                return projection(feeds)

        agent._models.system1.input_projection = Spy()
        thoughts = [await agent.infer(x) for x in xs]
        assert len(threads) == len(xs) and threading.get_ident() not in threads  # in the input thread only
        stored = agent.memory.episodic.get([t.episode_id for t in thoughts])
        for episode, x in zip(stored, xs, strict=True):
            np.testing.assert_allclose(episode.vector, projection({"x": x}), rtol=1e-2, atol=1e-2)  # float16
        assert [(await agent.recall(x, k=1))[0].id for x in xs] == [t.episode_id for t in thoughts]


def test_fingerprints_rule_cache_entries_out_without_false_negatives() -> None:
    from cognition.systems import Answer, System1, fingerprint
    from memory_store import WorkingMemory

    rng = np.random.default_rng(0)
    xs = [rng.random((1, 3, 40, 40), dtype=np.float32) for _ in range(6)]
    assert fingerprint(xs[0]) == fingerprint(xs[0].copy()) and fingerprint(xs[0]) != fingerprint(xs[1])
    assert fingerprint(xs[0]) != fingerprint(xs[0].reshape(1, 3, 1600))  # the shape counts
    answer = Answer(np.zeros(3), np.zeros(3), 0, 1.0, np.zeros(4, np.float32))
    system1 = System1(None, WorkingMemory(4), cache_size=3, near_duplicate=None)  # type: ignore[arg-type]
    for i, x in enumerate(xs[:4]):
        system1.remember(bytes([i]) * 16, answer, from_system2=False, vector=np.zeros(4), fingerprint=fingerprint(x))
    assert not system1.may_hold(fingerprint(xs[0]))  # evicted (LRU of 3)
    assert all(system1.may_hold(fingerprint(x)) for x in xs[1:4]) and not system1.may_hold(fingerprint(xs[5]))
    system1.forget(bytes([2]) * 16)
    assert not system1.may_hold(fingerprint(xs[2])) and system1.may_hold(fingerprint(xs[3]))
    system1.clear()
    assert not any(system1.may_hold(fingerprint(x)) for x in xs)


def test_lone_calls_in_slices_with_input_jobs_under_asyncio(digit_stream, model_path, tmp_path, monkeypatch) -> None:
    import cognition.agent as agent_module

    monkeypatch.setattr(agent_module, "OVERLAP_MIN_S", 0.0)
    config = AgentConfig(inline_max_s=0.0, inline_slice_s=1e-9)
    inputs = digit_stream(8)

    async def main() -> tuple[list[Thought], int]:
        ticks = 0
        async with Agent(model_path, memory=tmp_path / "a.db", config=config) as agent:
            done = anyio.Event()

            async def ticker() -> None:
                nonlocal ticks
                while not done.is_set():
                    ticks += 1
                    await anyio.lowlevel.checkpoint()

            async with anyio.create_task_group() as tg:
                tg.start_soon(ticker)
                thoughts = [await agent.infer(x) for x in inputs]
                done.set()
            stored = agent.memory.episodic.get([t.episode_id for t in thoughts])
            for episode, x in zip(stored, inputs, strict=True):
                np.testing.assert_array_equal(episode.input, x[None])
        return thoughts, ticks

    thoughts, ticks = anyio.run(main, backend="asyncio")
    assert len({t.episode_id for t in thoughts}) == len(inputs) and ticks >= 2 * len(inputs)


@pytest.mark.parametrize("slice_s", [1e-9, 0.5])
async def test_a_stream_of_lone_inline_calls_yields_to_the_loop_every_millisecond(
    digit_stream, model_path, slice_s
) -> None:
    # a tiny model's lone call runs and commits on the loop; it yields only once LONE_YIELD_S (1 ms) or
    # inline_slice_s, if shorter, has passed since its last yield (a yield costs ~11 µs): other tasks still
    # run that often
    from cognition.episodes import LONE_YIELD_S

    inputs = digit_stream(200)
    ticks = [0]
    async with Agent(model_path, memory=":memory:", config=AgentConfig(inline_slice_s=slice_s)) as agent:
        assert agent._models.system2.inline  # the digits MLP runs inline
        done = trio.Event()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_tick, ticks, done)
            await trio.lowlevel.checkpoint()  # the ticker's first tick
            start, began = ticks[0], trio.current_time()
            for x in inputs:
                await agent.infer(x)
            seen, elapsed = ticks[0] - start, trio.current_time() - began
            done.set()
    if slice_s < LONE_YIELD_S:
        assert seen >= len(inputs) - 1  # every call yielded (the last one's tick may come after it returns)
    else:
        assert 1 <= seen <= elapsed / LONE_YIELD_S + 2  # at most one yield a millisecond (and a sleep trigger)


async def test_a_cancelled_lone_inline_call_still_stores_its_episode(digit_stream, model_path) -> None:
    # between its yields a lone call is still a cancel point: cancelled before it starts, it raises after its
    # row is committed (nothing returned is lost; the stored row is not lost either)
    x = digit_stream(1)[0]
    async with Agent(model_path, memory=":memory:", config=AgentConfig(inline_slice_s=10.0)) as agent:
        await agent.infer(x)  # the yield of the first call: the next ones are inside the slice
        with trio.CancelScope() as scope:
            scope.cancel()
            await agent.infer(x + np.float32(0.5))
        assert scope.cancelled_caught
        assert agent.statistics().episodes_stored == 2


def test_opening_compiles_the_per_call_kernels(model_path) -> None:
    # a fresh process: after build_models, the first infer finds every per-call kernel compiled (or loaded from
    # numba's cache) for the signatures it uses, instead of compiling them itself (~1.5 s on a fresh install)
    import subprocess
    import sys

    script = f"""
import numpy as np
from cognition import perception, router, vectors
from cognition.config import AgentConfig
from cognition.models import build_models
models = build_models({str(model_path)!r}, None, AgentConfig())
kernels = [perception._finite, perception._moments, router._top_two, router._below, vectors._observe]
before = [len(k.signatures) for k in kernels]
window = vectors.VectorWindow(1024, min(models.feature_dim, 128), 1)
quantile = router.RunningQuantile(64)
x = np.random.default_rng(0).random((1, 64), dtype=np.float32)
feeds = models.perception.check(x)
models.perception.percept(feeds)
answer = models.system1.run_sync(feeds)
for _ in range(3):
    window.observe(answer.features)
    quantile.place(0.5)
print(before, [len(k.signatures) for k in kernels])
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=".")
    before, after = out.stdout.strip().split("] [")
    assert "0" not in before.strip("[").split(", ")  # each one ready before the first call
    assert before.strip("[") == after.strip("]")  # and the calls added no signature
