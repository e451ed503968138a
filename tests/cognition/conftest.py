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


@pytest.fixture(scope="session")
def conv_model() -> bytes:
    """3x8x8 images -> conv -> global pool -> 4 scores: no dense layer, so features come from the input."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w")
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
            helper.make_node("GlobalAveragePool", ["c"], ["p"]),
            helper.make_node("Flatten", ["p"], ["y"]),
        ],
        "conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        [w],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
