"""FusedAttention (ai.ronn): ``softmax(mask(scale * (Q @ Kt))) @ V`` in one node, made by the
``attention_fusion`` pass from the MatMul -> Mul/Div -> Add/Where -> Softmax -> MatMul chain exporters emit.

Inputs: ``q`` (..., S, D), ``kt`` (..., D, L) (K already transposed, as in the chain), ``v`` (..., L, Dv),
then optional ``mask`` and ``fill``. Attributes:

* ``scale``: multiplies the scores (1.0: no scaling).
* ``mask_mode``: ``"none"``; ``"add"`` (scores + mask); ``"where"`` (``where(mask, scores, fill)``) or
  ``"where_inverted"`` (``where(mask, fill, scores)``).

The score buffer is allocated once and scaled, masked and normalized in place; the softmax is the same
arithmetic as the standard Softmax kernel (max-subtracted exp, divided by the sum).
"""

from __future__ import annotations

import numpy as np

from engine.ops.op_mat_mul import mat_mul
from engine.ops.registry import register


@register("FusedAttention", domain="ai.ronn", since=1)
def fused_attention(
    q, kt, v, mask=None, fill=None, *, scale: float = 1.0, mask_mode: str = "none"
) -> tuple[np.ndarray]:
    (s,) = mat_mul(q, kt)
    if not s.flags.writeable:
        s = s.copy()
    if scale != 1.0:
        s *= s.dtype.type(scale)
    if mask_mode == "add":
        if np.broadcast_shapes(s.shape, mask.shape) == s.shape:
            s += mask
        else:
            s = s + mask
    elif mask_mode in ("where", "where_inverted"):
        x, y = (s, fill) if mask_mode == "where" else (fill, s)
        s = np.where(mask, x, y).astype(q.dtype, copy=False)
    elif mask_mode != "none":
        raise ValueError(f"FusedAttention: unknown mask_mode {mask_mode!r}")
    m = np.max(s, axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0).astype(s.dtype, copy=False)
    s -= m
    np.exp(s, out=s)
    s /= np.sum(s, axis=-1, keepdims=True)
    return mat_mul(s, v)
