"""Learning in the running agent: feedback moves the fast weights into the sessions at once, and what was
learned persists in the memory (learn, close, reopen: same weights, same accuracy)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits
from tiny_models import mlp

from cognition.agent import Agent
from cognition.config import AgentConfig
from cognition.learning import LearningConfig

SHIFTED = 3  # the lesson: digit d is now called (d + 3) % 10, which the bundled model never saw


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    x, y = load_digits(return_X_y=True)
    return (x / 16.0).astype(np.float32), y.astype(np.int64)


def _system2_accuracy(agent: Agent, x: np.ndarray, y: np.ndarray) -> float:
    session = agent._models.system2.session  # what System 2 runs now (the effective weights)
    out = session.run([agent._models.system2.score_output], {session.get_inputs()[0].name: x})[0]
    return float((out.argmax(axis=1) == y).mean())


async def test_feedback_updates_the_fast_weights_and_system2_at_once(model_path, digits) -> None:
    x, y = digits
    async with Agent(model_path, memory=":memory:") as agent:
        adaptation = agent._adaptation
        assert adaptation is not None and agent.statistics().learning.startswith("dense head (w1, b1, w2, b2)")
        session = agent._models.system2.session
        before = {n: session.graph.initializers[n].copy() for n in adaptation.head.parameter_names}
        thought = await agent.infer(x[0])
        await agent.feedback(thought, label=(int(y[0]) + SHIFTED) % 10)
        assert agent.statistics().fast_updates == 1
        effective = adaptation.learner.effective_weights()
        for name, value in effective.items():
            np.testing.assert_array_equal(session.graph.initializers[name], value)
            assert not np.array_equal(before[name], value) or name.startswith("b")
        [stored] = agent.memory.episodic.get([thought.episode_id], with_payload=False)
        assert stored.label == (int(y[0]) + SHIFTED) % 10
        # a positive reward confirms the answer given: one more fast step toward it
        again = await agent.infer(x[1])
        await agent.feedback(again, reward=1.0)
        assert agent.statistics().fast_updates == 2


async def test_learning_persists_across_reopening(model_path, digits, tmp_path: Path) -> None:
    x, y = digits
    shifted = (y + SHIFTED) % 10
    train, test = slice(0, 600), slice(1200, 1797)
    path = tmp_path / "agent.db"
    config = AgentConfig(learning=LearningConfig(epochs=20))
    async with Agent(model_path, memory=path, config=config) as agent:
        start = _system2_accuracy(agent, x[test], shifted[test])
        for xi, yi in zip(x[train], shifted[train], strict=True):
            await agent.feedback(await agent.infer(xi), label=int(yi))
        report = await agent.sleep()
        assert report.learned == 600 and report.loss is not None and report.fisher
        for xi, yi in zip(x[600:700], shifted[600:700], strict=True):  # fast weights after the sleep
            await agent.feedback(await agent.infer(xi), label=int(yi))
        learned = _system2_accuracy(agent, x[test], shifted[test])
        weights = agent._adaptation.learner.effective_weights()  # type: ignore[union-attr]
    assert start < 0.2 and learned > 0.8, (start, learned)
    async with Agent(model_path, memory=path, config=config) as reopened:
        assert _system2_accuracy(reopened, x[test], shifted[test]) == learned
        for name, value in reopened._adaptation.learner.effective_weights().items():  # type: ignore[union-attr]
            np.testing.assert_array_equal(value, weights[name])
        assert reopened.statistics().fast_updates == 700


async def test_an_agent_that_does_not_learn_keeps_its_weights(model_path, digits) -> None:
    x, y = digits
    async with Agent(model_path, memory=":memory:", config=AgentConfig(learn=False)) as agent:
        before = _system2_accuracy(agent, x, y)
        for i in range(20):
            await agent.feedback(await agent.infer(x[i]), label=(int(y[i]) + 1) % 10)
        await agent.sleep()
        assert _system2_accuracy(agent, x, y) == before
        assert agent.statistics().learning.startswith("off")


@pytest.mark.parametrize("inputs", [64, 8192])  # kept in process (256 B), read back from the episode (32 KB)
async def test_feedback_learns_from_the_input_as_it_was_when_inferred(inputs: int, tmp_path: Path) -> None:
    model = mlp(inputs, 16, 4, scaled=True)
    async with Agent(model, memory=tmp_path / "m.db", fast_model=model) as agent:
        assert agent._adaptation is not None
        seen: list[np.ndarray] = []
        step = agent._adaptation.feedback_sync
        agent._adaptation.feedback_sync = lambda x, label: (seen.append(np.array(x)), step(x, label))[1]
        buffer = np.full(inputs, 0.5, np.float32)
        thought = await agent.infer(buffer)
        assert len(agent._feedback._inputs) == (1 if inputs == 64 else 0)  # only small inputs are kept (copies)
        buffer[:] = -1.0  # the caller refills its array for the next call before the label arrives
        await agent.feedback(thought, label=2)
        assert len(seen) == 1 and np.all(seen[0] == 0.5)
