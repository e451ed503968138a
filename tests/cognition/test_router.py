"""The HRM's parts: confidence measures, running quantiles, threshold calibration, budget veto."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cognition.config import AgentConfig
from cognition.router import HRM, Calibrator, RunningQuantile, confidence


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
    hrm = HRM(AgentConfig(), can_escalate=True)
    hrm.system2_latency.add(0.010)
    assert hrm.decide(0.1, 0.5, 0.5, None).escalate
    veto = hrm.decide(0.1, 0.5, 0.5, 0.001)
    assert not veto.escalate and veto.budget_limited and "budget" in veto.reason
