"""ReverseSequence: reverse the first ``sequence_lens[b]`` steps along ``time_axis`` for each batch ``b``."""

from __future__ import annotations

import numpy as np

from engine.ops.registry import register


@register("ReverseSequence", since=10)
def reverse_sequence(data: np.ndarray, sequence_lens: np.ndarray, *, batch_axis: int = 1,
                     time_axis: int = 0) -> tuple[np.ndarray]:
    if {batch_axis, time_axis} != {0, 1}:
        raise ValueError("ReverseSequence: batch_axis and time_axis must be 0 and 1")
    steps, batch = data.shape[time_axis], data.shape[batch_axis]
    lens = sequence_lens.astype(np.int64).reshape(-1)
    if lens.size != batch or (lens.size and (lens.min() < 0 or lens.max() > steps)):
        raise ValueError("ReverseSequence: sequence_lens needs one value in [0, time steps] per batch entry")
    t = np.arange(steps)[:, None]
    source = np.where(t < lens[None, :], lens[None, :] - 1 - t, t)  # (time, batch)
    if time_axis == 1:
        source = source.T
    source = source.reshape(source.shape + (1,) * (data.ndim - 2))
    return (np.take_along_axis(data, source, axis=time_axis),)
