"""RotaryEmbedding (opset 23): rotate the first rotary_embedding_dim features of each head by position-
dependent angles (cos/sin caches, optionally gathered by position_ids); halves or interleaved pairs; 4D input
is (B, H, S, D), 3D input is (B, S, H*D) with num_heads."""

from __future__ import annotations

import numpy as np

from engine.ops.registry import register


@register("RotaryEmbedding", since=23)
def rotary_embedding(x, cos_cache, sin_cache, position_ids=None, *, interleaved: int = 0,
                     num_heads: int = 0, rotary_embedding_dim: int = 0) -> tuple[np.ndarray]:
    shape = x.shape
    if x.ndim == 4:
        t = x.transpose(0, 2, 1, 3)  # (B, S, H, D)
    elif x.ndim == 3:
        if not num_heads:
            raise ValueError("RotaryEmbedding: 3D input needs num_heads")
        b, s, hidden = x.shape
        t = x.reshape(b, s, num_heads, hidden // num_heads)
    else:
        raise ValueError("RotaryEmbedding: input must be 3D or 4D")
    dim = rotary_embedding_dim or t.shape[3]
    half = dim // 2
    if position_ids is not None:
        cos_cache = cos_cache[position_ids]
        sin_cache = sin_cache[position_ids]
    if cos_cache.shape[-1] != half or sin_cache.shape[-1] != half:
        raise ValueError("RotaryEmbedding: cache width must be rotary_embedding_dim / 2")
    cos = np.expand_dims(cos_cache, 2).astype(x.dtype, copy=False)
    sin = np.expand_dims(sin_cache, 2).astype(x.dtype, copy=False)
    out = t.copy()
    if interleaved:
        x1, x2 = t[..., 0:dim:2], t[..., 1:dim:2]
        out[..., 0:dim:2] = cos * x1 - sin * x2
        out[..., 1:dim:2] = sin * x1 + cos * x2
    else:
        x1, x2 = t[..., :half], t[..., half:dim]
        out[..., :half] = cos * x1 - sin * x2
        out[..., half:dim] = sin * x1 + cos * x2
    if x.ndim == 4:
        return (np.ascontiguousarray(out.transpose(0, 2, 1, 3)),)
    return (out.reshape(shape),)
