"""TensorScatter: KV-cache style update, writing ``update`` into a copy of ``past_cache`` along ``axis`` at
each batch entry's write index (0 if omitted), wrapping modulo the cache length in ``circular`` mode."""

from __future__ import annotations

import numpy as np

from engine.ops._tensor import normalize_axis
from engine.ops.registry import register


@register("TensorScatter", since=24)
def tensor_scatter(
    past_cache: np.ndarray,
    update: np.ndarray,
    write_indices: np.ndarray | None = None,
    *,
    axis: int = -2,
    mode: str = "linear",
) -> tuple[np.ndarray]:
    ax = normalize_axis(axis, past_cache.ndim)
    if ax == 0:
        raise ValueError("TensorScatter: axis must not be the batch axis")
    max_len, seq = past_cache.shape[ax], update.shape[ax]
    batch = past_cache.shape[0]
    starts = (np.zeros(batch, dtype=np.int64) if write_indices is None
              else np.asarray(write_indices, dtype=np.int64).reshape(batch))
    present = past_cache.copy()
    dst = np.moveaxis(present, ax, -1)
    src = np.moveaxis(update, ax, -1)
    for b in range(batch):
        pos = starts[b] + np.arange(seq)
        if mode == "circular":
            pos %= max_len
        elif mode != "linear":
            raise ValueError(f"TensorScatter: unknown mode {mode!r}")
        elif seq and (starts[b] < 0 or pos[-1] >= max_len):
            raise IndexError(f"TensorScatter: write index {starts[b]} + {seq} exceeds cache length {max_len}")
        dst[b][..., pos] = src[b]
    return (present,)
