#!/usr/bin/env python
"""Agent benchmark: infer overhead over a bare ``session.run``, throughput under 1,000 concurrent callers, and
the System 1 / System 2 cascade on the digits stream.

    python benchmarks/bench_agent.py [--quick] [--only overhead|concurrent|cascade] [--json out.json]

1. Overhead: one caller, distinct inputs, file-backed memory, the exact cache off and routing pinned to one
   system whose model is the measured model itself (so the difference is the agent: perception, routing,
   novelty search, episode row and its commit). Median ``infer`` minus median ``session.run`` (the two
   alternating call by call), durable (the default: a lone call runs its model on the event loop in slices
   and, for a model of 2 ms or more, stores its input meanwhile), deferred, and durable with
   ``inline_alone_max_s=0`` (every model slower than ``inline_max_s`` in a worker thread), on the digits MLP
   (64-64-10), on a 1024-2048x8-10 MLP built here (memory-bound: 130 MB of weights streamed per call, ~6 ms)
   and on a six-layer CNN on 3x96x96 inputs built here (compute-bound, ~8 ms, 110 KB inputs: each episode
   hashes and stores its input).
2. Throughput: 1,000 tasks call ``infer`` at once (default routing, QAT System 1, durable commits).
3. Cascade: the 360 held-out digits streamed with label feedback; accuracy and System 1 share against
   System 2 alone, with System 1 = the QAT model ternarized, and with the default (post-training ternary).
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
from _common import environment, pin_single_thread  # noqa: E402

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


def big_mlp(width: int = 2048, layers: int = 8) -> bytes:
    """A 1024-2048x8-10 ReLU MLP (~130 MB of float32 weights): batch-1 GEMVs bound by memory, >= 5 ms here."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    sizes = [1024] + [width] * layers + [10]
    nodes, inits, prev = [], [], "x"
    for i, (a, b) in enumerate(zip(sizes, sizes[1:], strict=False)):
        w = (rng.standard_normal((a, b)) / np.sqrt(a)).astype(np.float32)
        inits += [
            numpy_helper.from_array(w, f"w{i}"),
            numpy_helper.from_array(np.zeros(b, np.float32), f"b{i}"),
        ]
        nodes.append(helper.make_node("Gemm", [prev, f"w{i}", f"b{i}"], [f"h{i}"]))
        prev = f"h{i}"
        if i < len(sizes) - 2:
            nodes.append(helper.make_node("Relu", [prev], [f"r{i}"]))
            prev = f"r{i}"
    nodes.append(helper.make_node("Softmax", [prev], ["probabilities"], axis=-1))
    graph = helper.make_graph(
        nodes,
        "big_mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1024])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [1, 10])],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def conv_net(size: int = 96) -> bytes:
    """Six 3x3 conv + ReLU layers (3->32->64/2->64->128/2->128->128), global pooling and a 10-way softmax."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    nodes, inits, prev = [], [], "x"
    for i, (cin, cout, stride) in enumerate(
        [(3, 32, 1), (32, 64, 2), (64, 64, 1), (64, 128, 2), (128, 128, 1), (128, 128, 1)]
    ):
        w = (rng.standard_normal((cout, cin, 3, 3)) * np.sqrt(2 / (9 * cin))).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(np.zeros(cout, np.float32), f"b{i}")]
        nodes.append(helper.make_node("Conv", [prev, f"w{i}", f"b{i}"], [f"c{i}"], pads=[1] * 4, strides=[stride] * 2))
        nodes.append(helper.make_node("Relu", [f"c{i}"], [f"r{i}"]))
        prev = f"r{i}"
    inits += [
        numpy_helper.from_array((rng.standard_normal((128, 10)) / np.sqrt(128)).astype(np.float32), "wf"),
        numpy_helper.from_array(np.zeros(10, np.float32), "bf"),
    ]
    nodes += [
        helper.make_node("GlobalAveragePool", [prev], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["features"]),
        helper.make_node("Gemm", ["features", "wf", "bf"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1),
    ]
    graph = helper.make_graph(
        nodes,
        "conv_net",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [1, 10])],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON")
    parser.add_argument(
        "--only", choices=["overhead", "concurrent", "cascade"], action="append", help="run these parts only"
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
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
