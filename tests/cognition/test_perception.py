"""Perception: input checks, statistics and the exposed penultimate activations."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from cognition.perception import Perception, expose_features
from engine.errors import InvalidInputError
from engine.loader import load_model
from engine.session import InferenceSession


def test_expose_features_outputs_the_hidden_layer(model_path, samples) -> None:
    graph, name = expose_features(load_model(model_path))
    assert name is not None and name in graph.output_names
    weights = {t.name: numpy_helper.to_array(t) for t in onnx.load(model_path).graph.initializer}
    x = samples[0][:3]
    got = InferenceSession(graph).run([name], {"pixels": x})[0]
    np.testing.assert_allclose(got, np.maximum(x @ weights["w1"] + weights["b1"], 0), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        (np.zeros(63, np.float32), "dimension 1 must be 64"),
        (np.zeros(64, np.float64), "dtype float64"),
        (np.zeros((2, 64), np.float32), "batch of 2"),
        (np.full(64, np.nan, np.float32), "NaN"),
        ("pixels", "must be a numpy array"),
        ({"other": np.zeros(64, np.float32)}, "unknown input"),
    ],
)
def test_bad_inputs_are_named(model_path, bad, words) -> None:
    perception = Perception(load_model(model_path).inputs)
    with pytest.raises(InvalidInputError, match=words):
        perception.perceive(bad)


def test_percept_adds_the_batch_axis_and_measures(model_path, samples) -> None:
    percept = Perception(load_model(model_path).inputs).perceive(samples[0][0])
    assert percept.feeds["pixels"].shape == (1, 64)
    assert percept.variance == pytest.approx(float(samples[0][0].var()), rel=1e-4)
    assert 0.0 < percept.entropy <= 1.0 and len(percept.digest) == 16


def test_large_inputs_are_measured_on_a_sample() -> None:
    from cognition.perception import STATISTICS_SAMPLE, _statistics

    rng = np.random.default_rng(0)
    image = rng.normal(0.5, 0.2, (1, 3, 96, 96)).astype(np.float32)
    assert image.size > STATISTICS_SAMPLE
    variance, entropy = _statistics(image)
    assert variance == pytest.approx(float(image.var()), rel=0.1)
    full_variance, full_entropy = _statistics(image.reshape(-1)[:STATISTICS_SAMPLE])  # exact below the size
    assert full_variance == pytest.approx(float(image.reshape(-1)[:STATISTICS_SAMPLE].var()), rel=1e-4)
    assert entropy == pytest.approx(full_entropy, abs=0.05)


def _reference_statistics(flat: np.ndarray) -> tuple[float, float]:
    values = flat.astype(np.float64)
    lo, hi = values.min(), values.max()
    if not hi > lo:
        return float(values.var()), 0.0
    counts = np.bincount(((values - lo) * ((16 - 1e-3) / (hi - lo))).astype(np.intp), minlength=16)
    p = counts[counts > 0] / values.size
    return float(values.var()), float(-(p * np.log(p)).sum() / np.log(16))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.uint8])
def test_statistics_match_a_numpy_reference(seed: int, dtype: type) -> None:
    from cognition.perception import _statistics

    rng = np.random.default_rng(seed)
    size = int(rng.integers(1, 3000))
    x = (rng.normal(0, 10, size) if np.dtype(dtype).kind == "f" else rng.integers(0, 200, size)).astype(dtype)
    variance, entropy = _statistics(x)
    ref_variance, ref_entropy = _reference_statistics(x.astype(np.float32))
    assert variance == pytest.approx(ref_variance, rel=1e-5, abs=1e-9)
    assert entropy == pytest.approx(ref_entropy, abs=1e-9)
    assert _statistics(np.full(7, 3.0, dtype)) == (0.0, 0.0)


def test_the_input_projection_keeps_distances_and_its_kind() -> None:
    from cognition.perception import RandomProjection

    rng = np.random.default_rng(3)
    x = rng.random((100, 1, 3, 16, 16), dtype=np.float32)  # images: no penultimate layer to read
    i, j = rng.integers(0, 100, 500), rng.integers(0, 100, 500)
    keep = i != j
    true = np.linalg.norm((x[i] - x[j]).reshape(len(i), -1), axis=1)[keep]
    for kind in ("sparse", "gaussian"):
        projection = RandomProjection(768, 64, 0, kind)
        y = np.stack([projection({"x": v}) for v in x])
        assert y.shape == (100, 64) and y.dtype == np.float32 and projection.kind == kind
        ratio = np.linalg.norm(y[i] - y[j], axis=1)[keep] / true
        assert 0.95 < ratio.mean() < 1.05 and ratio.std() < 0.12
    np.testing.assert_array_equal(RandomProjection(768, 64, 0)({"x": x[0]}), RandomProjection(768, 64, 0)({"x": x[0]}))
    # the Gaussian is the one memories written before the sparse projection hold: the same matrix as then
    legacy = np.random.default_rng(0).standard_normal((768, 64)) / np.sqrt(64)
    old = RandomProjection(768, 64, 0, "gaussian")({"x": x[0]})
    np.testing.assert_allclose(old, x[0].reshape(-1) @ legacy, rtol=1e-4)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", [0, 37, 63])
def test_a_full_shape_input_is_checked_for_nan_and_infinity(model_path, bad, where) -> None:
    # (1, 64) float32 in C order takes the short path (three comparisons and one compiled pass)
    perception = Perception(load_model(model_path).inputs)
    x = np.ones((1, 64), np.float32)
    assert perception.check(x)["pixels"] is x  # the short path: no copy
    x[0, where] = bad
    with pytest.raises(InvalidInputError, match="NaN or infinity"):
        perception.check(x)


def test_large_finite_values_are_accepted(model_path) -> None:
    perception = Perception(load_model(model_path).inputs)
    x = np.full((1, 64), 3e38, np.float32)  # their float32 sum would be infinite; every value is finite
    assert perception.check(x)["pixels"] is x
    strided = np.ones((1, 128), np.float32)[:, ::2]  # right shape, not C order: the full checks, a copy
    fed = perception.check(strided)["pixels"]
    assert fed.flags.c_contiguous and np.array_equal(fed, strided)


@pytest.mark.parametrize("shape", [(1, 64), (1, 3, 5, 7), (2, 3, 4)])
def test_statistics_read_any_shape_as_its_flat_values(shape) -> None:
    from cognition.perception import _statistics

    x = np.random.default_rng(1).random(shape, dtype=np.float32)
    assert _statistics(x) == _statistics(x.reshape(-1).copy())
