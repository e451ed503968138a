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

from cognition.agent import Agent  # noqa: E402
from cognition.config import AgentConfig  # noqa: E402
from engine.quantize import ternarize  # noqa: E402
from engine.session import InferenceSession  # noqa: E402
from ronn.demo import FAST_MODEL, MODEL, load_digits_split, run_stream  # noqa: E402

PINNED = dict(
    cache_size=0,
    initial_threshold=0.0,
    novelty_quantile=1.0,
    complexity_quantile=1.0,
    near_duplicate_similarity=None,
)


def conv_net(size: int = 96, dense_head: bool = True) -> bytes:
    """Six 3x3 conv + ReLU layers (3->32->64/2->64->128/2->128->128), global pooling and a 10-way softmax.
    ``dense_head=False``: the last conv layer gives the 10 scores (fully convolutional, as SqueezeNet): no
    penultimate activations, so the agent projects the input itself."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    nodes, inits, prev = [], [], "x"
    last = 128 if dense_head else 10
    for i, (cin, cout, stride) in enumerate(
        [(3, 32, 1), (32, 64, 2), (64, 64, 1), (64, 128, 2), (128, 128, 1), (128, last, 1)]
    ):
        w = (rng.standard_normal((cout, cin, 3, 3)) * np.sqrt(2 / (9 * cin))).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(np.zeros(cout, np.float32), f"b{i}")]
        nodes.append(helper.make_node("Conv", [prev, f"w{i}", f"b{i}"], [f"c{i}"], pads=[1] * 4, strides=[stride] * 2))
        nodes.append(helper.make_node("Relu", [f"c{i}"], [f"r{i}"]))
        prev = f"r{i}"
    nodes += [
        helper.make_node("GlobalAveragePool", [prev], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["features" if dense_head else "logits"]),
    ]
    if dense_head:
        inits += [
            numpy_helper.from_array((rng.standard_normal((128, 10)) / np.sqrt(128)).astype(np.float32), "wf"),
            numpy_helper.from_array(np.zeros(10, np.float32), "bf"),
        ]
        nodes.append(helper.make_node("Gemm", ["features", "wf", "bf"], ["logits"]))
    nodes.append(helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1))
    graph = helper.make_graph(
        nodes,
        "conv_net",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [1, 10])],
        inits,
    )
    return helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9  # onnxruntime 1.30 reads IR <= 13
    ).SerializeToString()


def _inputs(session: InferenceSession, n: int, seed: int = 0) -> list[np.ndarray]:
    spec = session.get_inputs()[0]
    shape = [d if isinstance(d, int) else 1 for d in spec.shape]
    rng = np.random.default_rng(seed)
    return [rng.random(shape, dtype=np.float32) for _ in range(n)]


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
    xs = _inputs(session, n)
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


async def breakdown(model: Path, n: int) -> dict[str, float]:
    """Medians (µs) of the parts of a lone durable ``infer`` (default config, pinned routing), each call after
    a bare run: before the model run, the run minus the bare run, after the run, and the input job."""
    import cognition.input_job as input_job
    import cognition.systems as systems

    marks: dict[str, int] = {}
    work, run = input_job.InputJob._work, systems.ModelRunner.run

    def timed_work(job: input_job.InputJob) -> None:
        marks["job_start"] = time.perf_counter_ns()
        work(job)
        marks["job_end"] = time.perf_counter_ns()

    async def timed_run(runner: systems.ModelRunner, feeds: dict[str, np.ndarray], **options: bool) -> object:
        marks["run_start"] = time.perf_counter_ns()
        answer = await run(runner, feeds, **options)
        marks["run_end"] = time.perf_counter_ns()
        return answer

    input_job.InputJob._work = timed_work  # type: ignore[method-assign]
    systems.ModelRunner.run = timed_run  # type: ignore[assignment, method-assign]
    try:
        session = InferenceSession(model)
        name = session.get_inputs()[0].name
        xs = _inputs(session, n + 10)
        rows: dict[str, list[float]] = {k: [] for k in ("bare", "overhead", "before_run", "run_over_bare",
                                                       "after_run", "input_job")}  # fmt: skip
        with tempfile.TemporaryDirectory() as tmp:
            config = AgentConfig(**PINNED)  # type: ignore[arg-type]
            async with Agent(session, memory=Path(tmp) / "a.db", fast_model=session, config=config) as agent:
                for i, x in enumerate(xs):
                    start = time.perf_counter_ns()
                    session.run(None, {name: x + np.float32(2.0)})
                    bare = time.perf_counter_ns() - start
                    marks.clear()
                    start = time.perf_counter_ns()
                    await agent.infer(x)
                    end = time.perf_counter_ns()
                    if i < 10:
                        continue
                    rows["bare"].append(bare)
                    rows["overhead"].append(end - start - bare)
                    rows["before_run"].append(marks["run_start"] - start)
                    rows["run_over_bare"].append(marks["run_end"] - marks["run_start"] - bare)
                    rows["after_run"].append(end - marks["run_end"])
                    rows["input_job"].append(marks.get("job_end", 0) - marks.get("job_start", 0))
    finally:
        input_job.InputJob._work = work  # type: ignore[method-assign]
        systems.ModelRunner.run = run  # type: ignore[method-assign]
    return {k: statistics.median(v) / 1e3 for k, v in rows.items()}


async def tail(n: int) -> dict[str, float]:
    """Latency percentiles of ``n`` lone durable ``infer`` calls back to back on the digits MLP (pinned
    routing): what the indexer's catch-ups and WAL checkpoints beside them cost the slowest calls."""
    session = InferenceSession(MODEL)
    xs = _inputs(session, n + n // 10)
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        config = AgentConfig(**PINNED)  # type: ignore[arg-type]
        async with Agent(session, memory=Path(tmp) / "t.db", fast_model=session, config=config) as agent:
            for x in xs:
                start = time.perf_counter()
                await agent.infer(x)
                times.append(time.perf_counter() - start)
    t = np.array(times[n // 10 :]) * 1e6
    return {
        "calls": float(len(t)),
        "p50_us": float(np.percentile(t, 50)),
        "p99_us": float(np.percentile(t, 99)),
        "p99.9_us": float(np.percentile(t, 99.9)),
        "max_us": float(t.max()),
        "over_5ms": float((t > 5000).sum()),
    }


async def floor(model: Path, n: int) -> dict[str, float]:
    """Medians (µs) of the row commit and the scheduler yield a lone durable call takes after its model's run,
    alone: each right after a bare run of ``model`` ("after run") and right after itself ("warm")."""
    import memory_store

    session = InferenceSession(model)
    name = session.get_inputs()[0].name
    xs = _inputs(session, 8)
    rng = np.random.default_rng(1)
    rows: dict[str, list[int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        memory = memory_store.open_memory(Path(tmp) / "f.db", dim=128, autocheckpoint=0)
        episodic = memory.episodic

        def episode() -> memory_store.EncodedEpisode:  # as a lone call's: its input stored ahead by its job
            x = rng.random(1024, dtype=np.float32)
            stored = episodic.store_input(x)
            v, y = rng.random(128, dtype=np.float32), rng.random(10, dtype=np.float32)
            return episodic.encode_fields(v, input=stored, output=y, route="system1", confidence=0.9)

        async def timed(kind: str, encoded: memory_store.EncodedEpisode) -> None:
            if kind == "commit":
                episodic.commit([encoded], wait=0.001)  # as the agent's inline commit
            else:
                await trio.lowlevel.checkpoint()

        try:
            for _ in range(200):
                episodic.commit([episode()])
            for i in range(n + 10):
                for kind in ("commit", "yield"):
                    pending = [episode(), episode()]
                    bare = time.perf_counter_ns()
                    session.run(None, {name: xs[i % len(xs)]})
                    start = time.perf_counter_ns()
                    await timed(kind, pending[0])
                    cold = time.perf_counter_ns()
                    await timed(kind, pending[1])
                    warm = time.perf_counter_ns()
                    if i >= 10:
                        rows.setdefault("bare", []).append(start - bare)
                        rows.setdefault(f"{kind}_after_run", []).append(cold - start)
                        rows.setdefault(f"{kind}_warm", []).append(warm - cold)
        finally:
            memory.close()
    out = {k: statistics.median(v) / 1e3 for k, v in rows.items()}
    both = out["commit_after_run"] + out["yield_after_run"]
    out["both_after_run_pct"] = 100 * both / out["bare"]
    out["both_warm_pct"] = 100 * (out["commit_warm"] + out["yield_warm"]) / out["bare"]
    return out


def vm_probe() -> dict[str, float]:
    """Median µs of one ``HRM.score`` + novelty search right after a gap of pure register arithmetic (a numba
    loop touching no memory), and right after a rehearsal of the same call."""
    import numba

    from cognition.router import HRM
    from cognition.vectors import VectorWindow

    @numba.njit(nogil=True)
    def spin(n: int) -> float:
        x = 1.0
        for _ in range(n):
            x = x * 1.0000001 + 1e-9
        return x

    spin(10)
    start = time.perf_counter()
    spin(10_000_000)
    per_step = (time.perf_counter() - start) / 1e7
    hrm = HRM(AgentConfig())
    window = VectorWindow(1024, 128, 1)
    rng = np.random.default_rng(0)
    for _ in range(1024):
        window.add(rng.random(128, dtype=np.float32))
    for _ in range(3000):
        hrm.score(rng.random(), rng.random())
    v = rng.random(128, dtype=np.float32)

    def call() -> float:
        start = time.perf_counter_ns()
        hrm.score(0.5, window.distance(v))
        return (time.perf_counter_ns() - start) / 1e3

    out = {}
    for gap_ms in (0.0, 1.0, 2.0, 4.0, 8.0):
        steps = int(gap_ms / 1e3 / per_step)
        cold, rehearsed = [], []
        for _ in range(200):
            spin(steps)
            cold.append(call())
            spin(steps)
            call()
            rehearsed.append(call())
        out[f"after {gap_ms:g} ms"] = statistics.median(cold[10:])
        out[f"after {gap_ms:g} ms and a rehearsal"] = statistics.median(rehearsed[10:])
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
