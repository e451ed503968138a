"""The agent cycle end to end under trio (pytest-trio) and asyncio (anyio)."""

from __future__ import annotations

import dataclasses

import anyio
import anyio.lowlevel
import numpy as np
import pytest
import trio
from tiny_models import conv_head, mlp

import memory_store
from cognition.agent import Agent
from cognition.config import AgentConfig, Thought
from cognition.errors import AgentNotRunningError, BackgroundTaskError
from engine.errors import InvalidInputError
from engine.session import InferenceSession


async def test_infer_returns_a_frozen_thought_and_stores_it(model_path, fast_graph, samples) -> None:
    async with Agent(model_path, memory=":memory:", fast_model=fast_graph) as agent:
        thought = await agent.infer(samples[0][0])
        assert isinstance(thought, Thought) and thought.route in ("system1", "system2")
        assert thought.output.shape == (10,) and 0 < thought.confidence <= 1 and thought.latency_s > 0
        with pytest.raises(dataclasses.FrozenInstanceError):
            thought.route = "cache"  # type: ignore[misc]
        [stored] = agent.memory.episodic.get([thought.episode_id])
        assert stored.route == thought.route
        np.testing.assert_array_equal(stored.input, samples[0][:1])
        # the percept's digest is the stored input digest: find_input finds the episode
        assert agent.memory.episodic.find_input(samples[0][:1]) == [thought.episode_id]
        again = await agent.infer(samples[0][0])
        assert again.route == "cache" and again.prediction == thought.prediction
        stats = agent.statistics()
        assert stats.routes["cache"] == 1 and stats.episodes_stored == 2 and stats.cache_hits == 1
        assert "fast_model" in stats.system1
        with pytest.raises(dataclasses.FrozenInstanceError):
            stats.escalations = 3  # type: ignore[misc]


async def test_thousand_concurrent_infers_are_answered_and_stored(digit_stream, model_path, fast_graph) -> None:
    inputs = digit_stream(1000)
    thoughts: list[Thought | None] = [None] * len(inputs)
    async with Agent(model_path, memory=":memory:", fast_model=fast_graph) as agent:
        for x in inputs[:5]:  # lone calls just before: the first concurrent one need not yield to the others
            await agent.infer(x + np.float32(1.0))

        async def one(i: int) -> None:
            thoughts[i] = await agent.infer(inputs[i])

        async with trio.open_nursery() as nursery:
            for i in range(len(inputs)):
                nursery.start_soon(one, i)
        ids = [t.episode_id for t in thoughts if t is not None]
        assert len(ids) == 1000 and len(set(ids)) == 1000
        assert agent.memory.episodic.count() == 1005
        # concurrent calls shared commits: only the first ~1 ms of calls run alone before the loop lets the
        # other callers in (yielding every 20 ms, ~150 ran alone one after another: 44-85 commits)
        assert agent.statistics().commits < 5 + 20  # the 5 lone calls, then a few shared commits


async def test_cancellation_loses_nothing_returned(digit_stream, model_path, fast_graph, samples, tmp_path) -> None:
    returned: list[Thought] = []
    path = tmp_path / "agent.db"
    async with Agent(model_path, memory=path, fast_model=fast_graph) as agent:
        async with trio.open_nursery() as nursery:
            for x in digit_stream(2000):

                async def one(x: np.ndarray = x) -> None:
                    returned.append(await agent.infer(x))
                    if len(returned) == 300:
                        nursery.cancel_scope.cancel()  # in the middle: many calls queued or running

                nursery.start_soon(one)
        assert 300 <= len(returned) < 2000
        after = await agent.infer(samples[0][1])  # the agent still works
    with memory_store.open_memory(path) as memory:
        stored = memory.episodic.get([t.episode_id for t in [*returned, after]])
        assert [e.id for e in stored] == [t.episode_id for t in [*returned, after]]


async def test_deferred_cancellation_and_racing_flushes_lose_nothing_returned(
    digit_stream, model_path, tmp_path
) -> None:
    # deferred: callers queue without waking the writer; full batches (64), flushes racing them and a cancelled
    # crowd must still leave every returned Thought's row stored with its own input
    config = AgentConfig(durability="deferred", max_batch=64, flush_interval_s=0.02)
    returned: list[tuple[Thought, np.ndarray]] = []
    path = tmp_path / "agent.db"
    async with Agent(model_path, memory=path, config=config) as agent:
        async with trio.open_nursery() as nursery:

            async def flusher() -> None:
                while True:
                    await agent.flush()
                    await trio.sleep(0.003)

            nursery.start_soon(flusher)
            for x in digit_stream(1500):

                async def one(x: np.ndarray = x) -> None:
                    returned.append((await agent.infer(x), x))
                    if len(returned) == 400:
                        nursery.cancel_scope.cancel()  # in the middle: many calls queued or running

                nursery.start_soon(one)
        assert 400 <= len(returned) < 1500
    ids = [t.ticket.id for t, _ in returned]
    assert None not in ids and len(set(ids)) == len(ids)  # closing committed every queued row
    with memory_store.open_memory(path) as memory:
        stored = memory.episodic.get(ids, with_payload=True)
    for episode, (_, x) in zip(stored, returned, strict=True):
        np.testing.assert_array_equal(episode.input, x[None])


