"""SoftmaxCrossEntropyLoss: NLL of log_softmax(scores, axis=1) with class weights, ignore_index and
none / sum / mean reduction; the optional second output is the log-probabilities."""

from __future__ import annotations

import numpy as np

from engine.ops._reduce import nll_loss
from engine.ops.registry import register


@register("SoftmaxCrossEntropyLoss", since=12)
def softmax_cross_entropy_loss(
    scores: np.ndarray,
    labels: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    ignore_index: int | None = None,
    reduction: str = "mean",
) -> tuple[np.ndarray, np.ndarray]:
    work = scores.astype(np.float32) if scores.dtype == np.float16 else scores
    shifted = work - work.max(axis=1, keepdims=True)
    log_prob = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = nll_loss(log_prob, labels, weights, reduction, ignore_index)
    return loss.astype(scores.dtype, copy=False), log_prob.astype(scores.dtype, copy=False)
