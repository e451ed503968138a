"""The ``ronn`` command: inspect, run and demo, run in-process through ``ronn.cli.main``."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from ronn.cli import DATA, main

MODEL = DATA / "digits_mlp.onnx"


def test_inspect_shows_inputs_ops_and_parameters(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(MODEL)]) == 0
    out = capsys.readouterr().out
    for text in ("pixels", "[batch, 64]", "probabilities", "Gemm", "parameters: 4,810", "ai.onnx 17"):
        assert text in out


def test_run_writes_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    samples = np.load(DATA / "digits_samples.npz")
    np.save(tmp_path / "x.npy", samples["pixels"][:4])
    assert main(["run", str(MODEL), "--input", f"pixels={tmp_path / 'x.npy'}", "--output-dir",
                 str(tmp_path / "out")]) == 0
    probs = np.load(tmp_path / "out" / "probabilities.npy")
    assert probs.shape == (4, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-5)
    assert (probs.argmax(1) == samples["labels"][:4]).mean() >= 0.75


@pytest.mark.parametrize("name", ["digits_mlp.onnx", "digits_mlp_qat.onnx"])
def test_shipped_models_run_alike_on_onnxruntime(name: str) -> None:
    """The demo's models are what users try first with both runtimes: IR 10 at most (what onnxruntime reads from
    1.18 on; the onnx package's default, IR 14, failed on onnxruntime 1.30) and one answer."""
    import onnx
    import onnxruntime as ort

    from engine.session import InferenceSession

    assert onnx.load(DATA / name).ir_version <= 10
    x = np.load(DATA / "digits_samples.npz")["pixels"]
    ours = InferenceSession(DATA / name).run(None, {"pixels": x})
    theirs = ort.InferenceSession(str(DATA / name), providers=["CPUExecutionProvider"]).run(None, {"pixels": x})
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_run_reports_bad_input_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    np.save(tmp_path / "x.npy", np.zeros((1, 64)))  # float64: wrong dtype
    assert main(["run", str(MODEL), "--input", f"pixels={tmp_path / 'x.npy'}"]) == 2
    assert "InvalidInputError" in capsys.readouterr().out


def test_error_messages_keep_their_brackets(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(MODEL)]) == 2  # no input: the message names the expected shape
    out = " ".join(capsys.readouterr().out.split())  # rich wraps long lines
    assert "missing input 'pixels'" in out and "[batch, 64]" in out


def test_run_reports_an_output_folder_it_cannot_make(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.zeros((1, 64), np.float32))
    (tmp_path / "file").write_text("")
    with pytest.raises(SystemExit, match="cannot write outputs to"):
        main(["run", str(MODEL), "--input", f"pixels={tmp_path / 'x.npy'}", "--output-dir", str(tmp_path / "file")])


def test_inspect_garbage_file_fails_cleanly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"garbage" * 10)
    assert main(["inspect", str(bad)]) == 2
    assert "ModelError" in capsys.readouterr().out


def test_demo_runs_the_agent_on_digits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--limit", "120", "--memory", str(tmp_path / "demo.db")]) == 0
    out = capsys.readouterr().out
    for text in ("routes", "system1", "accuracy: agent", "System 2 alone", "episodes stored: 120",
                 str(tmp_path / "demo.db")):
        assert text in out


def test_demo_names_the_extra_without_scikit_learn(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "sklearn", None)  # import sklearn now raises ImportError
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    assert main(["demo", "--memory", str(tmp_path / "demo.db")]) == 2
    assert 'pip install "ronn[demo]"' in capsys.readouterr().out


def test_bench_against_onnxruntime_writes_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("onnxruntime")
    out = tmp_path / "bench.json"
    assert main(["bench", str(MODEL), "--vs", "onnxruntime", "--rounds", "20", "--warmup", "2",
                 "--batch", "4", "--json", str(out)]) == 0
    import json

    result = json.loads(out.read_text())
    assert result["batch"] == 4 and result["ronn"]["runs"] == 20 and result["onnxruntime"]["runs"] == 20
    assert result["ratio_p50"] > 0 and result["max_abs_diff"] < 1e-4
    assert "P50 ratio ronn/onnxruntime" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["demo", "--limit", "-5"], "argument --limit: must be at least 1, got -5"),
        (["bench", str(DATA / "digits_mlp.onnx"), "--batch", "0"], "argument --batch: must be at least 1, got 0"),
        (["bench", str(DATA / "digits_mlp.onnx"), "--rounds", "-1"], "argument --rounds: must be at least 1"),
        (["bench", str(DATA / "digits_mlp.onnx"), "--threads", "x"], "--threads: expected a whole number, got 'x'"),
        (["experiment", "split-digits", "--hidden", "0"], "argument --hidden: must be at least 1, got 0"),
        (["experiment", "split-digits", "--seeds", "0"], "argument --seeds: must be at least 1, got 0"),
        (["experiment", "split-digits", "--ewc-lambda", "nan"], "--ewc-lambda: must be a finite number >= 0"),
        (["bench", str(DATA / "digits_mlp.onnx"), "--dim", "batch"], "argument --dim: expected NAME=SIZE, got 'batch'"),
        (["bench", str(DATA / "digits_mlp.onnx"), "--dim", "batch=0"], "argument --dim: must be at least 1, got 0"),
    ],
)
def test_bad_numbers_are_usage_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_bench_takes_symbolic_sizes_and_names_a_file_it_cannot_write(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", str(MODEL), "--dim", "batch=3", "--rounds", "3", "--warmup", "1"]) == 0
    assert "ronn" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="cannot write"):
        main(["bench", str(MODEL), "--rounds", "3", "--warmup", "1", "--json", "/proc/no/such/dir/out.json"])


def test_experiment_refuses_an_output_folder_it_cannot_make_before_the_work(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    start = time.perf_counter()
    with pytest.raises(SystemExit, match="cannot write results to"):
        main(["experiment", "split-digits", "--strategy", "naive", "--seeds", "1", "--out", str(tmp_path / "file")])
    assert time.perf_counter() - start < 5  # at once, not after the training