async def test_bad_input_raises_and_stores_nothing(model_path, fast_graph) -> None:
    async with Agent(model_path, memory=":memory:", fast_model=fast_graph) as agent:
        for bad in (np.zeros(10, np.float32), np.zeros(64, np.int64), np.full(64, np.inf, np.float32), None):
            with pytest.raises(InvalidInputError):
                await agent.infer(bad)
        with pytest.raises(InvalidInputError):
            await agent.infer(np.zeros(64, np.float32), budget_s=-1)
        assert agent.memory.episodic.count() == 0 and agent.statistics().pending_writes == 0


async def test_reopen_recalls_what_was_stored(model_path, fast_graph, samples, tmp_path) -> None:
    path = tmp_path / "memory.db"
    pixels = samples[0]
    async with Agent(model_path, memory=path, fast_model=fast_graph) as agent:
        first = [await agent.infer(x) for x in pixels[:20]]
        await agent.feedback(first[3], label=int(samples[1][3]))
    async with Agent(model_path, memory=path, fast_model=fast_graph) as agent:
        assert agent.statistics().episodes_total == 20
        [nearest, *_] = await agent.recall(pixels[3], k=3)
        assert nearest.id == first[3].episode_id and nearest.distance < 1e-2
        assert nearest.label == int(samples[1][3])
        assert agent.statistics().novelty_window == 20  # the window was reloaded from the rows


async def test_an_agent_given_a_session_reopens_its_memory_with_what_it_learned(tmp_path) -> None:
    # the learner's feature session (the extractor in front of the dense head) was cut from the given session's
    # own graph: its optimization deleted the head's weights there, and the next open could not push the
    # learned weights into that session ("no initializer named 'wf'")
    model = conv_head()
    x = np.random.default_rng(0).random((3, 8, 8), dtype=np.float32)
    answers = []
    for _ in range(2):
        session = InferenceSession(model)
        async with Agent(session, memory=tmp_path / "a.db") as agent:
            assert agent.statistics().learning.startswith("dense head (wf, bf)")
            thought = await agent.infer(x)
            await agent.feedback(thought, label=(thought.prediction + 1) % 4)  # a lesson that moves the weights
            answers.append(np.asarray(session.graph.initializers["wf"]).copy())
        assert set(session.graph.initializers) >= {"w", "wf", "bf"}
    assert not np.array_equal(answers[0], InferenceSession(model).graph.initializers["wf"])  # it learned


async def test_deferred_durability_flush_and_feedback(model_path, fast_graph, samples, tmp_path) -> None:
    config = AgentConfig(durability="deferred", flush_interval_s=10.0)
    async with Agent(model_path, memory=tmp_path / "d.db", fast_model=fast_graph, config=config) as agent:
        thoughts = [await agent.infer(x) for x in samples[0][:10]]
        assert all(t.episode_id is None for t in thoughts)
        await agent.feedback(thoughts[0], label=1)  # waits for the commit
        await agent.flush()
        assert agent.memory.episodic.count() == 10 and agent.statistics().pending_writes == 0
        more = [await agent.infer(x) for x in samples[0][10:15]]
    with memory_store.open_memory(tmp_path / "d.db") as memory:  # __aexit__ flushed the rest
        assert memory.episodic.count() == 15 and len(more) == 5


async def test_copies_of_a_deferred_thought_take_feedback(model_path, samples) -> None:
    import copy
    import pickle

    config = AgentConfig(durability="deferred", flush_interval_s=30.0)  # nothing commits on its own meanwhile
    async with Agent(model_path, memory=":memory:", config=config) as agent:
        thought = await agent.infer(samples[0][0])
        early = pickle.loads(pickle.dumps(thought))  # before the commit: no id to carry
        with anyio.fail_after(5):  # a copy shares the original's ticket: it waited forever for its own
            await agent.feedback(copy.deepcopy(thought), label=1)
        with pytest.raises(InvalidInputError, match="pickled before its episode was committed"):
            await agent.feedback(early, label=2)
        late = pickle.loads(pickle.dumps(thought))  # after the commit: carries its id
        await agent.feedback(late, label=3)
        assert agent.memory.episodic.get([thought.ticket.id])[0].label == 3


