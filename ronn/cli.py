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

DATA = Path(__file__).resolve().parent / "data"


def _size_text(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def cmd_inspect(args: argparse.Namespace, console: Console) -> int:
    from engine.loader import load_model
    from engine.session import type_string

    path = Path(args.model)
    graph = load_model(path)
    console.print(f"[bold]{path}[/bold]  ({_size_text(path.stat().st_size)})")
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
            shape = "?" if v.shape is None else "[" + ", ".join("?" if d is None else str(d) for d in v.shape) + "]"
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
        out_dir.mkdir(parents=True, exist_ok=True)
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
        console.print(f"wrote {len(outputs)} outputs to {out_dir}/")
    return 0


def cmd_demo(args: argparse.Namespace, console: Console) -> int:
    """Run the bundled digits classifier through the engine and print predictions and timing."""
    from engine.session import InferenceSession

    model_path = DATA / "digits_mlp.onnx"
    samples = np.load(DATA / "digits_samples.npz")
    pixels, labels = samples["pixels"], samples["labels"]
    session = InferenceSession(model_path)
    console.print(f"[bold]RONN demo[/bold]: {model_path.name} (64-64-10 MLP on scikit-learn's digits) on the "
                  f"RONN engine, providers {session.get_providers()}")
    logits, probabilities = session.run(None, {"pixels": pixels})
    predicted = probabilities.argmax(axis=1)
    table = Table(title="first 8 of 32 held-out digits", title_justify="left")
    for column in ("label", "predicted", "confidence"):
        table.add_column(column, justify="right")
    for i in range(8):
        table.add_row(str(labels[i]), str(predicted[i]), f"{probabilities[i, predicted[i]]:.3f}")
    console.print(table)
    accuracy = float((predicted == labels).mean())
    timings = []
    single = pixels[:1]
    for _ in range(args.repeats):
        start = time.perf_counter()
        session.run(None, {"pixels": single})
        timings.append(time.perf_counter() - start)
    p50, p95 = np.percentile(np.array(timings) * 1e6, [50, 95])
    start = time.perf_counter()
    session.run(["probabilities"], {"pixels": pixels})
    batch = time.perf_counter() - start
    console.print(f"accuracy on 32 held-out images: {accuracy:.1%}")
    console.print(f"latency at batch 1: P50 {p50:.1f} µs, P95 {p95:.1f} µs over {args.repeats} runs; "
                  f"batch of 32: {batch * 1e3:.3f} ms")
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
    p = sub.add_parser("demo", help="run the bundled demo")
    p.add_argument("--repeats", type=int, default=1000)
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console()
    try:
        return int(args.func(args, console))
    except RonnError as exc:
        console.print(f"[bold red]error:[/bold red] {type(exc).__name__}: {exc}", highlight=False)
        return 2


if __name__ == "__main__":
    sys.exit(main())
