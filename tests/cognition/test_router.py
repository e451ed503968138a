"""The HRM's parts: confidence measures, running quantiles, threshold calibration, budget veto."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cognition.config import AgentConfig
from cognition.router import HRM, Calibrator, RunningQuantile, confidence, judge
from cognition.vectors import VectorWindow


def test_confidence_measures() -> None:
    p = np.array([0.7, 0.2, 0.1], np.float32)
    assert confidence(p, "max_probability") == pytest.approx(0.7)
    assert confidence(p, "margin") == pytest.approx(0.5)
    entropy = -(p * np.log(p)).sum() / np.log(3)
    assert confidence(p, "entropy") == pytest.approx(1 - entropy, rel=1e-5)


@given(st.lists(st.floats(-1e3, 1e3), min_size=96, max_size=96), st.floats(-1e3, 1e3))
@settings(max_examples=50, deadline=None)
def test_running_quantile_ranks_against_the_window(values: list[float], probe: float) -> None:
    q = RunningQuantile(64)
    for v in values:
        q.add(v)
    # 96 values: the sorted copy was just refreshed and holds the last 64
    assert q.rank(probe) == pytest.approx(np.mean(np.array(values[-64:]) < probe))


def test_calibration_meets_the_target_accuracy() -> None:
    rng = np.random.default_rng(0)
    cal = Calibrator(AgentConfig(system1_target_accuracy=0.95, calibration_min_feedback=50))
    conf = rng.uniform(0, 1, 2000)
    correct = rng.uniform(0, 1, 2000) < conf  # accuracy rises with confidence
    for c, ok in zip(conf, correct, strict=True):
        cal.record(float(c), bool(ok))
    kept = conf[-2000:] >= cal.threshold
    assert correct[kept].mean() >= 0.95
    assert 0.5 < cal.threshold < 1.0  # keeps a useful share, not everything and not nothing


def test_budget_vetoes_system2() -> None:
    hrm = HRM(AgentConfig())
    hrm.system2_latency.add(0.010)
    assert hrm.decide(0.1, 0.5, 0.5, None).escalate
    veto = hrm.decide(0.1, 0.5, 0.5, 0.001)
    assert not veto.escalate and veto.budget_limited and "budget" in veto.reason


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from([0.0, 0.1, 0.25, 0.5, 1.0, float("nan"), -1.0]), min_size=1, max_size=12),
    st.sampled_from(["max_probability", "margin", "entropy"]),
)
def test_judge_is_argmax_and_confidence(values, measure) -> None:
    # the compiled pass must agree with numpy on ties (first index wins), NaN and single classes
    p = np.asarray(values, np.float32)
    prediction, conf = judge(p, measure)
    assert prediction == int(p.argmax())
    expected = confidence(p, measure)
    assert conf == expected or (np.isnan(conf) and np.isnan(expected))


def test_the_window_observes_as_distance_then_add() -> None:
    rng = np.random.default_rng(3)
    one, other = VectorWindow(40, 16, 3), VectorWindow(40, 16, 3)
    for _ in range(120):  # past the window's size: rows are overwritten in turn
        v = rng.standard_normal(16).astype(np.float32)
        expected = one.distance(v)
        one.add(v)
        got = other.observe(v)
        assert (got is None) == (expected is None)
        if expected is not None:
            assert got == pytest.approx(expected, rel=1e-4)
    assert np.array_equal(one._m, other._m) and len(one) == len(other) == 40