async def test_feedback_calibrates_the_threshold(model_path, fast_graph, samples) -> None:
    config = AgentConfig(calibration_min_feedback=20, system1_target_accuracy=0.9, initial_threshold=0.999)
    async with Agent(model_path, memory=":memory:", fast_model=fast_graph, config=config) as agent:
        for x, y in zip(*samples, strict=True):
            await agent.feedback(await agent.infer(x), label=int(y))
        stats = agent.statistics()
        assert stats.feedback == 32 and stats.threshold < 0.999
        with pytest.raises(InvalidInputError):
            await agent.feedback(1)
        with pytest.raises(memory_store.UnknownIdError):
            await agent.feedback(10_000, label=1)
        # a label outside the model's 10 classes: a clear error, nothing recorded or learned
        thought = await agent.infer(samples[0][0])
        for bad in (10, 99, -1):
            with pytest.raises(InvalidInputError, match="0 to 9"):
                await agent.feedback(thought, label=bad)
        for reward in (True, float("nan"), "1"):  # a bool is no reward (as it is no label)
            with pytest.raises(InvalidInputError, match="reward must be a finite number"):
                await agent.feedback(thought, reward=reward)  # type: ignore[arg-type]
        with pytest.raises(InvalidInputError, match="budget_s must be a number > 0"):
            await agent.infer(samples[0][1], budget_s=True)
        assert agent.statistics().feedback == 32 and agent.memory.episodic.get([thought.episode_id])[0].label is None


async def test_budget_keeps_system2_out(model_path, fast_graph, samples) -> None:
    config = AgentConfig(initial_threshold=1.0, near_duplicate_similarity=None)  # would escalate everything
    async with Agent(model_path, memory=":memory:", fast_model=fast_graph, config=config) as agent:
        assert (await agent.infer(samples[0][0])).route == "system2"
        thought = await agent.infer(samples[0][1], budget_s=1e-9)
        assert thought.route == "system1" and "budget" in thought.reason
        assert agent.statistics().budget_limited == 1


async def test_background_failure_reaches_callers(model_path, fast_graph, samples) -> None:
    async with Agent(model_path, memory=":memory:", fast_model=fast_graph) as agent:

        def broken(episodes, wait=True):
            raise OSError("disk full")

        agent._writer.commit_rows = broken
        with pytest.raises(BackgroundTaskError) as info:
            await agent.infer(samples[0][0])
        assert isinstance(info.value.__cause__, OSError)
        with pytest.raises(BackgroundTaskError):
            await agent.infer(samples[0][1])
        agent._writer.failure = None  # let __aexit__ close cleanly


async def test_a_failed_deferred_commit_reaches_flush_later_calls_and_exit(model_path, samples) -> None:
    config = AgentConfig(durability="deferred", flush_interval_s=0.01)
    with pytest.raises(BackgroundTaskError) as at_exit:
        async with Agent(model_path, memory=":memory:", config=config) as agent:

            def broken(episodes, wait=True):
                raise OSError("disk full")

            agent._writer.commit_rows = broken
            assert not agent._writer.deferred_in_thread  # the digits MLP runs inline: batches commit on the loop
            thought = await agent.infer(samples[0][0])  # queued: its commit fails later
            with pytest.raises(BackgroundTaskError) as info:
                await agent.flush()
            assert isinstance(info.value.__cause__, OSError) and thought.episode_id is None
            with pytest.raises(BackgroundTaskError):
                await agent.infer(samples[0][1])
            with pytest.raises(BackgroundTaskError):
                await agent.feedback(thought, label=1)
    assert isinstance(at_exit.value.__cause__, OSError)  # a failure nobody waited on does not pass silently


async def test_default_system1_is_the_ternarized_model(model_path, samples) -> None:
    session = InferenceSession(model_path)
    async with Agent(session, memory=":memory:") as agent:
        assert "ternarized" in agent.statistics().system1
        assert (await agent.infer(samples[0][0])).prediction in range(10)
    with pytest.raises(AgentNotRunningError):
        await agent.infer(samples[0][0])


def test_runs_under_asyncio(model_path, fast_graph, samples) -> None:
    async def main() -> list[int]:
        async with Agent(model_path, memory=":memory:", fast_model=fast_graph) as agent:
            thoughts = []

            async def one(x: np.ndarray) -> None:
                thoughts.append(await agent.infer(x))

            async with anyio.create_task_group() as tg:
                for x in samples[0]:
                    tg.start_soon(one, x)
            await agent.feedback(thoughts[0], label=1)
            assert len(await agent.recall(samples[0][0], k=2)) == 2
            return [t.episode_id for t in thoughts]

    ids = anyio.run(main, backend="asyncio")
    assert sorted(ids) == list(range(1, 33))


