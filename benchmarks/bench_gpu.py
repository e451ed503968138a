#!/usr/bin/env python
"""GPU provider benchmark: the reference models on ``CUDAExecutionProvider`` (float32 and float16) beside our CPU
provider and onnxruntime's CPU provider, with the largest difference from the saved reference outputs.

    python benchmarks/bench_gpu.py [--rounds 50] [--batch 32] [--json out.json]

Needs a CUDA GPU and cupy (the ``gpu`` extra); without them it says why and exits 2. Models: the static exports
in tests/data at their saved batch (with their reference outputs), the dynamic MLP and BERT exports at
``--batch`` (inputs tiled from the saved ones) and a 1024-2048x8-10 MLP (130 MB of weights) at ``--batch``
(both compared with our CPU provider). The table gives P50 latency per
runtime, which nodes ran on the GPU, and the largest absolute difference; the GPU runs at the default
optimization level and at ``ORT_ENABLE_BASIC`` (no fusions: the fused ops are CPU-only, so fusing moves
nodes off the GPU), float32 and float16.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402
from _common import big_mlp  # noqa: E402

from engine.options import GraphOptimizationLevel, SessionOptions  # noqa: E402
from engine.providers import base  # noqa: E402
from engine.session import InferenceSession  # noqa: E402

DATA = ROOT / "tests" / "data"
BIG = "mlp_2048x8 (benchmarks/_common.big_mlp)"
STATIC = ["mlp_dynamo_static", "bert_dynamo_static", "gpt2_dynamo_static", "resnet_dynamo_static"]
DYNAMIC = ["mlp_dynamo_dynamic", "bert_dynamo_dynamic", BIG]


def _feeds(stem: str, batch: int | None) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    if stem == BIG:
        x = np.random.default_rng(0).standard_normal((batch or 1, 1024)).astype(np.float32)
        return {"x": x}, {}
    refs = np.load(DATA / f"{stem}.npz")
    feeds = {k[6:]: v for k, v in refs.items() if k.startswith("input:")}
    outputs = {k[7:]: v for k, v in refs.items() if k.startswith("output:")}
    if batch is not None:
        feeds = {k: np.concatenate([v] * -(-batch // len(v)))[:batch] for k, v in feeds.items()}
        outputs = {}
    return feeds, outputs


def _p50_ms(run: Callable[..., object], feeds: dict[str, np.ndarray], rounds: int) -> float:
    """Median ``run(None, feeds)`` time after five warm-up calls (outputs come back as host arrays, so a GPU
    run is timed to its end)."""
    for _ in range(5):
        run(None, feeds)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run(None, feeds)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def _measure(stem: str, batch: int | None, rounds: int, ort: Any) -> dict[str, object]:
    feeds, expected = _feeds(stem, batch)
    path: str | bytes = big_mlp(batch="batch") if stem == BIG else str(DATA / f"{stem}.onnx")
    cpu = InferenceSession(path)
    baseline = dict(zip([o.name for o in cpu.get_outputs()], cpu.run(None, feeds), strict=True))
    row: dict[str, object] = {"model": stem, "batch": len(next(iter(feeds.values())))}
    row["ours_cpu_ms"] = _p50_ms(cpu.run, feeds, rounds)
    if ort is not None:
        row["onnxruntime_cpu_ms"] = _p50_ms(ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run,
                                            feeds, rounds)  # fmt: skip
    basic = SessionOptions()
    basic.graph_optimization_level = GraphOptimizationLevel.ORT_ENABLE_BASIC  # no fusions into ops gpu_ops lacks
    for label, options, level in (
        ("gpu_fp32", {"float16": False}, SessionOptions()),
        ("gpu_fp32_basic", {"float16": False}, basic),
        ("gpu_fp16_basic", {"float16": True}, basic),
    ):
        gpu = InferenceSession(
            path, level, providers=[("CUDAExecutionProvider", options), "CPUExecutionProvider"]
        )
        placed = [a.provider for a in gpu.node_providers()]
        row[f"{label}_nodes_on_gpu"] = f"{placed.count('CUDAExecutionProvider')}/{len(placed)}"
        outs = dict(zip([o.name for o in gpu.get_outputs()], gpu.run(None, feeds), strict=True))
        reference = expected or baseline
        row[f"{label}_max_abs_diff"] = max(
            float(np.max(np.abs(np.asarray(outs[k], np.float64) - np.asarray(v, np.float64))))
            for k, v in reference.items()
        )
        row[f"{label}_ms"] = _p50_ms(gpu.run, feeds, rounds)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()
    reason = base.unavailable_reason("CUDAExecutionProvider")
    if reason is not None:
        print(f"CUDAExecutionProvider unusable here: {reason}")
        return 2
    try:
        import onnxruntime as ort
    except ImportError:
        ort = None
    rows = []
    for stem, batch in [(s, None) for s in STATIC] + [(s, args.batch) for s in DYNAMIC]:
        try:
            row = _measure(stem, batch, args.rounds, ort)
        except Exception as exc:  # noqa: BLE001 - one model's failure is a row of the table, not the end of it
            row = {"model": stem, "failed": f"{type(exc).__name__}: {exc}"}
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
