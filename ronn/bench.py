"""``ronn bench MODEL``: latency and throughput of RONN's engine, beside onnxruntime's in the same run.

After a warm-up, each round times one call of each runtime, alternating which goes first, so drift in clock
speed or cache state hits both alike. Reported: P50/P95/P99 latency, throughput (items per second at the
chosen batch) and the ratio ours / onnxruntime (below 1 means RONN is faster).

Inputs are synthetic: seeded normal floats, ones for integer inputs (valid token ids, masks and token types),
True for booleans; the first symbolic dimension is the batch (``--batch``), other symbolic dimensions are 1
unless ``--dim NAME=SIZE`` says otherwise. Benchmark with ``OPENBLAS_CORETYPE`` unset (see benchmarks/README).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ronn.arguments import int_at_least, name_size

TYPES = {
    "tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16,
    "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(int8)": np.int8, "tensor(uint8)": np.uint8,
    "tensor(bool)": np.bool_,
}  # fmt: skip


@dataclass(frozen=True)
class Latency:
    """Latency percentiles (ms) and throughput (items/s) over ``runs`` timed calls at ``batch``."""

    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    throughput: float
    runs: int

    @classmethod
    def from_seconds(cls, samples: list[float], batch: int) -> Latency:
        ms = np.asarray(samples) * 1e3
        p50, p95, p99 = np.percentile(ms, [50, 95, 99])
        mean = float(ms.mean())
        return cls(float(p50), float(p95), float(p99), mean, batch * 1e3 / mean, len(ms))


def synthetic_feeds(
    inputs: list[Any], batch: int, dims: dict[str, int], seed: int = 0
) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    feeds: dict[str, np.ndarray] = {}
    for arg in inputs:
        shape = []
        first_symbolic = True
        for d in arg.shape or []:
            if isinstance(d, int) and d >= 0:
                shape.append(d)
            elif str(d) in dims:
                shape.append(dims[str(d)])
            elif first_symbolic:
                shape.append(batch)
                first_symbolic = False
            else:
                shape.append(1)
        dtype = TYPES.get(arg.type)
        if dtype is None:
            raise SystemExit(f"input {arg.name!r} has type {arg.type}, which ronn bench cannot synthesize")
        if np.dtype(dtype).kind == "f":
            feeds[arg.name] = rng.standard_normal(shape).astype(dtype)
        else:
            feeds[arg.name] = np.ones(shape, dtype)
    return feeds


def run_bench(args: argparse.Namespace, console: Console) -> int:
    from engine.options import SessionOptions
    from engine.session import InferenceSession

    dims = dict(args.dim)
    options = SessionOptions()
    options.intra_op_num_threads = args.threads
    ours = InferenceSession(args.model, sess_options=options)
    feeds = synthetic_feeds(ours.get_inputs(), args.batch, dims)
    runners: dict[str, Any] = {"ronn": lambda: ours.run(None, feeds)}
    if args.vs == "onnxruntime":
        try:
            import onnxruntime as ort
        except ImportError:
            raise SystemExit('--vs onnxruntime needs onnxruntime: pip install "ronn[bench]"') from None
        ort_options = ort.SessionOptions()
        ort_options.intra_op_num_threads = args.threads
        ort_options.inter_op_num_threads = 1
        theirs = ort.InferenceSession(str(args.model), ort_options, providers=["CPUExecutionProvider"])
        runners["onnxruntime"] = lambda: theirs.run(None, feeds)
        diff = max(
            float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) if a.size else 0.0
            for a, b in zip(runners["ronn"](), runners["onnxruntime"](), strict=True)
        )
    samples: dict[str, list[float]] = {name: [] for name in runners}
    order = list(runners)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        task = progress.add_task(f"warm-up {Path(args.model).name}", total=args.warmup + args.rounds)
        for i in range(args.warmup + args.rounds):
            if i == args.warmup:
                progress.update(task, description=f"timing {Path(args.model).name}")
            for name in order if i % 2 else reversed(order):
                start = time.perf_counter()
                runners[name]()
                if i >= args.warmup:
                    samples[name].append(time.perf_counter() - start)
            progress.advance(task)
    stats = {name: Latency.from_seconds(s, args.batch) for name, s in samples.items()}
    table = Table(title=f"{args.model} — batch {args.batch}, {args.threads or 'default'} thread(s), "
                        f"{args.rounds} rounds", title_justify="left")
    for column in ("runtime", "P50 ms", "P95 ms", "P99 ms", "items/s"):
        table.add_column(column, justify="right")
    for name, s in stats.items():
        table.add_row(name, f"{s.p50_ms:.3f}", f"{s.p95_ms:.3f}", f"{s.p99_ms:.3f}", f"{s.throughput:,.0f}")
    console.print(table)
    result: dict[str, Any] = {"model": str(args.model), "batch": args.batch, "threads": args.threads,
                              "rounds": args.rounds, **{k: asdict(v) for k, v in stats.items()}}
    if "onnxruntime" in stats:
        ratio = stats["ronn"].p50_ms / stats["onnxruntime"].p50_ms
        result["ratio_p50"] = ratio
        result["max_abs_diff"] = diff
        console.print(f"P50 ratio ronn/onnxruntime: {ratio:.2f} (below 1: RONN is faster); "
                      f"largest output difference {diff:.2e}")
    if args.json:
        try:
            Path(args.json).write_text(json.dumps(result, indent=2))
        except OSError as exc:
            raise SystemExit(f"cannot write {args.json!r}: {exc}") from None
    return 0


def add_parser(sub: Any) -> None:
    p = sub.add_parser("bench", help="latency and throughput, optionally against onnxruntime")
    p.add_argument("model")
    p.add_argument("--vs", choices=["onnxruntime"], help="time this runtime in the same run")
    p.add_argument(
        "--threads", type=int_at_least(0), default=1, help="intra-op threads for both runtimes (0 = default)"
    )
    p.add_argument("--batch", type=int_at_least(1), default=1)
    p.add_argument("--rounds", type=int_at_least(1), default=200)
    p.add_argument("--warmup", type=int_at_least(0), default=20)
    p.add_argument("--dim", type=name_size, action="append", default=[], metavar="NAME=SIZE",
                   help="size of a symbolic dimension")
    p.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    p.set_defaults(func=run_bench)