@pytest.mark.parametrize("backend", ["trio", "asyncio"])
def test_an_exception_of_the_body_comes_out_as_it_was(model_path, backend) -> None:
    # the agent's task group is its own business: no ExceptionGroup around what the caller's code raised
    async def main() -> None:
        with pytest.raises(ValueError, match="the caller's") as info:
            async with Agent(model_path, memory=":memory:") as agent:
                await agent.infer(np.zeros(64, np.float32))
                raise ValueError("the caller's own error")
        assert info.value.__suppress_context__ and agent.statistics().episodes_stored == 1
        with anyio.move_on_after(0.3) as scope:  # a cancellation from outside still just cancels
            async with Agent(model_path, memory=":memory:") as agent:
                while True:
                    await agent.infer(np.zeros(64, np.float32))
        assert scope.cancelled_caught

    anyio.run(main, backend=backend)


async def test_a_thought_changed_in_place_leaves_the_caches_alone(model_path, samples) -> None:
    # exact cache (the same input) and near-duplicate cache (System 2's answer for a nearby one)
    config = AgentConfig(initial_threshold=1.0, near_duplicate_similarity=0.9, quantile_warmup=10**6)
    async with Agent(model_path, memory=":memory:", config=config) as agent:
        x = samples[0][0]
        first = await agent.infer(x)
        assert first.route == "system2"  # a threshold of 1 escalates: the answer goes to both caches
        kept = first.output.copy()
        first.output[:] = 0.0  # the caller scales or clears its answer in place
        again = await agent.infer(x)
        assert again.route == "cache" and np.array_equal(again.output, kept)
        again.output[:] = -1.0
        near = await agent.infer(x + np.float32(1e-4))  # another digest, nearly the same vector
        assert near.route == "cache" and "near-duplicate" in near.reason and np.array_equal(near.output, kept)
        near.output[:] = 5.0
        assert np.array_equal((await agent.infer(x)).output, kept)


def test_bad_constructor_arguments_raise_at_once(model_path) -> None:
    with pytest.raises(InvalidInputError, match="memory must be a path"):
        Agent(model_path, memory=123)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="config must be an AgentConfig"):
        Agent(model_path, config={"durability": "deferred"})  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="model is required"):
        Agent(None)


@pytest.mark.parametrize(
    ("fast", "message"),
    [
        (mlp(8, 16, 5, seed=1), "has 5 values; the model's 'y' has 10"),
        (mlp(6, 16, 10, seed=1), "input 'x' is float32 \\[6\\] per sample; the model's is float32 \\[8\\]"),
        (mlp(8, 16, 10, seed=1, name="z"), "inputs \\['z'\\] differ"),
    ],
)
async def test_a_fast_model_that_does_not_fit_the_model_is_refused_at_open(fast: bytes, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        async with Agent(mlp(8, 16, 10), memory=":memory:", fast_model=fast):
            pass
    async with Agent(mlp(8, 16, 10), memory=":memory:", fast_model=mlp(8, 16, 10, seed=2)) as agent:
        assert (await agent.infer(np.full(8, 0.5, np.float32))).output.shape == (10,)


def test_config_is_checked_and_frozen() -> None:
    with pytest.raises(InvalidInputError, match="durability"):
        AgentConfig(durability="sometimes")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="novelty_quantile"):
        AgentConfig(novelty_quantile=2.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        AgentConfig().budget_s = 1.0  # type: ignore[misc]


def test_cognition_stores_episodes_only_through_memory_store() -> None:
    import ast
    from pathlib import Path

    import cognition

    for path in Path(cognition.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not imported & {"sqlite3", "sqlalchemy"}, f"{path.name} reaches past memory_store's API"


async def test_commit_waits_out_another_process_without_blocking_the_loop(model_path, samples, tmp_path) -> None:
    import sqlite3

    import trio

    db = tmp_path / "agent.db"
    async with Agent(model_path, memory=db, fast_model=model_path) as agent:
        await agent.infer(samples[0][0])
        other = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock for 0.2 s
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await trio.sleep(0.01)
                ticks += 1

        async with trio.open_nursery() as nursery:
            nursery.start_soon(tick)
            await trio.to_thread.run_sync(lambda: None)
            trio.lowlevel.current_trio_token().run_sync_soon(lambda: None)
            with trio.fail_after(10):
                async with trio.open_nursery() as inner:
                    inner.start_soon(agent.infer, samples[0][1])
                    await trio.sleep(0.2)
                    other.execute("COMMIT")
            nursery.cancel_scope.cancel()
        other.close()
        assert ticks >= 10  # the loop kept running while the commit waited in a worker thread
        assert agent.statistics().episodes_stored == 2
