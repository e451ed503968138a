"""Soak: a long run of inferences with feedback stays bounded (episodes by the capacity, process memory
steady after warm-up) while sleep learns, consolidates and forgets on its own schedule."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from sklearn.datasets import load_digits

from cognition.agent import Agent
from cognition.config import AgentConfig
from cognition.learning import LearningConfig

INFERENCES = 100_000
CAPACITY = 2_000
WARM_UP = 50_000  # the agent's bounded records (20,000 System 1 outcomes, caches) are full by then
RSS_GROWTH_MAX = 32 * 2**20


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads RSS from /proc")
async def test_100k_inferences_with_feedback_stay_bounded(model_path) -> None:
    x, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(0)
    bank = (x / 16.0 + rng.normal(0, 0.02, x.shape)).astype(np.float32)  # distinct inputs: few cache hits
    labels = y.astype(np.int64)
    config = AgentConfig(
        episode_capacity=CAPACITY,
        sleep_every_episodes=5_000,
        learning=LearningConfig(epochs=2),
        distill_epochs=2,
    )
    start = time.perf_counter()
    rss_warm = 0
    async with Agent(model_path, memory=":memory:", config=config) as agent:
        for i in range(INFERENCES):
            j = i % len(bank)
            thought = await agent.infer(bank[j])
            await agent.feedback(thought, label=int(labels[j]))
            if i == WARM_UP:
                rss_warm = _rss()
        final = await agent.sleep()
        stats = agent.statistics()
        rss_end = _rss()
        correct = 0
        for j in range(200):
            correct += (await agent.infer(bank[j])).prediction == labels[j]
    elapsed = time.perf_counter() - start
    assert stats.sleeps >= INFERENCES // 5_000
    assert final.episodes <= CAPACITY and agent.memory is not None
    assert rss_end - rss_warm < RSS_GROWTH_MAX, (rss_warm / 2**20, rss_end / 2**20)
    assert correct >= 190  # still knows the digits after 20 sleeps of replay
    print(f"soak: {elapsed:.1f} s, RSS {rss_warm / 2**20:.0f} -> {rss_end / 2**20:.0f} MiB, {stats.sleeps} sleeps")
