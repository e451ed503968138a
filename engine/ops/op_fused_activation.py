"""The activations fused operators (``ai.ronn`` domain) apply to their result, by name.

Not an operator itself: FusedConv, FusedGemm and FusedMatMul call :func:`apply_activation` on the array they
just computed. Relu, Clip and Tanh run in place on that fresh array; the others call the standard kernels, so
a fused node gives exactly what the unfused pair gives.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.ops.op_gelu import gelu
from engine.ops.op_hard_sigmoid import hard_sigmoid
from engine.ops.op_hard_swish import hard_swish
from engine.ops.op_leaky_relu import leaky_relu
from engine.ops.op_sigmoid import sigmoid

# activation name -> number of float parameters it takes from ``activation_params``
ACTIVATIONS: dict[str, int] = {
    "": 0,
    "Relu": 0,
    "Clip": 2,
    "Sigmoid": 0,
    "HardSwish": 0,
    "Tanh": 0,
    "LeakyRelu": 1,
    "HardSigmoid": 2,
    "Gelu": 0,
    "GeluTanh": 0,
}


def apply_activation(y: np.ndarray, activation: str, params: Sequence[float] | None) -> np.ndarray:
    """``activation`` applied to ``y``, a fresh array the caller owns (it may be overwritten)."""
    if not activation:
        return y
    params = list(params or [])
    if len(params) != ACTIVATIONS.get(activation, -1):
        raise ValueError(f"activation {activation!r} with parameters {params} is not supported")
    if not y.flags.writeable:
        y = y.copy()
    if activation == "Relu":
        return np.maximum(y, y.dtype.type(0), out=y)
    if activation == "Clip":
        lo, hi = (y.dtype.type(p) for p in params)
        np.maximum(y, lo, out=y)
        return np.minimum(y, hi, out=y)
    if activation == "Tanh":
        return np.tanh(y, out=y)
    if activation == "Sigmoid":
        return sigmoid(y)[0]
    if activation == "HardSwish":
        return hard_swish(y)[0]
    if activation == "LeakyRelu":
        return leaky_relu(y, alpha=params[0])[0]
    if activation == "HardSigmoid":
        return hard_sigmoid(y, alpha=params[0], beta=params[1])[0]
    return gelu(y, approximate="tanh" if activation == "GeluTanh" else "none")[0]
