#!/usr/bin/env python
"""Routing, escalation and recall on a stream of inputs: what the agent's HRM does and why.

Streams the bundled held-out digits (no scikit-learn needed) through an Agent whose System 1 is the
quantization-aware-trained ternary twin of the digits MLP, gives label feedback, then shows a repeated input
hitting the cache, a tight time budget keeping System 2 out, and recall of the nearest stored episodes.
"""

from __future__ import annotations

import numpy as np
import trio

import ronn
from engine.quantize import ternarize
from ronn.cli import DATA


async def main() -> None:
    samples = np.load(DATA / "digits_samples.npz")
    pixels, labels = samples["pixels"], samples["labels"]
    fast = ternarize(DATA / "digits_mlp_qat.onnx")
    config = ronn.AgentConfig(calibration_min_feedback=10, system1_target_accuracy=0.95)
    async with ronn.Agent(
        DATA / "digits_mlp.onnx", memory=":memory:", fast_model=fast, config=config
    ) as agent:
        print("routing (first 8 of the stream):")
        for x, y in zip(pixels, labels, strict=True):
            thought = await agent.infer(x)
            await agent.feedback(thought, label=int(y))
            if thought.episode_id is not None and thought.episode_id <= 8:
                print(f"  label {y} -> {thought.prediction} via {thought.route:7s} ({thought.reason})")
        # Feedback changed the weights, so the answers cached before it were dropped: the first repeat is
        # computed again, the second comes from the exact cache.
        await agent.infer(pixels[0])
        again = await agent.infer(pixels[0])
        print(f"repeat of the first input: route {again.route} ({again.reason})")
        noisy = np.clip(pixels[5] + np.random.default_rng(0).normal(0, 0.35, 64), 0, 1).astype(np.float32)
        hurried = await agent.infer(noisy, budget_s=1e-6)
        print(f"noisy input with a 1 µs budget: route {hurried.route} ({hurried.reason})")
        nearest = await agent.recall(pixels[3], k=3)
        print("recall of input 3:", [(e.id, e.label, round(e.distance or 0.0, 3)) for e in nearest])
        stats = agent.statistics()
        print(
            f"routes {dict(stats.routes)}; threshold {stats.threshold:.3f}; episodes {stats.episodes_stored}"
        )


if __name__ == "__main__":
    trio.run(main)
