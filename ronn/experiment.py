"""``ronn experiment split-digits|permuted-digits``: a continual-learning experiment on scikit-learn's digits.

Runs each chosen strategy for each seed with :mod:`cognition.experiment` (the agent's own learner), prints
average accuracy, forgetting and backward transfer (mean ± std over seeds), and with ``--out DIR`` writes
``DIR/<benchmark>-<scenario>.json`` (every accuracy matrix) and ``DIR/<benchmark>-<scenario>.png`` (accuracy
per task after each task, one panel per strategy). Needs the demo extra (scikit-learn, matplotlib).

    ronn experiment split-digits --scenario class --seeds 5 --out results/
    ronn experiment permuted-digits --scenario domain --strategy naive,ewc,online_ewc --seeds 5
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ronn.arguments import int_at_least, non_negative_float

DEFAULT_SCENARIO = {"split-digits": "class", "permuted-digits": "domain"}


def _strategies(text: str) -> list[str]:
    from cognition.strategies import STRATEGIES

    names = list(STRATEGIES) if text == "all" else [s.strip() for s in text.split(",") if s.strip()]
    unknown = [n for n in names if n not in STRATEGIES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown strategy {unknown}; choose from {', '.join(STRATEGIES)} or all")
    return names


def run_experiment_command(args: argparse.Namespace, console: Console) -> int:
    from cognition.experiment import DEMO_EXTRA, ExperimentConfig, load_digits_arrays, plot, run_seed

    if args.out:  # fail before the work, not after it
        try:
            Path(args.out).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SystemExit(f"cannot write results to {args.out!r}: {exc}") from None
    try:
        data = load_digits_arrays()
        if args.out:
            import matplotlib  # noqa: F401  (fail before the work, not after it)
    except ImportError as exc:
        name = getattr(exc, "name", None)
        message = str(exc) if name is None else f"the experiment needs {name}: {DEMO_EXTRA}"
        console.print(f"[bold red]error:[/bold red] {escape(message)}", highlight=False)
        return 2
    scenario = args.scenario or DEFAULT_SCENARIO[args.benchmark]
    configs = [ExperimentConfig(benchmark=args.benchmark, scenario=scenario, strategy=name, hidden=args.hidden,
                                epochs=args.epochs, per_class=args.per_class, ewc_lambda=args.ewc_lambda,
                                sleep_epochs=args.sleep_epochs)
               for name in args.strategy]
    seeds = list(range(args.seeds))
    from cognition.experiment import ExperimentResult

    results = []
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        total = len(configs) * len(seeds) * configs[0].tasks
        job = bar.add_task("", total=total)
        for config in configs:
            runs = []
            for seed in seeds:
                bar.update(job, description=f"{config.strategy} seed {seed}")
                runs.append(run_seed(config, seed, data=data, progress=lambda: bar.advance(job)))
            results.append(ExperimentResult(config, runs))
    joint = next((r.mean("average_accuracy") for r in results if r.config.strategy == "joint"), None)
    table = Table(title=f"{args.benchmark}, {scenario}-incremental, {len(seeds)} seed(s), mean ± std",
                  title_justify="left")
    for column in ("strategy", "ACC", "forgetting", "BWT", *(["% of joint"] if joint else []), "s / seed"):
        table.add_column(column, justify="right")
    for r in results:
        row = [r.config.strategy] + [f"{r.mean(m):.3f} ± {r.std(m):.3f}"
                                     for m in ("average_accuracy", "forgetting", "backward_transfer")]
        if joint:
            row.append(f"{100 * r.mean('average_accuracy') / joint:.1f}")
        row.append(f"{r.mean('seconds'):.2f}")
        table.add_row(*row)
    console.print(table)
    worst = min(r.mean("engine_agreement") for r in results)
    console.print(f"final predictions by the engine's session agree with numpy's on {worst:.1%} of test inputs")
    if args.out:
        stem = Path(args.out) / f"{args.benchmark}-{scenario}"
        document: dict[str, Any] = {"benchmark": args.benchmark, "scenario": scenario, "seeds": seeds,
                                    "strategies": {r.config.strategy: r.to_dict() for r in results}}
        stem.with_suffix(".json").write_text(json.dumps(document, indent=1))
        plot(results, stem.with_suffix(".png"))
        console.print(f"wrote {escape(str(stem))}.json and {escape(str(stem))}.png")
    return 0


def add_parser(sub: Any) -> None:
    from cognition.experiment import ExperimentConfig

    defaults = ExperimentConfig()
    p = sub.add_parser("experiment", help="continual learning on scikit-learn's digits (needs the demo extra)")
    p.add_argument("benchmark", choices=["split-digits", "permuted-digits"])
    p.add_argument("--strategy", type=_strategies, default="all",
                   help="comma-separated: naive, ewc, online_ewc, replay, replay_online_ewc, joint; or all")
    p.add_argument("--scenario", choices=["task", "domain", "class"],
                   help="default: class for split-digits, domain for permuted-digits")
    p.add_argument("--seeds", type=int_at_least(1), default=5, help="run seeds 0..N-1")
    p.add_argument("--out", metavar="DIR", help="write DIR/<benchmark>-<scenario>.json and .png")
    p.add_argument("--epochs", type=int_at_least(1), default=defaults.epochs, help="epochs per task")
    p.add_argument("--hidden", type=int_at_least(1), default=defaults.hidden,
                   help="width of the MLP's two hidden layers")
    p.add_argument("--per-class", type=int_at_least(1), default=defaults.per_class,
                   help="replay: stored episodes per class")
    p.add_argument("--sleep-epochs", type=int_at_least(0), default=defaults.sleep_epochs,
                   help="replay: epochs of class-balanced replay of the buffer after each task")
    p.add_argument("--ewc-lambda", type=non_negative_float, default=None,
                   help="EWC penalty weight for every strategy (default: cognition.experiment.DEFAULT_LAMBDA)")
    p.set_defaults(func=run_experiment_command)
