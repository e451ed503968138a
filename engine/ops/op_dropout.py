"""Dropout: inference is the identity with an all-True mask; training with ratio > 0 draws a random mask
(seeded like the ONNX reference: RandomState(seed)) and scales kept values by 1 / (1 - ratio)."""

from __future__ import annotations

import numpy as np

from engine.ops.registry import register


def _dropout(data, ratio, training, seed):
    if not training or ratio == 0:
        return (data, np.ones(data.shape, dtype=np.bool_))
    if not 0 <= ratio < 1:
        raise ValueError(f"Dropout ratio must be in [0, 1), got {ratio}")
    # RandomState(seed) reproduces the ONNX reference's mask for a given seed
    mask = np.random.RandomState(seed).uniform(0, 1.0, data.shape) >= ratio
    y = np.where(mask, data * (1.0 / (1.0 - ratio)), 0).astype(data.dtype, copy=False)
    return (y, mask)


@register("Dropout", since=7)
def dropout_v7(data, *, ratio: float = 0.5) -> tuple[np.ndarray, ...]:
    return _dropout(data, ratio, False, None)


@register("Dropout", since=12)
def dropout_v12(data, ratio=None, training_mode=None, *, seed: int | None = None) -> tuple[np.ndarray, ...]:
    r = 0.5 if ratio is None else float(np.asarray(ratio))
    training = bool(np.asarray(training_mode)) if training_mode is not None else False
    return _dropout(data, r, training, seed)
