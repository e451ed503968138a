"""Batch-1 latency of RONN's engine beside onnxruntime's, interleaved in one process.

For every model in ``tests/data`` (and any ``.onnx`` paths given), both runtimes get one thread and their
default graph optimizations. After a warm-up, each round times one call of each runtime, alternating which
goes first, so drift in clock speed or cache state hits both alike. Reported: P50 and P95 per runtime and
the ratio ours / onnxruntime (below 1 means we are faster). Each model's outputs are also compared once
(max absolute difference), so a fast wrong answer shows up.

Usage (see benchmarks/README.md for the exact command with the BLAS environment)::

    python benchmarks/bench_engine.py [extra.onnx ...] [--rounds 300] [--warmup 30]
        [--filter gpt2] [--markdown FILE] [--json FILE]

Inputs: the saved inputs from ``tests/data/<model>.npz`` cut to batch 1; for extra models, seeded random
floats and ones for integer inputs (valid token ids, masks and token types), with symbolic dimensions set
to 1 unless ``--dim NAME=SIZE`` says otherwise.

``--batcher`` measures requests per second from 64 concurrent ``run_async`` tasks at batch 1, without and
with the dynamic batcher (``--backend trio|asyncio``).

``--full`` times the full-width models of the issue-3 speed targets instead (``benchmarks/models``, made by
``scripts/export_bench_models.py``): batch-1 latency at one thread and batch-8 throughput, each as ours /
onnxruntime beside its target; ``--profile`` adds RONN's per-op profile of each model at batch 1::

    python benchmarks/bench_engine.py --full [--filter resnet18] [--profile] [--markdown FILE]
"""

from __future__ import annotations

import _common  # first: pins math libraries to one thread before numpy loads

_common.pin_single_thread()

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: E402

from engine.options import SessionOptions  # noqa: E402
from engine.session import InferenceSession  # noqa: E402
from ronn.bench import TYPES  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
MODELS = Path(__file__).resolve().parents[1] / "benchmarks" / "models"
# Issue 3's targets: our batch-1 P50 / onnxruntime's, one thread.
TARGETS = {"encoder": 1.0, "decoder": 1.0, "resnet18": 1.25, "mobilenetv2": 1.5, "mlp": 2.5}
FULL_NAMES = {"encoder": "BERT-style encoder 6x384 seq 128", "decoder": "GPT-2-style decoder 4x256 seq 64",
              "resnet18": "ResNet-18 224x224", "mobilenetv2": "MobileNetV2 224x224", "mlp": "MLP 784-256-256-10"}
ORT_TYPES = TYPES  # onnxruntime type string -> numpy dtype, shared with `ronn bench`


@dataclass(frozen=True)
class Result:
    model: str
    ours: _common.Stats | None
    ort: _common.Stats
    max_abs_diff: float | None
    error: str | None = None

    @property
    def ratio_p50(self) -> float | None:
        return None if self.ours is None else self.ours.p50_ms / self.ort.p50_ms

    @property
    def ratio_p95(self) -> float | None:
        return None if self.ours is None else self.ours.p95_ms / self.ort.p95_ms


def saved_inputs(path: Path) -> dict[str, np.ndarray] | None:
    """The reference inputs saved beside a tests/data model, cut to batch 1."""
    npz = path.with_suffix(".npz")
    if not npz.is_file():
        return None
    with np.load(npz) as data:
        return {k.removeprefix("input:"): data[k][:1].copy() for k in data.files if k.startswith("input:")}


