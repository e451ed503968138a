"""The operators the GPU provider runs, written once against an array namespace ``xp`` (cupy on the GPU).

Each function takes ``xp`` first, then the node's inputs and its ONNX attributes as keywords (the registry's
calling convention with ``xp`` bound in front). Written this way they also run with ``xp = numpy``, which is
how the tests check them against the CPU kernels on a machine without a GPU.

``OPS`` maps op type to (function, lowest supported opset, input positions that stay on the host).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


def _erf(xp: Any, x: Any) -> Any:
    if xp is np:
        from scipy.special import erf
    else:  # cupy
        from cupyx.scipy.special import erf
    return erf(x).astype(x.dtype)


def _axes(axes: Any) -> tuple[int, ...] | None:
    if axes is None:
        return None
    return tuple(int(a) for a in np.asarray(axes).reshape(-1))


def add(xp: Any, a: Any, b: Any) -> tuple[Any]:
    return (a + b,)


def sub(xp: Any, a: Any, b: Any) -> tuple[Any]:
    return (a - b,)


def mul(xp: Any, a: Any, b: Any) -> tuple[Any]:
    return (a * b,)


def div(xp: Any, a: Any, b: Any) -> tuple[Any]:
    return (a / b,)


def pow_(xp: Any, a: Any, b: Any) -> tuple[Any]:
    return (xp.power(a, b.astype(a.dtype)),)


def relu(xp: Any, x: Any) -> tuple[Any]:
    return (xp.maximum(x, x.dtype.type(0)),)


def sigmoid(xp: Any, x: Any) -> tuple[Any]:
    return ((1 / (1 + xp.exp(-x))).astype(x.dtype),)


def tanh(xp: Any, x: Any) -> tuple[Any]:
    return (xp.tanh(x),)


def exp(xp: Any, x: Any) -> tuple[Any]:
    return (xp.exp(x),)


def log(xp: Any, x: Any) -> tuple[Any]:
    return (xp.log(x),)


def sqrt(xp: Any, x: Any) -> tuple[Any]:
    return (xp.sqrt(x),)


def neg(xp: Any, x: Any) -> tuple[Any]:
    return (-x,)


def abs_(xp: Any, x: Any) -> tuple[Any]:
    return (xp.abs(x),)


def reciprocal(xp: Any, x: Any) -> tuple[Any]:
    return ((1 / x).astype(x.dtype),)


def erf(xp: Any, x: Any) -> tuple[Any]:
    return (_erf(xp, x),)


def gelu(xp: Any, x: Any, *, approximate: str = "none") -> tuple[Any]:
    if approximate == "tanh":
        inner = np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)
        return ((0.5 * x * (1 + xp.tanh(inner))).astype(x.dtype),)
    return ((0.5 * x * (1 + _erf(xp, x / np.sqrt(2)))).astype(x.dtype),)


def matmul(xp: Any, a: Any, b: Any) -> tuple[Any]:
    return (xp.matmul(a, b),)


def gemm(xp: Any, a: Any, b: Any, c: Any = None, *, alpha: float = 1.0, beta: float = 1.0,
         transA: int = 0, transB: int = 0) -> tuple[Any]:
    y = xp.matmul(a.T if transA else a, b.T if transB else b)
    if alpha != 1.0:
        y = y * y.dtype.type(alpha)
    if c is not None:
        y = y + (c * c.dtype.type(beta) if beta != 1.0 else c)
    return (y.astype(a.dtype),)


def softmax(xp: Any, x: Any, *, axis: int = -1) -> tuple[Any]:
    z = x.astype(xp.float32)
    z = xp.exp(z - z.max(axis=axis, keepdims=True))
    return ((z / z.sum(axis=axis, keepdims=True)).astype(x.dtype),)


def layer_normalization(xp: Any, x: Any, scale: Any, bias: Any = None, *, axis: int = -1,
                        epsilon: float = 1e-5, stash_type: int = 1) -> tuple[Any]:
    z = x.astype(xp.float32)
    axes = tuple(range(axis % x.ndim, x.ndim))
    mean = z.mean(axis=axes, keepdims=True)
    var = ((z - mean) ** 2).mean(axis=axes, keepdims=True)
    y = (z - mean) / xp.sqrt(var + np.float32(epsilon)) * scale.astype(xp.float32)
    if bias is not None:
        y = y + bias.astype(xp.float32)
    return (y.astype(x.dtype),)


def transpose(xp: Any, x: Any, *, perm: Sequence[int] | None = None) -> tuple[Any]:
    return (xp.ascontiguousarray(xp.transpose(x, perm)),)


def reshape(xp: Any, x: Any, shape: np.ndarray, *, allowzero: int = 0) -> tuple[Any]:
    target = [int(d) for d in shape]
    if not allowzero:
        target = [x.shape[i] if d == 0 else d for i, d in enumerate(target)]
    return (x.reshape(target),)


def flatten(xp: Any, x: Any, *, axis: int = 1) -> tuple[Any]:
    axis = axis % x.ndim if x.ndim else 0
    lead = int(np.prod(x.shape[:axis], dtype=np.int64))
    return (x.reshape(lead, -1),)


def identity(xp: Any, x: Any) -> tuple[Any]:
    return (x,)


def dropout(xp: Any, x: Any, ratio: Any = None, training_mode: Any = None, *, seed: int = 0) -> tuple[Any]:
    return (x,)


def concat(xp: Any, *inputs: Any, axis: int) -> tuple[Any]:
    return (xp.concatenate(inputs, axis=axis),)


def unsqueeze(xp: Any, x: Any, axes: np.ndarray) -> tuple[Any]:
    rank = x.ndim + len(_axes(axes) or ())
    shape = list(x.shape)
    for a in sorted(a % rank for a in _axes(axes) or ()):
        shape.insert(a, 1)
    return (x.reshape(shape),)


def squeeze(xp: Any, x: Any, axes: np.ndarray | None = None) -> tuple[Any]:
    picked = _axes(axes)
    if picked is None:
        return (x.reshape([d for d in x.shape if d != 1]),)
    drop = {a % x.ndim for a in picked}
    return (x.reshape([d for i, d in enumerate(x.shape) if i not in drop]),)


def gather(xp: Any, data: Any, indices: Any, *, axis: int = 0) -> tuple[Any]:
    axis = axis % data.ndim
    idx = xp.where(indices < 0, indices + data.shape[axis], indices)
    return (xp.take(data, idx, axis=axis),)


def where(xp: Any, cond: Any, a: Any, b: Any) -> tuple[Any]:
    return (xp.where(cond, a, b),)


def clip(xp: Any, x: Any, lo: Any = None, hi: Any = None) -> tuple[Any]:
    if lo is not None:
        x = xp.maximum(x, lo.astype(x.dtype))
    if hi is not None:
        x = xp.minimum(x, hi.astype(x.dtype))
    return (x,)


def reduce_mean(xp: Any, x: Any, axes: np.ndarray | None = None, *, keepdims: int = 1,
                noop_with_empty_axes: int = 0) -> tuple[Any]:
    picked = _axes(axes)
    if not picked:
        if noop_with_empty_axes:
            return (x,)
        picked = tuple(range(x.ndim))
    return (x.mean(axis=picked, keepdims=bool(keepdims)).astype(x.dtype),)


def global_average_pool(xp: Any, x: Any) -> tuple[Any]:
    return (x.mean(axis=tuple(range(2, x.ndim)), keepdims=True).astype(x.dtype),)


def _activate(xp: Any, y: Any, activation: str, params: list[float]) -> Any:
    """The activation a fused node applies to its product (names as ``engine.ops.op_fused_activation``)."""
    if not activation:
        return y
    if activation == "Relu":
        return xp.maximum(y, y.dtype.type(0))
    if activation == "Clip":
        return xp.clip(y, y.dtype.type(params[0]), y.dtype.type(params[1]))
    if activation == "Sigmoid":
        return sigmoid(xp, y)[0]
    if activation == "Tanh":
        return xp.tanh(y)
    if activation == "LeakyRelu":
        return xp.where(y >= 0, y, y * y.dtype.type(params[0]))
    if activation == "HardSigmoid":
        return xp.clip(y * y.dtype.type(params[0]) + y.dtype.type(params[1]), 0, 1).astype(y.dtype)
    if activation == "HardSwish":
        return (y * xp.clip(y / 6 + 0.5, 0, 1)).astype(y.dtype)
    return gelu(xp, y, approximate="tanh" if activation == "GeluTanh" else "none")[0]


#: the activations :func:`_activate` knows (a fused node with another stays on the CPU)
FUSED_ACTIVATIONS = frozenset(
    {"", "Relu", "Clip", "Sigmoid", "Tanh", "LeakyRelu", "HardSigmoid", "HardSwish", "Gelu", "GeluTanh"}
)


def fused_gemm(xp: Any, a: Any, b: Any, c: Any = None, *, alpha: float = 1.0, beta: float = 1.0,
               transA: int = 0, transB: int = 0, activation: str = "",
               activation_params: list[float] | None = None) -> tuple[Any]:  # fmt: skip
    (y,) = gemm(xp, a, b, c, alpha=alpha, beta=beta, transA=transA, transB=transB)
    return (_activate(xp, y, activation, list(activation_params or [])),)


def fused_matmul(xp: Any, a: Any, b: Any, bias: Any = None, *, activation: str = "",
                 activation_params: list[float] | None = None) -> tuple[Any]:  # fmt: skip
    y = xp.matmul(a, b)
    if bias is not None:
        y = (y + bias).astype(a.dtype)
    return (_activate(xp, y, activation, list(activation_params or [])),)


Op = Callable[..., tuple[Any, ...]]
# op type -> (function, lowest opset whose semantics it implements, host input positions)
OPS: dict[str, tuple[Op, int, frozenset[int]]] = {
    "Add": (add, 7, frozenset()), "Sub": (sub, 7, frozenset()), "Mul": (mul, 7, frozenset()),
    "Div": (div, 7, frozenset()), "Pow": (pow_, 7, frozenset()), "Relu": (relu, 6, frozenset()),
    "Sigmoid": (sigmoid, 6, frozenset()), "Tanh": (tanh, 6, frozenset()), "Exp": (exp, 6, frozenset()),
    "Log": (log, 6, frozenset()), "Sqrt": (sqrt, 6, frozenset()), "Neg": (neg, 6, frozenset()),
    "Abs": (abs_, 6, frozenset()), "Reciprocal": (reciprocal, 6, frozenset()), "Erf": (erf, 9, frozenset()),
    "Gelu": (gelu, 20, frozenset()), "MatMul": (matmul, 9, frozenset()), "Gemm": (gemm, 11, frozenset()),
    "Softmax": (softmax, 13, frozenset()), "LayerNormalization": (layer_normalization, 17, frozenset()),
    "Transpose": (transpose, 1, frozenset()), "Reshape": (reshape, 14, frozenset({1})),
    "Flatten": (flatten, 13, frozenset()), "Identity": (identity, 1, frozenset()),
    "Dropout": (dropout, 13, frozenset({1, 2})), "Concat": (concat, 13, frozenset()),
    "Unsqueeze": (unsqueeze, 13, frozenset({1})), "Squeeze": (squeeze, 13, frozenset({1})),
    "Gather": (gather, 13, frozenset()), "Where": (where, 9, frozenset()),
    "Clip": (clip, 13, frozenset()), "ReduceMean": (reduce_mean, 18, frozenset({1})),
    "GlobalAveragePool": (global_average_pool, 1, frozenset()),
}
# ai.ronn ops the graph passes make (Gemm or MatMul + bias + activation): without them a fused model would
# leave its dense layers on the CPU
RONN_OPS: dict[str, tuple[Op, int, frozenset[int]]] = {
    "FusedGemm": (fused_gemm, 1, frozenset()), "FusedMatMul": (fused_matmul, 1, frozenset()),
}
# Ops that do arithmetic on their data: taken only for float data (integer shape arithmetic stays on the
# host).
FLOAT_ONLY = frozenset({
    "Add", "Sub", "Mul", "Div", "Pow", "Relu", "Sigmoid", "Tanh", "Exp", "Log", "Sqrt", "Neg", "Abs",
    "Reciprocal", "Erf", "Gelu", "MatMul", "Gemm", "Softmax", "LayerNormalization", "Clip", "ReduceMean",
    "GlobalAveragePool", "FusedGemm", "FusedMatMul",
})
