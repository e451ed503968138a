"""Sleep: its triggers, its steps (importance, replay, System 1, concepts, forgetting) and that inference goes
on while it runs."""

from __future__ import annotations

import dataclasses

import anyio
import numpy as np
import pytest
import trio
from sklearn.datasets import load_digits

from cognition.agent import Agent
from cognition.config import AgentConfig, SleepReport
from cognition.learning import LearningConfig
from cognition.worker_process import WorkerProcess
from memory_store import Consolidation


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    x, y = load_digits(return_X_y=True)
    return (x / 16.0).astype(np.float32), y.astype(np.int64)


async def _stream(agent: Agent, x: np.ndarray, y: np.ndarray, start: int, n: int, *, label: bool = True) -> None:
    for i in range(start, start + n):
        thought = await agent.infer(x[i % len(x)])
        if label:
            await agent.feedback(thought, label=int(y[i % len(y)]))


async def test_sleep_runs_every_step_and_reports_it(model_path, digits) -> None:
    x, y = digits
    config = AgentConfig(episode_capacity=150, learning=LearningConfig(epochs=3))
    async with Agent(model_path, memory=":memory:", config=config) as agent:
        await _stream(agent, x, y, 0, 300)
        report = await agent.sleep()
        assert isinstance(report, SleepReport) and report.reason == "called"
        with pytest.raises(dataclasses.FrozenInstanceError):
            report.episodes = 0  # type: ignore[misc]
        assert report.steps == ("index", "importance", "replay", "system1", "concepts", "consolidate", "forget", "save")
        assert set(report.step_s) == set(report.steps) and report.duration_s >= sum(report.step_s.values()) * 0.99
        assert report.scored == report.learned == report.consolidated == 300 and 0 < report.mean_importance < 1
        assert report.strategy == "replay_online_ewc" and report.fisher and report.loss is not None
        assert report.system1_agreement_before is not None and report.system1_agreement_after is not None
        assert report.system1_updated == (report.system1_agreement_after >= report.system1_agreement_before)
        # forgetting: down to the capacity, rows and index points together, the most important kept
        assert report.forgotten == 150 and report.episodes == 150 == agent.memory.episodic.count()
        assert agent.statistics().episodes_total == 150 and agent.statistics().episodes_stored == 300
        kept = agent.memory.episodic.between(limit=1000, with_payload=True)
        assert {e.consolidation for e in kept} == {Consolidation.CONSOLIDATED}
        assert all(0.0 <= e.importance <= 1.0 for e in kept)
        assert kept[0].vector is not None
        found = agent.memory.episodic.search(kept[0].vector, k=400)  # the index holds the kept rows only
        assert sorted(e.id for e in found) == sorted(e.id for e in kept)
        # concepts with prototypes in the knowledge graph, related to each other and to their labels
        clusters = agent.memory.semantic.concepts_named("cluster/")
        assert len(clusters) == report.concepts > 0 and report.relations > 0
        assert all(c.prototype is not None and c.prototype.shape == kept[0].vector.shape for c in clusters)
        labelled = agent.memory.semantic.concepts_named("label/")
        assert labelled and any(r.type == "has_label" for c in clusters for r in agent.memory.semantic.relations(c.id))
        # a second sleep replays the consolidated episodes with the new ones
        await _stream(agent, x, y, 300, 100)
        second = await agent.sleep()
        assert second.replayed > 0 and second.learned == 100
        assert agent.statistics().sleeps == 2 and agent.statistics().last_sleep == second


async def test_sleep_triggers_every_n_episodes(model_path, digits) -> None:
    x, y = digits
    async with Agent(model_path, memory=":memory:", config=AgentConfig(sleep_every_episodes=50)) as agent:
        await _stream(agent, x, y, 0, 120, label=False)
        with trio.fail_after(10):
            while agent.statistics().sleeps < 2:
                await trio.sleep(0.01)
        assert agent.statistics().last_sleep.reason == "episodes"  # type: ignore[union-attr]


async def test_sleep_triggers_on_interval_and_on_idleness(model_path, digits) -> None:
    x, y = digits
    async with Agent(model_path, memory=":memory:", config=AgentConfig(sleep_interval_s=0.1)) as agent:
        with trio.fail_after(10):
            while agent.statistics().sleeps < 2:
                await trio.sleep(0.01)
        assert agent.statistics().last_sleep.reason == "interval"  # type: ignore[union-attr]
    async with Agent(model_path, memory=":memory:", config=AgentConfig(sleep_idle_s=0.1)) as agent:
        await trio.sleep(0.3)
        assert agent.statistics().sleeps == 0  # nothing new: no sleep
        await _stream(agent, x, y, 0, 10, label=False)
        with trio.fail_after(10):
            while agent.statistics().sleeps < 1:
                await trio.sleep(0.01)
        assert agent.statistics().last_sleep.reason == "idle"  # type: ignore[union-attr]
        await trio.sleep(0.3)
        assert agent.statistics().sleeps == 1  # once per idle spell