def synthetic_inputs(session: Any, dims: dict[str, int], seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    feeds: dict[str, np.ndarray] = {}
    for arg in session.get_inputs():
        shape = [d if isinstance(d, int) and d >= 0 else dims.get(str(d), 1) for d in arg.shape]
        dtype = ORT_TYPES.get(arg.type)
        if dtype is None:
            raise SystemExit(f"{arg.name}: no synthetic input for type {arg.type}")
        if np.issubdtype(dtype, np.floating):
            feeds[arg.name] = rng.standard_normal(shape).astype(dtype)
        else:
            feeds[arg.name] = np.ones(shape, dtype=dtype)
    return feeds


def time_ns(run: Any, feeds: dict[str, np.ndarray]) -> int:
    start = time.perf_counter_ns()
    run(None, feeds)
    return time.perf_counter_ns() - start


def bench_model(path: Path, args: argparse.Namespace, progress: Progress, task: Any) -> Result:
    name = path.stem if path.parent.resolve() == DATA else str(path)
    ort_options = ort.SessionOptions()  # default optimizations (ORT_ENABLE_ALL)
    ort_options.intra_op_num_threads = 1
    ort_options.inter_op_num_threads = 1
    reference = ort.InferenceSession(str(path), ort_options, providers=["CPUExecutionProvider"])
    feeds = saved_inputs(path) or synthetic_inputs(reference, args.dims)
    ort_run = reference.run

    ours_run = None
    error = None
    try:
        options = SessionOptions()
        options.intra_op_num_threads = 1
        session = InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        ours_run = session.run
        expected, got = reference.run(None, feeds), session.run(None, feeds)
        diff = max(
            float(np.max(np.abs(np.asarray(g, np.float64) - e))) for g, e in zip(got, expected, strict=True)
        )
    except Exception as exc:  # a missing kernel must not stop the other models' rows
        error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        ours_run, diff = None, None

    for _ in range(args.warmup):
        ort_run(None, feeds)
        if ours_run is not None:
            ours_run(None, feeds)

    ours_ns: list[int] = []
    ort_ns: list[int] = []
    for i in range(args.rounds):
        if ours_run is None:
            ort_ns.append(time_ns(ort_run, feeds))
        elif i % 2 == 0:
            ours_ns.append(time_ns(ours_run, feeds))
            ort_ns.append(time_ns(ort_run, feeds))
        else:
            ort_ns.append(time_ns(ort_run, feeds))
            ours_ns.append(time_ns(ours_run, feeds))
        progress.advance(task)
    ours = _common.Stats.from_ns(ours_ns) if ours_ns else None
    return Result(name, ours, _common.Stats.from_ns(ort_ns), diff, error)


def interleaved(ours_run: Any, ort_run: Any, feeds: dict[str, np.ndarray], rounds: int, warmup: int,
                progress: Progress, task: Any) -> tuple[_common.Stats, _common.Stats]:
    for _ in range(warmup):
        ort_run(None, feeds)
        ours_run(None, feeds)
    ours_ns: list[int] = []
    ort_ns: list[int] = []
    for i in range(rounds):
        first, second = (ours_run, ort_run) if i % 2 == 0 else (ort_run, ours_run)
        a, b = time_ns(first, feeds), time_ns(second, feeds)
        ours_ns.append(a if i % 2 == 0 else b)
        ort_ns.append(b if i % 2 == 0 else a)
        progress.advance(task)
    return _common.Stats.from_ns(ours_ns), _common.Stats.from_ns(ort_ns)


def full_feeds(session: Any, batch: int) -> dict[str, np.ndarray]:
    """Seeded inputs at ``batch`` rows: normal floats, ones for integer inputs (valid ids, masks, types)."""
    rng = np.random.default_rng(0)
    feeds: dict[str, np.ndarray] = {}
    for arg in session.get_inputs():
        shape = [batch if i == 0 else (d if isinstance(d, int) else 1) for i, d in enumerate(arg.shape)]
        dtype = ORT_TYPES[arg.type]
        if np.issubdtype(dtype, np.floating):
            feeds[arg.name] = rng.standard_normal(shape).astype(dtype)
        else:
            feeds[arg.name] = np.ones(shape, dtype=dtype)
    return feeds


def bench_full(args: argparse.Namespace, console: Console) -> str:
    """Batch-1 latency and batch-8 throughput of the full-width models, ratios beside the targets."""
    rows = []
    profiles = []
    names = [n for n in TARGETS if args.filter in n]
    columns = (TextColumn("{task.description:<36}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        for name in names:
            path = args.models_dir / f"{name}.onnx"
            if not path.is_file():
                raise SystemExit(f"{path} is missing: run scripts/export_bench_models.py first")
            ort_options = ort.SessionOptions()
            ort_options.intra_op_num_threads = 1
            ort_options.inter_op_num_threads = 1
            reference = ort.InferenceSession(str(path), ort_options, providers=["CPUExecutionProvider"])
            options = SessionOptions()
            options.intra_op_num_threads = 1
            session = InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            cells: list[str] = [FULL_NAMES[name]]
            for batch, rounds in ((1, args.rounds), (8, max(args.rounds // 4, 5))):
                feeds = full_feeds(reference, batch)
                diff = max(float(np.max(np.abs(np.asarray(g, np.float64) - e)))
                           for g, e in zip(session.run(None, feeds), reference.run(None, feeds), strict=True))
                task = progress.add_task(f"{name} batch {batch}", total=rounds)
                ours, theirs = interleaved(session.run, reference.run, feeds, rounds, args.warmup, progress, task)
                progress.remove_task(task)
                ratio = ours.p50_ms / theirs.p50_ms
                if batch == 1:
                    verdict = "yes" if ratio <= TARGETS[name] else "no"
                    cells += [f"{ours.p50_ms:.3f}", f"{theirs.p50_ms:.3f}", f"{ratio:.2f}",
                              f"<= {TARGETS[name]:.2f}", verdict]
                else:
                    cells += [f"{8e3 / ours.p50_ms:.0f}", f"{8e3 / theirs.p50_ms:.0f}", f"{ratio:.2f}",
                              f"{diff:.1e}"]
            rows.append(cells)
            if args.profile:
                session.start_profiling()
                feeds = full_feeds(reference, 1)
                for _ in range(max(args.rounds // 2, 5)):
                    session.run(None, feeds)
                profiles.append(f"### {FULL_NAMES[name]} (batch 1, 1 thread)\n\n{session.get_profile().table()}")
                Path(args.profile_dir).mkdir(parents=True, exist_ok=True)  # (a missing folder lost the run)
                session.end_profiling(str(Path(args.profile_dir) / f"{name}_profile.json"))
    header = ["model", "ours P50 ms", "ORT P50 ms", "P50 ours/ORT", "target", "met",
              "ours items/s @8", "ORT items/s @8", "batch-8 ours/ORT", "max abs diff @8"]  # fmt: skip
    table = _common.markdown_table(header, rows)
    return table + ("\n\n" + "\n\n".join(profiles) if profiles else "")


async def _drive(session: InferenceSession, feeds: dict[str, np.ndarray], requests: int, tasks: int,
                 batched: bool, max_batch: int) -> float:
    """Requests per second of ``tasks`` concurrent loops of ``run_async`` (a warm-up pass first)."""
    import anyio

    if batched:
        session.enable_batching(max_batch=max_batch, max_wait_s=0.002)
    else:
        session.disable_batching()
    remaining = [0]

    async def worker() -> None:
        while remaining[0] > 0:
            remaining[0] -= 1
            await session.run_async(None, feeds)

    rate = 0.0
    for count in (min(requests, 2 * tasks), requests):
        remaining[0] = count
        start = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for _ in range(tasks):
                tg.start_soon(worker)
        rate = count / (time.perf_counter() - start)
    return rate


def bench_batcher(args: argparse.Namespace) -> str:
    """Throughput of ``run_async`` from many concurrent tasks, without and with the dynamic batcher."""
    import anyio

    rows = []
    names = [n for n in ("mlp", "mobilenetv2", "encoder") if args.filter in n]
    for name in names:
        path = args.models_dir / f"{name}.onnx"
        if not path.is_file():
            raise SystemExit(f"{path} is missing: run scripts/export_bench_models.py first")
        options = SessionOptions()
        options.intra_op_num_threads = 1
        session = InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        feeds = full_feeds(session, 1)
        requests = {"mlp": 4000, "mobilenetv2": 96, "encoder": 64}[name]
        tasks = 64

        start = time.perf_counter()
        for _ in range(min(requests, 200)):
            session.run(None, feeds)
        sequential = min(requests, 200) / (time.perf_counter() - start)
        cells = [FULL_NAMES[name], f"{sequential:.0f}"]
        for batched, max_batch in ((False, 1), (True, 8), (True, 32)):
            rate = anyio.run(_drive, session, feeds, requests, tasks, batched, max_batch, backend=args.backend)
            cells.append(f"{rate:.0f} ({rate / sequential:.2f}x)")
        rows.append(cells)
    header = ["model", "sequential run() req/s", "run_async, no batcher", "batcher max 8", "batcher max 32"]
    return _common.markdown_table(header, rows)


def render(results: list[Result]) -> str:
    def ms(value: float) -> str:
        return f"{value:.3f}"

    header = ["model", "ours P50 ms", "ours P95 ms", "ORT P50 ms", "ORT P95 ms", "P50 ours/ORT",
              "P95 ours/ORT", "max abs diff"]  # fmt: skip
    rows = []
    for r in results:
        if r.ours is None:
            rows.append([r.model, "failed", "", ms(r.ort.p50_ms), ms(r.ort.p95_ms), "", "", r.error or ""])
            continue
        rows.append([
            r.model, ms(r.ours.p50_ms), ms(r.ours.p95_ms), ms(r.ort.p50_ms), ms(r.ort.p95_ms),
            f"{r.ratio_p50:.2f}", f"{r.ratio_p95:.2f}", f"{r.max_abs_diff:.1e}",
        ])  # fmt: skip
    return _common.markdown_table(header, rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", type=Path, help="extra .onnx files to time")
    parser.add_argument("--data", type=Path, default=DATA, help="folder of exported models (tests/data)")
    parser.add_argument("--no-data", action="store_true", help="time only the models given")
    parser.add_argument("--filter", default="", help="only models whose name contains this")
    parser.add_argument("--rounds", type=int, default=300, help="timed calls per runtime and model")
    parser.add_argument("--warmup", type=int, default=30, help="untimed calls per runtime first")
    parser.add_argument("--dim", action="append", default=[], metavar="NAME=SIZE",
                        help="size of a symbolic dimension for synthetic inputs (default 1)")  # fmt: skip
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    parser.add_argument("--json", type=Path, help="also write results and environment here")
    parser.add_argument("--full", action="store_true",
                        help="time the full-width target models (benchmarks/models) at batch 1 and 8")
    parser.add_argument("--models-dir", type=Path, default=MODELS, help="folder of --full models")
    parser.add_argument("--profile", action="store_true", help="--full: add RONN's per-op profile per model")
    parser.add_argument("--profile-dir", default=".", help="--full --profile: where the Chrome traces go")
    parser.add_argument("--batcher", action="store_true",
                        help="throughput of 64 concurrent run_async tasks, without and with the dynamic batcher")
    parser.add_argument("--backend", default="trio", choices=["trio", "asyncio"], help="--batcher event loop")
    args = parser.parse_args(argv)
    if args.batcher:
        table = bench_batcher(args)
        print(table)
        if args.markdown:
            args.markdown.write_text(table + "\n")
        return 0
    if args.full:
        if args.rounds == parser.get_default("rounds"):
            args.rounds = 40
        if args.warmup == parser.get_default("warmup"):
            args.warmup = 5
        table = bench_full(args, Console(stderr=True))
        print(table)
        if args.markdown:
            args.markdown.write_text(table + "\n")
        return 0
    args.dims = {k: int(v) for k, v in (d.split("=", 1) for d in args.dim)}

    paths = [] if args.no_data else sorted(args.data.glob("*.onnx"))
    paths += args.models
    paths = [p for p in paths if args.filter in p.name]
    if not paths:
        parser.error("no models to time")

    console = Console(stderr=True)
    results = []
    columns = (TextColumn("{task.description:<36}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        overall = progress.add_task("all models", total=len(paths))
        for path in paths:
            task = progress.add_task(path.stem, total=args.rounds)
            results.append(bench_model(path, args, progress, task))
            progress.remove_task(task)
            progress.advance(overall)

    table = render(results)
    print(table)
    failed = [r for r in results if r.error]
    for r in failed:
        console.print(f"[red]{r.model}[/red]: {r.error}")
    if args.markdown:
        args.markdown.write_text(table + "\n")
    if args.json:
        record = {
            "environment": _common.environment(),
            "rounds": args.rounds,
            "warmup": args.warmup,
            "results": [asdict(r) | {"ratio_p50": r.ratio_p50, "ratio_p95": r.ratio_p95} for r in results],
        }
        args.json.write_text(json.dumps(record, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
