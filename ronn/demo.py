"""The digits stream behind ``ronn demo`` and ``benchmarks/bench_agent.py``: an Agent answers scikit-learn's
held-out digits one by one (with label feedback), against System 2 alone on the same images.

System 2 is ``data/digits_mlp.onnx`` (float32); System 1 is ``data/digits_mlp_qat.onnx`` ternarized by
:func:`engine.quantize.ternarize` (trained for ternary weights by ``scripts/make_fast_model.py``).
The split is that of ``scripts/make_demo_model.py``: a permutation with seed 1, the first 360 images held out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

DATA = Path(__file__).resolve().parent / "data"
MODEL = DATA / "digits_mlp.onnx"
FAST_MODEL = DATA / "digits_mlp_qat.onnx"


def load_digits_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(test x, test y, train x, train y); without sklearn, an ImportError naming the extra."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ImportError(
            'the demo needs scikit-learn (for its bundled digits): pip install "ronn[demo]"'
        ) from None
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(1).permutation(len(x))
    return x[order[:360]], y[order[:360]], x[order[360:]], y[order[360:]]


@dataclass
class StreamResult:
    """Per-input routes, predictions and latencies of one pass, and System 2 alone on the same inputs."""

    labels: np.ndarray
    routes: list[str] = field(default_factory=list)
    predictions: list[int] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    system2_predictions: np.ndarray | None = None
    statistics: Any = None

    def accuracy(self, route: str | None = None) -> float:
        pred, y = np.asarray(self.predictions), self.labels[: len(self.predictions)]
        keep = np.ones(len(pred), bool) if route is None else np.asarray(self.routes) == route
        return float((pred[keep] == y[keep]).mean()) if keep.any() else float("nan")

    def share(self, route: str) -> float:
        return float(np.mean(np.asarray(self.routes) == route)) if self.routes else 0.0

    @property
    def system2_accuracy(self) -> float:
        assert self.system2_predictions is not None
        return float((self.system2_predictions == self.labels).mean())


async def run_stream(
    x: np.ndarray,
    y: np.ndarray,
    *,
    memory: Any,
    config: Any = None,
    feedback: bool = True,
    progress: Callable[[int], None] | None = None,
    fast_model: Any = FAST_MODEL,
) -> StreamResult:
    """Stream ``x`` through an Agent one input at a time, giving each label as feedback.

    ``fast_model``: System 1's model before ternarization (None: the Agent's default, the System 2 model
    ternarized after training)."""
    from cognition.agent import Agent
    from engine.quantize import ternarize
    from engine.session import InferenceSession

    result = StreamResult(labels=y)
    system2 = InferenceSession(MODEL)
    result.system2_predictions = system2.run(["probabilities"], {"pixels": x})[0].argmax(axis=1)
    async with Agent(
        system2,
        memory=memory,
        fast_model=None if fast_model is None else ternarize(fast_model),
        config=config,
    ) as agent:
        for i in range(len(x)):
            thought = await agent.infer(x[i])
            result.routes.append(thought.route)
            result.predictions.append(thought.prediction)
            result.latencies.append(thought.latency_s)
            if feedback:
                await agent.feedback(thought, label=int(y[i]))
            if progress is not None:
                progress(i + 1)
        result.statistics = agent.statistics()
    return result
