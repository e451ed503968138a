"""Shared fixtures: the bundled digits model, its QAT-trained fast model and held-out samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine import ir
from engine.quantize import ternarize
from ronn.cli import DATA

MODEL = DATA / "digits_mlp.onnx"


@pytest.fixture(scope="session")
def model_path() -> Path:
    return MODEL


@pytest.fixture(scope="session")
def fast_graph() -> ir.Graph:
    return ternarize(DATA / "digits_mlp_qat.onnx")


@pytest.fixture(scope="session")
def samples() -> tuple[np.ndarray, np.ndarray]:
    data = np.load(DATA / "digits_samples.npz")
    return data["pixels"], data["labels"]


@pytest.fixture(scope="session")
def digit_stream(samples):
    """``digit_stream(n)``: n digit inputs, distinct also past the held-out samples (each pass adds 1e-3)."""

    def make(n: int) -> list[np.ndarray]:
        pixels = samples[0]
        return [pixels[i % len(pixels)] + np.float32(1e-3 * (i // len(pixels))) for i in range(n)]

    return make
