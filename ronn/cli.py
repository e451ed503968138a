"""The ``ronn`` command line: ``ronn inspect``, ``ronn run``, ``ronn demo``."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from engine.errors import RonnError
from ronn.arguments import int_at_least

DATA = Path(__file__).resolve().parent / "data"


def _size_text(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def cmd_inspect(args: argparse.Namespace, console: Console) -> int:
    from engine.loader import load_model
    from engine.values import type_string

    path = Path(args.model)
    graph = load_model(path)
    console.print(f"[bold]{escape(str(path))}[/bold]  ({_size_text(path.stat().st_size)})")
    meta = graph.metadata
    producer = f"{meta.get('producer_name', '')} {meta.get('producer_version', '')}".strip() or "unknown"
    opsets = ", ".join(f"{d or 'ai.onnx'} {v}" for d, v in sorted(graph.opsets.items()))
    console.print(f"producer: {producer}   ir_version: {meta.get('ir_version')}   opsets: {opsets}")
    weight_bytes = sum(a.nbytes for a in graph.initializers.values())
    console.print(
        f"parameters: {graph.parameter_count():,} in {len(graph.initializers)} initializers "
        f"({_size_text(weight_bytes)})   nodes: {len(graph.nodes)}"
    )
    for title, values in (("inputs", graph.inputs), ("outputs", graph.outputs)):
        table = Table(title=title, title_justify="left")
        table.add_column("name")
        table.add_column("type")
        table.add_column("shape")
        for v in values:
            dims = "?" if v.shape is None else ", ".join("?" if d is None else str(d) for d in v.shape)
            shape = dims if v.shape is None else f"[{dims}]"
            table.add_row(escape(v.name), type_string(v.dtype), escape(shape))
        console.print(table)
    table = Table(title="operators", title_justify="left")
    table.add_column("op")
    table.add_column("count", justify="right")
    for op, count in graph.op_histogram().items():
        table.add_row(op, str(count))
    console.print(table)
    return 0


def _parse_inputs(pairs: Sequence[str]) -> dict[str, np.ndarray]:
    feeds = {}
    for pair in pairs:
        name, sep, file = pair.partition("=")
        if not sep or not name or not file:
            raise SystemExit(f"--input expects NAME=FILE.npy, got {pair!r}")
        try:
            feeds[name] = np.load(file, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise SystemExit(f"cannot read {file!r} for input {name!r}: {exc}") from exc
    return feeds


def cmd_run(args: argparse.Namespace, console: Console) -> int:
    from engine.session import InferenceSession

    feeds = _parse_inputs(args.input)
    session = InferenceSession(args.model)
    start = time.perf_counter()
    outputs = session.run(None, feeds)
    elapsed = time.perf_counter() - start
    names = [o.name for o in session.get_outputs()]
    table = Table(title=f"outputs ({elapsed * 1e3:.2f} ms)", title_justify="left")
    for column in ("name", "dtype", "shape", "min", "max", "mean"):
        table.add_column(column)
    out_dir = Path(args.output_dir) if args.output_dir else None
    if out_dir:
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SystemExit(f"cannot write outputs to {str(out_dir)!r}: {exc}") from None
    for name, value in zip(names, outputs, strict=True):
        array = np.asarray(value)
        numeric = array.size and array.dtype.kind in "fiub"
        stats = (
            [f"{array.min():.4g}", f"{array.max():.4g}", f"{array.astype(np.float64).mean():.4g}"]
            if numeric else ["", "", ""]
        )
        table.add_row(escape(name), str(array.dtype), escape(str(list(array.shape))), *stats)
        if out_dir:
            safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
            np.save(out_dir / f"{safe}.npy", array)
    console.print(table)
    if out_dir:
        console.print(f"wrote {len(outputs)} outputs to {escape(str(out_dir))}/")
    return 0


def cmd_demo(args: argparse.Namespace, console: Console) -> int:
    """Run an Agent on scikit-learn's held-out digits: routes, accuracy and latency per route, memory."""
    import trio
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from memory_store import default_path
    from ronn.demo import load_digits_split, run_stream

    try:
        x, y, _, _ = load_digits_split()
    except ImportError as exc:
        console.print(f"[bold red]error:[/bold red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return 2
    x, y = x[: args.limit], y[: args.limit]
    memory = Path(args.memory) if args.memory else default_path().with_name("demo.db")
    console.print(f"[bold]RONN demo[/bold]: an Agent answers {len(x)} held-out digits (8x8) one by one, "
                  "with label feedback; System 2 = digits_mlp.onnx (float32), System 1 = its ternary twin")
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=False) as bar:
        task = bar.add_task("thinking", total=len(x))
        result = trio.run(
            lambda: run_stream(x, y, memory=memory, progress=lambda n: bar.update(task, completed=n))
        )
    stats = result.statistics
    table = Table(title="routes", title_justify="left")
    for column in ("route", "inputs", "share", "accuracy", "P50 latency", "P95 latency"):
        table.add_column(column, justify="right")
    for route in ("cache", "system1", "system2"):
        count = stats.routes.get(route, 0)
        lat = stats.latency.get(route)
        table.add_row(route, str(count), f"{result.share(route):.1%}",
                      "" if not count else f"{result.accuracy(route):.1%}",
                      f"{lat.p50_s * 1e6:.0f} µs" if lat else "", f"{lat.p95_s * 1e6:.0f} µs" if lat else "")
    console.print(table)
    console.print(f"accuracy: agent {result.accuracy():.1%} vs System 2 alone {result.system2_accuracy:.1%}, "
                  f"with {result.share('system1'):.0%} of inputs answered by System 1 "
                  f"(escalation threshold calibrated to {stats.threshold:.3f})")
    console.print(f"episodes stored: {stats.episodes_stored} this run, {stats.episodes_total} in all "
                  f"({stats.commits} commits, durability {stats.durability})")
    console.print(f"memory file: {escape(str(stats.memory_path))}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ronn", description="RONN: cognitive agent runtime and ONNX engine")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("inspect", help="show a model's inputs, outputs, opsets, operators and size")
    p.add_argument("model")
    p.set_defaults(func=cmd_inspect)
    p = sub.add_parser("run", help="run a model on .npy inputs")
    p.add_argument("model")
    p.add_argument("--input", "-i", action="append", default=[], metavar="NAME=FILE.npy")
    p.add_argument("--output-dir", "-o", metavar="DIR", help="write each output as DIR/<name>.npy")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("demo", help="run an agent on scikit-learn's digits (needs the demo extra)")
    p.add_argument(
        "--memory", metavar="PATH", help="episode database (default: demo.db in the user data folder)",
    )
    p.add_argument(
        "--limit", type=int_at_least(1), default=360, help="how many held-out digits to stream (at most 360)"
    )
    p.set_defaults(func=cmd_demo)
    from ronn.bench import add_parser as add_bench_parser

    add_bench_parser(sub)
    from ronn.experiment import add_parser as add_experiment_parser

    add_experiment_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console()
    try:
        return int(args.func(args, console))
    except RonnError as exc:
        # escaped: messages name shapes like [batch, 64], which rich would take for markup and drop
        console.print(f"[bold red]error:[/bold red] {type(exc).__name__}: {escape(str(exc))}", highlight=False)
        return 2


if __name__ == "__main__":
    sys.exit(main())
