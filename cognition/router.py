"""The HRM: complexity, novelty and System 1's confidence decide the route; feedback calibrates the threshold.

Route, for an input that missed the exact cache:

1. System 1 runs (it is the cheap model, and its penultimate activations are the percept's features).
2. Novel (distance to the nearest stored episodes above the running ``novelty_quantile``) or complex (input
   entropy score above the running ``complexity_quantile``) → System 2.
3. Otherwise System 1 keeps the answer when its confidence reaches the threshold, else escalates.
4. A time budget vetoes System 2 when its observed latency exceeds what is left of the budget.

Calibration (selective classification): from labelled feedback on inputs System 1 answered (or would have
answered before escalating), sort by confidence and take the lowest threshold whose kept set has accuracy
>= ``system1_target_accuracy``.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from engine.kernels._numba import jit

from .config import AgentConfig, ConfidenceMeasure


def confidence(p: np.ndarray, measure: ConfidenceMeasure) -> float:
    """Confidence of probabilities ``p``: max probability, top-1 minus top-2 margin, or 1 - entropy/log(n)."""
    if measure == "max_probability":
        return float(p.max())
    if measure == "margin":
        if p.size < 2:
            return float(p.max())
        top = np.partition(p, p.size - 2)[-2:]
        return float(top[1] - top[0])
    q = p[p > 0]
    return float(1.0 + (q * np.log(q)).sum() / math.log(max(p.size, 2)))


def judge(p: np.ndarray, measure: ConfidenceMeasure) -> tuple[int, float]:
    """The prediction (argmax) and :func:`confidence` of probabilities ``p``: for max probability and margin
    on float32 scores one compiled pass (every ``infer`` judges; three numpy calls took ~6 µs cold here)."""
    if measure != "entropy" and p.dtype == np.float32 and p.ndim == 1 and p.size:
        prediction, conf = _top_two(p, measure == "margin")
        if prediction >= 0:
            return prediction, conf
    return int(p.argmax()), confidence(p, measure)


@jit()
def _top_two(p: np.ndarray, margin: bool) -> tuple[int, float]:  # pragma: no cover - compiled by numba
    """(argmax, max or top-1 minus top-2) of float32 ``p``; (-1, 0) when it holds NaN (numpy decides then)."""
    best = 0
    top = p[0]
    second = -np.inf
    for i in range(p.size):
        v = p[i]
        if math.isnan(v):
            return -1, 0.0
        if i and v > top:
            second = top
            top = v
            best = i
        elif i and v > second:
            second = v
    if margin and p.size >= 2:
        return best, float(top - np.float32(second))
    return best, float(top)


class RunningQuantile:
    """Ranks a value among the last ``window`` values seen (the sorted copy refreshes every 32 values)."""

    def __init__(self, window: int) -> None:
        self._values = np.zeros(window, np.float64)
        self._n = 0
        self.held = 0  #: values held (at most ``window``)
        self._sorted = np.zeros(0, np.float64)
        self._stale = 0

    def __len__(self) -> int:
        return self.held

    def rank(self, value: float) -> float:
        """Fraction of recent values below ``value`` (0.5 before any value is known)."""
        known = len(self._sorted)
        return _below(self._sorted, value) / known if known else 0.5

    def add(self, value: float) -> None:
        values = self._values
        values[self._n % len(values)] = value
        self._n += 1
        self._stale += 1
        held = self.held = min(self._n, len(values))
        if self._stale >= 32 or held <= 32:
            self._sorted = np.sort(values[:held])
            self._stale = 0

    @staticmethod
    def warm_up() -> None:
        """Compile (or load from numba's cache) the rank's kernel now rather than in the first ``infer``."""
        quantile = RunningQuantile(2)
        quantile.place(0.0)
        quantile.place(1.0)

    def place(self, value: float) -> float:
        """:meth:`rank` of ``value``, then :meth:`add` it (each ``infer`` does both, for two quantiles)."""
        rank = self.rank(value)
        self.add(value)
        return rank


@jit()
def _below(ordered: np.ndarray, value: float) -> int:  # pragma: no cover - compiled by numba
    """How many of the sorted ``ordered`` are below ``value`` (``searchsorted``: ~0.5 µs against ~2 cold)."""
    return int(np.searchsorted(ordered, value))


class Calibrator:
    """Keeps recent (confidence, correct) outcomes of System 1 and derives the escalation threshold."""

    def __init__(self, config: AgentConfig) -> None:
        self.target = config.system1_target_accuracy
        self.min_feedback = config.calibration_min_feedback
        self.threshold = config.initial_threshold
        self._outcomes: deque[tuple[float, bool]] = deque(maxlen=config.calibration_window)
        self.count = 0

    def record(self, conf: float, correct: bool) -> None:
        self._outcomes.append((conf, correct))
        self.count += 1
        if len(self._outcomes) >= self.min_feedback and (self.count < 256 or self.count % 16 == 0):
            self.threshold = self._calibrate()

    def _calibrate(self) -> float:
        data = np.array(self._outcomes, dtype=np.float64)
        order = np.argsort(-data[:, 0], kind="stable")
        conf, correct = data[order, 0], data[order, 1]
        accuracy = np.cumsum(correct) / np.arange(1, len(correct) + 1)
        # keep the largest prefix meeting the target; ties in confidence must be kept or dropped together
        ok = np.flatnonzero(accuracy >= self.target)
        ends = ok[(ok == len(conf) - 1) | (conf[np.minimum(ok + 1, len(conf) - 1)] < conf[ok])]
        if not len(ends):
            return float(np.nextafter(conf[0], np.inf))  # nothing meets the target: escalate everything
        return float(conf[ends[-1]])


@dataclass(frozen=True, slots=True)
class Decision:
    escalate: bool
    reason: str
    budget_limited: bool = False


class LatencyEstimate:
    """Exponentially weighted mean of observed run times (seconds) for one system."""

    def __init__(self) -> None:
        self.value = 0.0
        self.n = 0

    def add(self, seconds: float) -> None:
        self.n += 1
        self.value = seconds if self.n == 1 else 0.9 * self.value + 0.1 * seconds


class HRM:
    """Scores percepts and chooses between System 1 and System 2 (see the module docstring)."""

    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self.calibrator = Calibrator(config)
        self.novelty = RunningQuantile(config.quantile_window)
        self.complexity = RunningQuantile(config.quantile_window)
        self.system1_latency = LatencyEstimate()
        self.system2_latency = LatencyEstimate()

    def score(self, complexity: float, distance: float | None) -> tuple[float, float]:
        """Running-quantile ranks of the input's complexity and novelty (then remembers both values)."""
        c_rank = self.complexity.place(complexity)
        if distance is None:  # no episode yet: nothing to compare with
            return c_rank, 1.0
        return c_rank, self.novelty.place(distance)

    def decide(
        self, conf: float, complexity_rank: float, novelty_rank: float, budget_s: float | None
    ) -> Decision:
        cfg = self.config
        warm = self.complexity.held > cfg.quantile_warmup
        if warm and self.novelty.held > cfg.quantile_warmup and novelty_rank > cfg.novelty_quantile:
            reason = f"novel (distance rank {novelty_rank:.3f} > {cfg.novelty_quantile})"
        elif warm and complexity_rank > cfg.complexity_quantile:
            reason = f"complex (rank {complexity_rank:.3f} > {cfg.complexity_quantile})"
        elif conf < self.calibrator.threshold:
            reason = f"System 1 unsure ({conf:.3f} < {self.calibrator.threshold:.3f})"
        else:
            return Decision(False, f"System 1 confident ({conf:.3f} >= {self.calibrator.threshold:.3f})")
        if budget_s is not None and self.system2_latency.value > budget_s:
            return Decision(
                False,
                f"{reason}, but System 2 (~{self.system2_latency.value * 1e3:.3g} ms) does not fit "
                f"what is left of the budget ({max(budget_s, 0.0) * 1e3:.3g} ms)",
                budget_limited=True,
            )
        return Decision(True, reason)
