"""The ``ronn`` command: inspect, run and demo, run in-process through ``ronn.cli.main``."""

from __future__ import annotations

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


def test_run_reports_bad_input_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    np.save(tmp_path / "x.npy", np.zeros((1, 64)))  # float64: wrong dtype
    assert main(["run", str(MODEL), "--input", f"pixels={tmp_path / 'x.npy'}"]) == 2
    assert "InvalidInputError" in capsys.readouterr().out


def test_inspect_garbage_file_fails_cleanly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"garbage" * 10)
    assert main(["inspect", str(bad)]) == 2
    assert "ModelError" in capsys.readouterr().out


def test_demo_runs_and_reports_accuracy(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--repeats", "20"]) == 0
    out = capsys.readouterr().out
    assert "accuracy on 32 held-out images" in out and "P50" in out
