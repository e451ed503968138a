"""The continual-learning experiment: tasks, metrics, targets on one seed, and the ``ronn experiment`` command."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from cognition.experiment import ExperimentConfig, make_tasks, outputs_of, run_experiment, run_seed

pytest.importorskip("sklearn")


def test_split_digits_tasks_per_scenario() -> None:
    tasks = make_tasks(ExperimentConfig(scenario="class"), seed=0)
    assert [sorted(set(t.y_train.tolist())) for t in tasks] == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]
    assert sum(len(t.y_test) for t in tasks) == pytest.approx(0.3 * 1797, abs=10)
    domain = make_tasks(ExperimentConfig(scenario="domain"), seed=0)
    assert all(set(t.y_test.tolist()) == {0, 1} for t in domain)
    assert outputs_of(ExperimentConfig(scenario="domain")) == 2
    task = make_tasks(ExperimentConfig(scenario="task"), seed=0)
    assert task[2].mask is not None and np.flatnonzero(task[2].mask).tolist() == [4, 5]


def test_permuted_digits_tasks() -> None:
    config = ExperimentConfig(benchmark="permuted-digits", scenario="class")
    tasks = make_tasks(config, seed=3)
    assert outputs_of(config) == 50 and sorted(set(tasks[4].y_train.tolist())) == list(range(40, 50))
    first, second = tasks[0].x_train, tasks[1].x_train
    assert not np.array_equal(first, second) and np.array_equal(np.sort(first, 1), np.sort(second, 1))
    again = make_tasks(config, seed=3)
    assert np.array_equal(again[1].x_test, tasks[1].x_test)


def test_metrics_follow_their_definitions() -> None:
    result = run_seed(ExperimentConfig(strategy="naive", epochs=3), seed=0)
    r = np.asarray(result.accuracy)
    assert r.shape == (5, 5)
    assert result.average_accuracy == pytest.approx(r[-1].mean())
    assert result.forgetting == pytest.approx(np.mean(np.diag(r)[:-1] - r[-1, :-1]))
    assert result.backward_transfer == pytest.approx(-result.forgetting)
    assert result.engine_agreement == 1.0


def test_class_incremental_replay_beats_naive_and_nears_joint() -> None:
    acc = {name: run_experiment(ExperimentConfig(strategy=name), [0]).mean("average_accuracy")
           for name in ("naive", "replay", "joint")}
    assert acc["naive"] < 0.3
    assert acc["replay"] >= 0.93 * acc["joint"]


def test_ewc_beats_naive_on_permuted_digits() -> None:
    base = ExperimentConfig(benchmark="permuted-digits", scenario="domain", tasks=3, epochs=5)
    acc = {name: run_experiment(ExperimentConfig(**{**base.__dict__, "strategy": name}), [0]).mean(
        "average_accuracy") for name in ("naive", "online_ewc")}
    assert acc["online_ewc"] > acc["naive"] + 0.1


def _parse(argv: list[str]) -> argparse.Namespace:
    from ronn.experiment import add_parser

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_command_writes_json_and_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    args = _parse(["experiment", "split-digits", "--strategy", "naive,joint", "--seeds", "2", "--epochs", "3",
                   "--out", str(tmp_path)])
    console = Console(record=True, width=140)
    assert args.func(args, console) == 0
    text = console.export_text()
    assert "naive" in text and "% of joint" in text
    document = json.loads((tmp_path / "split-digits-class.json").read_text())
    assert document["seeds"] == [0, 1] and set(document["strategies"]) == {"naive", "joint"}
    assert len(document["strategies"]["joint"]["runs"]) == 2
    assert (tmp_path / "split-digits-class.png").read_bytes()[:4] == b"\x89PNG"


def test_command_rejects_unknown_strategy() -> None:
    with pytest.raises(SystemExit):
        _parse(["experiment", "split-digits", "--strategy", "magic"])


def test_missing_extra_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    args = _parse(["experiment", "split-digits", "--seeds", "1"])
    console = Console(record=True, width=200)
    assert args.func(args, console) == 2
    assert 'pip install "ronn[demo]"' in console.export_text()
