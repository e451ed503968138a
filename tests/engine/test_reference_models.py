"""Real exported models: our outputs must match onnxruntime's on the files in ``tests/data``.

``scripts/export_models.py`` (torch 2.13.0) made every file listed in ``tests/data/manifest.json`` and
saved onnxruntime's outputs (graph optimizations disabled) for seeded inputs beside it. Each model runs at
our lowest and highest optimization level, so the graph passes are held to the same reference.

Tolerance: ``rtol=1e-4`` as the engine issue asks, plus ``atol=1e-5`` because relative error means nothing
for values near zero (LayerNorm outputs, logits that cross zero): a different summation order alone leaves an
absolute error of about 1e-6 there. The pair is calibrated on onnxruntime itself: its own optimized graphs
(fused kernels, reordered sums) stay within 16% of this budget on every file, yet fail ``atol=0`` on the
BERT files (relative error 2.7e-4 at values near zero).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.options import GraphOptimizationLevel, SessionOptions
from engine.session import InferenceSession

DATA = Path(__file__).resolve().parents[1] / "data"
MANIFEST: dict[str, Any] = json.loads((DATA / "manifest.json").read_text())
FILES: dict[str, dict[str, Any]] = MANIFEST["files"]
DYNAMIC = [name for name, entry in FILES.items() if entry["batch"] == "dynamic"]
RTOL, ATOL = 1e-4, 1e-5
LEVELS = {"O0": GraphOptimizationLevel.ORT_DISABLE_ALL, "O3": GraphOptimizationLevel.ORT_ENABLE_ALL}
SIZE_LIMIT = 5_000_000  # committed reference data stays under 5 MB


def _stem(name: str) -> str:
    return name.removesuffix(".onnx")


@functools.cache
def _session(name: str, level: str, threads: int = 0) -> InferenceSession:
    options = SessionOptions()
    options.graph_optimization_level = LEVELS[level]
    options.intra_op_num_threads = threads
    return InferenceSession(str(DATA / name), options, providers=["CPUExecutionProvider"])


@functools.cache
def _reference(name: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    with np.load(DATA / FILES[name]["reference"]) as data:
        inputs = {k.removeprefix("input:"): data[k] for k in data.files if k.startswith("input:")}
        outputs = {k.removeprefix("output:"): data[k] for k in data.files if k.startswith("output:")}
    return inputs, outputs


def _ort_session(name: str) -> Any:
    ort = pytest.importorskip("onnxruntime")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(str(DATA / name), options, providers=["CPUExecutionProvider"])


def _assert_outputs_close(name: str, ours: list[np.ndarray], expected: dict[str, np.ndarray]) -> None:
    assert len(ours) == len(expected), f"{name}: {len(ours)} outputs, onnxruntime gives {len(expected)}"
    for (out_name, want), got in zip(expected.items(), ours, strict=True):
        got = np.asarray(got)
        assert got.dtype == want.dtype, f"{name}:{out_name}: dtype {got.dtype}, onnxruntime {want.dtype}"
        assert got.shape == want.shape, f"{name}:{out_name}: shape {got.shape}, onnxruntime {want.shape}"
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL, err_msg=f"{name}:{out_name}")


def test_manifest_lists_exactly_the_committed_models() -> None:
    on_disk = {p.name for p in DATA.glob("*.onnx")}
    assert on_disk == set(FILES), "re-run scripts/export_models.py: manifest.json and tests/data disagree"
    for entry in FILES.values():
        assert (DATA / entry["reference"]).is_file()


def test_reference_data_stays_small() -> None:
    total = sum(p.stat().st_size for p in DATA.iterdir() if p.is_file())
    assert total < SIZE_LIMIT, (
        f"tests/data holds {total / 1e6:.2f} MB; keep it under {SIZE_LIMIT / 1e6:.0f} MB"
    )


@pytest.mark.parametrize("level", list(LEVELS))
@pytest.mark.parametrize("name", list(FILES), ids=_stem)
def test_outputs_match_onnxruntime(name: str, level: str) -> None:
    inputs, expected = _reference(name)
    session = _session(name, level)
    ours = session.run(None, inputs)
    _assert_outputs_close(name, ours, {o.name: expected[o.name] for o in session.get_outputs()})


@pytest.mark.parametrize("name", list(FILES), ids=_stem)
def test_outputs_match_onnxruntime_one_thread(name: str) -> None:
    """At one intra-op thread the serial kernels run (the pre-packed GEMM, implicit-GEMM convolutions)."""
    inputs, expected = _reference(name)
    session = _session(name, "O3", 1)
    ours = session.run(None, inputs)
    _assert_outputs_close(name, ours, {o.name: expected[o.name] for o in session.get_outputs()})


@pytest.mark.parametrize("name", list(FILES), ids=_stem)
def test_output_names_select_outputs(name: str) -> None:
    inputs, expected = _reference(name)
    wanted = list(reversed(expected))  # ask in a different order than the graph declares
    ours = _session(name, "O0").run(wanted, inputs)
    _assert_outputs_close(name, ours, {k: expected[k] for k in wanted})


@pytest.mark.parametrize("level", list(LEVELS))
@pytest.mark.parametrize("name", DYNAMIC, ids=_stem)
def test_other_batch_size_matches_onnxruntime_live(name: str, level: str) -> None:
    reference = _ort_session(name)
    saved, _ = _reference(name)
    rows = np.arange(3) % next(iter(saved.values())).shape[0]  # batch 3 from the saved rows: 0, 1, 0
    inputs = {k: np.ascontiguousarray(v[rows]) for k, v in saved.items()}
    names = [o.name for o in reference.get_outputs()]
    expected = dict(zip(names, reference.run(names, inputs), strict=True))
    _assert_outputs_close(name, _session(name, level).run(names, inputs), expected)


def _describe(args: list[Any]) -> list[tuple[str, str]]:
    return [(arg.name, arg.type) for arg in args]


@pytest.mark.parametrize("name", list(FILES), ids=_stem)
def test_inputs_and_outputs_described_like_onnxruntime(name: str) -> None:
    reference = _ort_session(name)
    session = _session(name, "O0")
    assert _describe(session.get_inputs()) == _describe(reference.get_inputs())
    assert _describe(session.get_outputs()) == _describe(reference.get_outputs())
    for ours, theirs in zip(session.get_inputs(), reference.get_inputs(), strict=True):
        assert ours.shape is not None and len(ours.shape) == len(theirs.shape), ours.name
        for got, want in zip(ours.shape, theirs.shape, strict=True):
            if isinstance(want, int):  # static dimensions must agree; symbolic names may differ
                assert got == want, f"{name}:{ours.name}: shape {ours.shape}, onnxruntime {theirs.shape}"
            else:
                assert not isinstance(got, int), f"{name}:{ours.name}: {ours.shape} fixes a dynamic dim"