async def test_inference_goes_on_during_sleep(model_path, digits) -> None:
    x, y = digits
    async with Agent(model_path, memory=":memory:", config=AgentConfig(learning=LearningConfig(epochs=30))) as agent:
        await _stream(agent, x, y, 0, 500)
        answered_during = 0
        async with trio.open_nursery() as nursery:
            done = trio.Event()

            async def sleeper() -> None:
                await agent.sleep()
                done.set()

            nursery.start_soon(sleeper)
            i = 500
            while not done.is_set():
                await agent.infer(x[i % len(x)])
                answered_during += 1 if not done.is_set() else 0
                i += 1
        assert answered_during > 10


async def test_strategy_and_dream_are_configurable(model_path, digits) -> None:
    x, y = digits
    config = AgentConfig(learning=LearningConfig(strategy="naive", epochs=2), dream=0.5, system1_refresh="ternarize")
    async with Agent(model_path, memory=":memory:", config=config) as agent:
        await _stream(agent, x, y, 0, 100)
        first = await agent.sleep()
        assert first.strategy == "naive" and not first.fisher and first.dreamed == 0
        await _stream(agent, x, y, 100, 100)
        second = await agent.sleep()
        assert second.replayed > 0 and second.dreamed == round(0.5 * second.replayed)


async def test_sleep_without_labels_consolidates_but_does_not_train(model_path, digits) -> None:
    x, y = digits
    async with Agent(model_path, memory=":memory:") as agent:
        await _stream(agent, x, y, 0, 50, label=False)
        report = await agent.sleep()
        assert "replay" not in report.steps and report.consolidated == 50 and report.learned == 0


async def _two_sleeps(agent: Agent, x: np.ndarray, y: np.ndarray) -> list[SleepReport]:
    await _stream(agent, x, y, 0, 300)
    first = await agent.sleep()
    await _stream(agent, x, y, 300, 100)
    return [first, await agent.sleep()]


def _counts(report: SleepReport) -> tuple[object, ...]:
    return (report.scored, report.learned, report.replayed, report.consolidated, report.forgotten,
            report.concepts, report.relations, report.episodes)


async def test_sleep_worker_thread_matches_the_process(model_path, digits, tmp_path, monkeypatch) -> None:
    """``sleep_worker="thread"`` never starts a process and does what the worker process does (same random
    stream, same reads): the same counts, concepts and relations, on a file (reads in the worker process)."""
    x, y = digits
    config = AgentConfig(episode_capacity=150, learning=LearningConfig(epochs=3))
    async with Agent(model_path, memory=tmp_path / "p.db", config=config) as agent:
        by_process = await _two_sleeps(agent, x, y)
        assert agent._sleeper.worker == "process"

    async def no_process(*args: object, **kwargs: object) -> None:
        raise AssertionError("sleep_worker='thread' started a process")

    monkeypatch.setattr(WorkerProcess, "run", no_process)
    thread_config = dataclasses.replace(config, sleep_worker="thread")
    async with Agent(model_path, memory=tmp_path / "t.db", config=thread_config) as agent:
        by_thread = await _two_sleeps(agent, x, y)
        assert agent._sleeper.worker == "thread"
        kept = agent.memory.episodic.between(limit=1000)
        assert len(kept) == 150 and {e.consolidation for e in kept} == {Consolidation.CONSOLIDATED}
    assert [_counts(r) for r in by_thread] == [_counts(r) for r in by_process]
    assert by_thread[1].replayed > 0 and by_thread[0].forgotten == 150


async def test_sleep_falls_back_to_the_thread_when_the_process_cannot_start(
    model_path, digits, tmp_path, monkeypatch
) -> None:
    x, y = digits
    calls = 0

    async def broken(*args: object, **kwargs: object) -> None:
        nonlocal calls
        calls += 1
        raise anyio.BrokenWorkerProcess("the worker process died on start")

    monkeypatch.setattr(WorkerProcess, "run", broken)
    config = AgentConfig(episode_capacity=150, learning=LearningConfig(epochs=3))
    async with Agent(model_path, memory=tmp_path / "m.db", config=config) as agent:
        first, second = await _two_sleeps(agent, x, y)
        assert agent._sleeper.worker.startswith("thread (the worker process failed")
        assert calls == 1  # tried once; every later step and sleep goes to the thread
    assert first.scored == first.learned == first.consolidated == 300 and first.forgotten == 150
    assert second.learned == 100 and second.replayed > 0 and second.concepts > 0
