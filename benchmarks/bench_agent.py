#!/usr/bin/env python
"""Agent benchmark: infer overhead over a bare ``session.run``, throughput under 1,000 concurrent callers, and
the System 1 / System 2 cascade on the digits stream.

    python benchmarks/bench_agent.py [--quick] [--json out.json]
        [--only overhead|concurrent|cascade|breakdown|floor|tail|vm]

1. Overhead: one caller, distinct inputs, file-backed memory, the exact cache off and routing pinned to one
   system whose model is the measured model itself (so the difference is the agent: perception, routing,
   novelty search, episode row and its commit). Median ``infer`` minus median ``session.run`` (the two
   alternating call by call), durable (the default: a lone call runs its model on the event loop in slices
   and, for a model of 2 ms or more, stores its input meanwhile), deferred, and durable with
   ``inline_alone_max_s=0`` (every model slower than ``inline_max_s`` in a worker thread), on the digits MLP
   (64-64-10), on a 1024-2048x8-10 MLP built here (memory-bound: 130 MB of weights streamed per call, ~6 ms),
   on a six-layer CNN on 3x96x96 inputs built here (compute-bound, ~8 ms, 110 KB inputs: each episode
   hashes and stores its input) and on its fully convolutional twin on 3x160x160 (~17 ms, no dense layer: the
   episode vector is a projection of the 307 KB input).
2. Throughput: 1,000 tasks call ``infer`` at once (default routing, QAT System 1, durable commits).
3. Cascade: the 360 held-out digits streamed with label feedback; accuracy and System 1 share against
   System 2 alone, with System 1 = the QAT model ternarized, and with the default (post-training ternary).
Parts 4-7 are diagnostic probes, in ``agent_probes.py``; the models and pinned routing all share are in
``_agent_setup.py``.

4. Breakdown (``--only breakdown``, not in the default set): where a lone durable call's overhead goes on
   the models of >= 5 ms (and a 3x160x160 CNN of ~20 ms): before the run, the run over the bare run, after
   the run, and the input job's own time on its thread (the agent's methods wrapped with timers).
5. Tail (``--only tail``, not in the default set): p50/p99/p99.9/max of 20,000 lone durable calls on the
   digits MLP, with the indexer and the WAL checkpoints running beside them.
6. Floor (``--only floor``, not in the default set): on the models of 5-8 ms, what the two steps every lone
   durable call must take after its model's run cost there without any agent code around them: the
   episode row's commit (``EpisodicMemory.commit`` of one encoded episode whose input was stored ahead, as a
   lone call's) and one yield to the scheduler, each timed right after a bare run and warm (right after
   itself), as µs and as % of the bare run.
7. VM probe (``--only vm``, not in the default set): the same 16 µs of HRM scoring timed right after a gap
   of 0-8 ms of pure register arithmetic, and after a rehearsal (docs/agent.md: why a fixed per-call path
   costs ~5x its warm time after a model run on this VM).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))  # the repository's packages, also where the editable install predates them
from _common import big_mlp, environment, pin_single_thread  # noqa: E402

pin_single_thread()

import numpy as np  # noqa: E402
import trio  # noqa: E402
from _agent_setup import PINNED, conv_net, sample_inputs  # noqa: E402
from agent_probes import breakdown, floor, tail, vm_probe  # noqa: E402

from cognition.agent import Agent  # noqa: E402
from cognition.config import AgentConfig  # noqa: E402
from engine.quantize import ternarize  # noqa: E402
from engine.session import InferenceSession  # noqa: E402
from ronn.demo import FAST_MODEL, MODEL, load_digits_split, run_stream  # noqa: E402


async def agent_median(model: Path, xs: list[np.ndarray], variant: str, folder: Path) -> tuple[float, float]:
    """Median ``infer`` and median bare ``session.run``, the two alternating call by call (each on its own
    input), so both see the same machine load."""
    durability = "deferred" if variant == "deferred" else "durable"
    options = {"inline_alone_max_s": 0.0} if variant == "durable_threads" else {}
    config = AgentConfig(durability=durability, **options, **PINNED)  # type: ignore[arg-type]
    session = InferenceSession(model)
    name = session.get_inputs()[0].name
    async with Agent(session, memory=folder / f"{model.stem}-{variant}.db", fast_model=session, config=config) as agent:
        for x in xs[:5]:
            await agent.infer(x + np.float32(1.0))
            session.run(None, {name: x})
        times, bare = [], []
        for x in xs:
            start = time.perf_counter()
            await agent.infer(x)
            times.append(time.perf_counter() - start)
            start = time.perf_counter()
            session.run(None, {name: x + np.float32(2.0)})
            bare.append(time.perf_counter() - start)
    return statistics.median(times), statistics.median(bare)


def overhead(model: Path, n: int, folder: Path) -> dict[str, float]:
    session = InferenceSession(model)
    xs = sample_inputs(session, n)
    out = {}
    for variant in ("durable", "deferred", "durable_threads"):
        median, bare = trio.run(agent_median, model, xs, variant, folder)
        out[f"bare_run_us ({variant})"] = bare * 1e6
        out[f"infer_{variant}_us"] = median * 1e6
        out[f"overhead_{variant}_us"] = (median - bare) * 1e6
        out[f"overhead_{variant}_pct"] = 100 * (median / bare - 1)
    return out


async def concurrent(n: int, folder: Path, durability: str) -> dict[str, float]:
    x, _, _, _ = load_digits_split()
    xs = [x[i % len(x)] + np.float32(1e-3 * (i // len(x))) for i in range(n)]
    config = AgentConfig(durability=durability)  # type: ignore[arg-type]
    async with Agent(
        MODEL, memory=folder / f"concurrent-{durability}.db", fast_model=ternarize(FAST_MODEL), config=config
    ) as agent:
        for i in range(20):
            await agent.infer(xs[i] + np.float32(2.0))
        await agent.flush()
        before = agent.statistics()
        start = time.perf_counter()
        async with trio.open_nursery() as nursery:
            for i in range(n):
                nursery.start_soon(agent.infer, xs[i])
        elapsed = time.perf_counter() - start
        if durability == "deferred":
            await agent.flush()
        stats = agent.statistics()
    return {
        "callers": n,
        "seconds": elapsed,
        "infers_per_s": n / elapsed,
        "commits": stats.commits - before.commits,
        "episodes": stats.episodes_stored - before.episodes_stored,
    }


def cascade(folder: Path) -> dict[str, dict[str, float]]:
    x, y, _, _ = load_digits_split()
    out = {}
    for name, fast in (("qat", FAST_MODEL), ("post_training", None)):
        r = trio.run(
            lambda fast=fast, name=name: run_stream(x, y, memory=folder / f"cascade-{name}.db", fast_model=fast)
        )
        out[name] = {
            "agent_accuracy": r.accuracy(),
            "system2_accuracy": r.system2_accuracy,
            "gap_points": 100 * (r.system2_accuracy - r.accuracy()),
            "system1_share": r.share("system1"),
            "system2_share": r.share("system2"),
            "cache_share": r.share("cache"),
            "threshold": r.statistics.threshold,
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON")
    parser.add_argument(
        "--only",
        choices=["overhead", "concurrent", "cascade", "breakdown", "floor", "vm", "tail"],
        action="append",
        help="run these parts only",
    )
    parser.add_argument(
        "--model",
        choices=["mlp", "big_mlp", "cnn", "fcn"],
        action="append",
        help="overhead: measure these models only (default: all four)",
    )
    args = parser.parse_args()
    parts = set(args.only or ["overhead", "concurrent", "cascade"])
    n = 200 if args.quick else 2000
    results: dict[str, object] = {"environment": environment()}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if "overhead" in parts:
            models = [("digits MLP", "mlp", MODEL, n)]
            for name, key, build, file in (
                ("2048-wide 8-layer MLP", "big_mlp", big_mlp, "mlp_2048x8.onnx"),
                ("six-layer CNN on 3x96x96", "cnn", conv_net, "cnn_96.onnx"),
                ("fully convolutional CNN on 3x160x160", "fcn", lambda: conv_net(160, dense_head=False), "fcn.onnx"),
            ):
                (folder / file).write_bytes(build())
                models.append((name, key, folder / file, 20 if args.quick else 200))
            for name, key, path, calls in models:
                if args.model and key not in args.model:
                    continue
                results[f"overhead_{key}"] = overhead(path, calls, folder)
                print(f"overhead, {name}:", json.dumps(results[f"overhead_{key}"], indent=1))
        if "concurrent" in parts:
            for durability in ("durable", "deferred"):
                results[f"concurrent_{durability}"] = trio.run(concurrent, 1000, folder, durability)
                print(f"1,000 concurrent callers ({durability}):", json.dumps(results[f"concurrent_{durability}"]))
        if "cascade" in parts:
            results["cascade"] = cascade(folder)
            print("cascade on the digits stream:", json.dumps(results["cascade"], indent=1))
        if "breakdown" in parts:
            for key, build in (("big_mlp", big_mlp), ("cnn", conv_net), ("cnn160", lambda: conv_net(160))):
                (folder / f"{key}.onnx").write_bytes(build())
                results[f"breakdown_{key}"] = trio.run(breakdown, folder / f"{key}.onnx", 20 if args.quick else 150)
                print(f"breakdown, {key} (median µs):", json.dumps(results[f"breakdown_{key}"], indent=1))
        if "floor" in parts:
            for key, build in (("big_mlp", big_mlp), ("cnn", conv_net)):
                (folder / f"floor_{key}.onnx").write_bytes(build())
                results[f"floor_{key}"] = trio.run(floor, folder / f"floor_{key}.onnx", 20 if args.quick else 150)
                print(f"floor, {key} (median µs):", json.dumps(results[f"floor_{key}"], indent=1))
        if "tail" in parts:
            results["tail"] = trio.run(tail, 2000 if args.quick else 20_000)
            print("lone durable calls, digits MLP:", json.dumps(results["tail"], indent=1))
        if "vm" in parts:
            results["vm_probe"] = vm_probe()
            print("HRM scoring after a gap (median µs):", json.dumps(results["vm_probe"], indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
