"""GatherND: gather slices of ``data`` addressed by the last axis of ``indices``, after ``batch_dims``."""

from __future__ import annotations

import math

import numpy as np

from engine.ops._tensor import wrap_indices
from engine.ops.registry import register


@register("GatherND", since=11)
def gather_nd(data: np.ndarray, indices: np.ndarray, *, batch_dims: int = 0) -> tuple[np.ndarray]:
    b = int(batch_dims)
    k = indices.shape[-1]
    if b + k > data.ndim:
        raise ValueError(f"GatherND: batch_dims + indices.shape[-1] = {b + k} exceeds data rank {data.ndim}")
    if data.shape[:b] != indices.shape[:b]:
        raise ValueError("GatherND: batch dimensions of data and indices differ")
    batch = math.prod(data.shape[:b])
    out_shape = indices.shape[:-1] + data.shape[b + k:]
    flat_data = data.reshape((batch,) + data.shape[b:])
    flat_idx = indices.reshape(batch, -1, k)
    key = [np.arange(batch)[:, None]]
    key += [wrap_indices(flat_idx[..., i], data.shape[b + i]) for i in range(k)]
    return (flat_data[tuple(key)].reshape(out_shape),)
