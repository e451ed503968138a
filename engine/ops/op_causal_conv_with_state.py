"""CausalConvWithState: depthwise causal 1-D convolution over [past_state (or zeros), input] with
optional bias and fused SiLU/Swish; the second output is the last k-1 positions of that padded input
(the next state)."""

from __future__ import annotations

import numpy as np

from engine.ops._elementwise import sigmoid
from engine.ops.registry import register


@register("CausalConvWithState", since=27)
def causal_conv_with_state(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    past_state: np.ndarray | None = None,
    *,
    activation: str = "none",
) -> tuple[np.ndarray, np.ndarray]:
    if activation not in ("none", "silu", "swish"):
        raise ValueError(f"CausalConvWithState: unsupported activation {activation!r}")
    if x.ndim != 3 or weight.ndim != 3:
        raise ValueError("CausalConvWithState: input and weight must be rank 3")
    batch, channels, length = x.shape
    k = weight.shape[2]
    if past_state is None:
        past_state = np.zeros((batch, channels, k - 1), dtype=x.dtype)
    padded = np.concatenate([past_state, x], axis=2)
    ct = np.float32 if x.dtype == np.float16 else x.dtype
    w = weight.reshape(channels, k).astype(ct, copy=False)
    src = padded.astype(ct, copy=False)
    y = src[:, :, 0:length] * w[:, 0:1]
    for j in range(1, k):
        y += src[:, :, j:j + length] * w[:, j:j + 1]
    if bias is not None:
        y += bias.astype(ct, copy=False)[:, None]
    if activation != "none":
        y *= sigmoid(y)
    return y.astype(x.dtype, copy=False), np.ascontiguousarray(padded[:, :, padded.shape[2] - (k - 1):])
