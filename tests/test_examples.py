"""The examples run as a user would run them, and print what they promise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("simple_inference.py", ["inputs:", "y =", "caught:"]),
        ("onnx_model.py", ["digits_mlp.onnx", "Gemm", "probabilities: shape (1, 10)"]),
        ("brain_features.py", ["routing", "via system1", "route cache", "budget", "recall of input 3"]),
        ("continual_learning.py", ["class-incremental", "System 1 agreement"]),
    ],
)
def test_example_runs(script: str, expected: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    for text in expected:
        assert text in result.stdout
