"""Does sleep stall inference? ``infer`` latency P95 idle vs. while the agent sleeps, and what a sleep costs.

The agent (bundled digits MLP, default ternary System 1, durable episodes in a file) first takes N labelled
episodes; then one task calls ``infer`` back to back (a new input each time, so no cache hits) while (a)
nothing else runs, (b) ``agent.sleep()`` runs in the same task group, repeatedly, until the measured calls
are done. One sleep runs before (a): it starts the sleep's worker process, which later sleeps reuse.
Target (issue 7): P95 during sleep within 1.5x of idle.

    .venv/bin/python benchmarks/bench_sleep.py [--episodes 2000] [--calls 3000] [--worker process|thread]
        [--niceness 0..19] [--json out.json]
"""

from __future__ import annotations

import _common  # noqa: I001  (sets BLAS thread variables before numpy loads)

_common.pin_single_thread()

import argparse  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import trio  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from cognition.agent import Agent  # noqa: E402
from cognition.config import AgentConfig, SleepReport  # noqa: E402
from ronn.cli import DATA  # noqa: E402


async def _measure(agent: Agent, inputs: np.ndarray, calls: int, offset: int) -> list[int]:
    samples = []
    for i in range(calls):
        t = time.perf_counter_ns()
        await agent.infer(inputs[(offset + i) % len(inputs)])
        samples.append(time.perf_counter_ns() - t)
    return samples


async def run(episodes: int, calls: int, worker: str = "process", niceness: int = 0) -> dict[str, Any]:
    x, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(0)
    inputs = (np.tile(x, (8, 1)) / 16.0 + rng.normal(0, 0.02, (8 * len(x), x.shape[1]))).astype(np.float32)
    labels = np.tile(y, 8)
    reports: list[SleepReport] = []
    config = AgentConfig(sleep_worker=worker, sleep_niceness=niceness)  # type: ignore[arg-type]
    with tempfile.TemporaryDirectory() as tmp:
        async with Agent(DATA / "digits_mlp.onnx", memory=Path(tmp) / "bench.db", config=config) as agent:
            for i in range(episodes):
                await agent.feedback(await agent.infer(inputs[i]), label=int(labels[i]))
            await agent.sleep()  # warm: the first sleep starts the worker process (~1 s of imports)
            await _measure(agent, inputs, 500, episodes)  # warm
            idle = await _measure(agent, inputs, calls, episodes + 500)
            done = trio.Event()
            during: list[int] = []

            async def sleeper() -> None:
                n = episodes + 500 + calls
                while not done.is_set():
                    for i in range(episodes):  # new labelled episodes, so every sleep has work
                        j = (n + i) % len(inputs)
                        await agent.feedback(await agent.infer(inputs[j]), label=int(labels[j]))
                    n += episodes
                    reports.append(await agent.sleep())

            async with trio.open_nursery() as nursery:
                nursery.start_soon(sleeper)
                while not agent._sleeper.running:  # measure only while a sleep runs
                    await trio.sleep(0)
                while len(during) < calls:
                    t = time.perf_counter_ns()
                    await agent.infer(inputs[len(during) % len(inputs)])
                    if agent._sleeper.running:
                        during.append(time.perf_counter_ns() - t)
                done.set()
    a, b = _common.Stats.from_ns(idle), _common.Stats.from_ns(during)
    last = reports[0]
    return {
        "idle": a.__dict__,
        "during_sleep": b.__dict__,
        "p95_ratio": b.p95_ms / a.p95_ms,
        "worker": worker,
        "niceness": niceness,
        "sleeps": len(reports),
        "sleep_s": [round(r.duration_s, 3) for r in reports],
        "first_sleep": {"steps": dict(last.step_s), "scored": last.scored, "learned": last.learned,
                        "agreement": [last.system1_agreement_before, last.system1_agreement_after]},
        "environment": _common.environment(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=2000)
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--worker", choices=["process", "thread"], default="process")
    parser.add_argument("--niceness", type=int, default=0, help="AgentConfig.sleep_niceness")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = trio.run(run, args.episodes, args.calls, args.worker, args.niceness)
    print(f"infer P50/P95 idle: {result['idle']['p50_ms'] * 1e3:.0f}/{result['idle']['p95_ms'] * 1e3:.0f} µs; "
          f"during sleep: {result['during_sleep']['p50_ms'] * 1e3:.0f}/{result['during_sleep']['p95_ms'] * 1e3:.0f}"
          f" µs; P95 ratio {result['p95_ratio']:.2f} (target <= 1.5); {result['sleeps']} sleeps of "
          f"{result['sleep_s']} s; array work in a {args.worker} (niceness {args.niceness})")
    print("first sleep:", result["first_sleep"])
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
