"""The pipelines: which level runs which pass, disabling by name, and every level equal to O0 on the
exported reference models (tests/data)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from onnx import helper
from passes_helpers import model, ops, rand, run_level, tensor

from engine.errors import ModelError
from engine.options import GraphOptimizationLevel, SessionOptions
from engine.passes.manager import PASSES, PIPELINES
from engine.session import InferenceSession

DATA = Path(__file__).resolve().parents[2] / "data"


def test_levels_nest_and_every_pass_is_in_a_level() -> None:
    assert PIPELINES[0] == []
    for low, high in ((1, 2), (2, 3)):
        assert PIPELINES[high][: len(PIPELINES[low])] == PIPELINES[low]
    assert set(PIPELINES[3]) == set(PASSES)
    assert "constant_folding" in PIPELINES[1] and "conv_bn_folding" not in PIPELINES[1]
    assert "memory_planning" not in PIPELINES[2]


def _relu_gemm():
    return model(
        [helper.make_node("Gemm", ["x", "w"], ["g"]), helper.make_node("Relu", ["g"], ["y"])],
        [tensor("x", [2, 3])],
        [tensor("y", [2, 3])],
        {"w": rand(3, 3)},
    )


def test_level_selects_passes_and_disabled_passes_are_skipped() -> None:
    assert ops(run_level(_relu_gemm(), 1)) == ["Gemm", "Relu"]
    assert ops(run_level(_relu_gemm(), 2)) == ["ai.ronn::FusedGemm"]
    assert ops(run_level(_relu_gemm(), 3, disabled=["activation_fusion"])) == ["Gemm", "Relu"]


def test_session_options_reach_the_optimizer() -> None:
    options = SessionOptions()
    options.disabled_optimizers = ["activation_fusion"]
    assert ops(InferenceSession(_relu_gemm(), options).graph) == ["Gemm", "Relu"]
    assert ops(InferenceSession(_relu_gemm()).graph) == ["ai.ronn::FusedGemm"]
    options.disabled_optimizers = ["no_such_pass"]
    with pytest.raises(ModelError, match="no_such_pass"):
        InferenceSession(_relu_gemm(), options)


def _reference_files() -> list[str]:
    manifest = DATA / "manifest.json"
    return sorted(json.loads(manifest.read_text())["files"]) if manifest.is_file() else []


@pytest.mark.skipif(not _reference_files(), reason="no exported reference models in tests/data")
@pytest.mark.parametrize("name", _reference_files() or ["none"], ids=lambda n: n.removesuffix(".onnx"))
def test_every_level_matches_o0_on_reference_models(name: str) -> None:
    with np.load(DATA / name.replace(".onnx", ".npz")) as data:
        feeds = {k.removeprefix("input:"): data[k] for k in data.files if k.startswith("input:")}
    results = []
    for level in range(4):
        options = SessionOptions()
        options.graph_optimization_level = GraphOptimizationLevel(level)
        session = InferenceSession(str(DATA / name), options)
        results.append((len(session.graph.nodes), session.run(None, feeds)))
    base_nodes, base = results[0]
    for level, (nodes, outs) in enumerate(results[1:], start=1):
        assert nodes <= base_nodes, f"O{level} grew the graph"
        for got, want in zip(outs, base, strict=True):
            assert got.dtype == want.dtype and got.shape == want.shape
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, err_msg=f"{name} O{level}")
