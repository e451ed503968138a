"""NegativeLogLikelihoodLoss: -input[n, target[n, d...], d...] * weight[target], with ignore_index and
none / sum / mean (weighted mean: divided by the summed weights of the non-ignored targets) reduction."""

from __future__ import annotations

import numpy as np

from engine.ops._reduce import nll_loss
from engine.ops.registry import register


@register("NegativeLogLikelihoodLoss", since=12)
def negative_log_likelihood_loss(
    input: np.ndarray,
    target: np.ndarray,
    weight: np.ndarray | None = None,
    *,
    ignore_index: int | None = None,
    reduction: str = "mean",
) -> tuple[np.ndarray]:
    work = input.astype(np.float32) if input.dtype == np.float16 else input
    return (nll_loss(work, target, weight, reduction, ignore_index).astype(input.dtype, copy=False),)
