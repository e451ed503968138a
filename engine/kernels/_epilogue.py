"""Bias + activation applied in place to a freshly computed (rows, cols) result, in one pass over memory.

Shared by the conv and pooling overrides, with :func:`parallel_ok`, the rule every override uses to pick its
serial or parallel variant. Activations are coded as small integers (numba cannot branch on
strings cheaply); :func:`activation_code` maps a fused node's ``activation`` name to its code, or None for
an activation the epilogue does not implement (the caller then applies the reference
``apply_activation``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numba
import numpy as np

from engine.kernels._numba import jit, prange

NONE, RELU, CLIP, HARDSWISH, LEAKYRELU, SIGMOID, HARDSIGMOID = range(7)
_CODES = {
    "": NONE, "Relu": RELU, "Clip": CLIP, "HardSwish": HARDSWISH, "LeakyRelu": LEAKYRELU,
    "Sigmoid": SIGMOID, "HardSigmoid": HARDSIGMOID,
}
_NPARAMS = {NONE: 0, RELU: 0, CLIP: 2, HARDSWISH: 0, LEAKYRELU: 1, SIGMOID: 0, HARDSIGMOID: 2}
# per-row work below which a parallel launch costs more than it saves
PARALLEL_MIN_ELEMENTS = 1 << 15


def parallel_ok(work: int) -> bool:
    """Whether a parallel kernel pays: more than one numba thread allowed and ``work`` (elements or
    multiply-adds) at least :data:`PARALLEL_MIN_ELEMENTS`. At one thread the serial variant skips the
    launch."""
    return work >= PARALLEL_MIN_ELEMENTS and numba.get_num_threads() > 1


def activation_code(name: str, params: Sequence[float] | None) -> tuple[int, float, float] | None:
    """``(code, p0, p1)`` for an activation the epilogue runs, else None."""
    code = _CODES.get(name)
    if code is None:
        return None
    values = [float(p) for p in (params or [])]
    if len(values) != _NPARAMS[code]:
        raise ValueError(f"activation {name!r} with parameters {values} is not supported")
    values += [0.0] * (2 - len(values))
    return code, values[0], values[1]


@jit(inline="always", error_model="numpy")
def activate(v, code, p0, p1):  # type: ignore[no-untyped-def]
    """One value through activation ``code`` (same arithmetic order as the numpy reference kernels)."""
    if code == RELU:
        return max(v, 0.0)
    if code == CLIP:
        return min(max(v, p0), p1)
    if code == HARDSWISH:
        return v * min(max(v * (1.0 / 6.0) + 0.5, 0.0), 1.0)
    if code == LEAKYRELU:
        return v if v >= 0 else v * p0
    if code == SIGMOID:
        return 1.0 / (1.0 + math.exp(-v))
    if code == HARDSIGMOID:
        return min(max(v * p0 + p1, 0.0), 1.0)
    return v


@jit(inline="always", error_model="numpy")
def _row_epilogue(row, b, code, p0, p1):  # type: ignore[no-untyped-def]
    """``row[:] = act(row + b)``. Relu and Clip get loops of their own: the activation switch inside one
    generic loop (and float64 constants) kept LLVM from vectorizing it, 10x slower on a 1.2M-element Clip."""
    n = row.shape[0]
    zero = np.float32(0.0)
    if code == NONE:
        for j in range(n):
            row[j] += b
    elif code == RELU:
        for j in range(n):
            row[j] = max(row[j] + b, zero)
    elif code == CLIP:
        for j in range(n):
            row[j] = min(max(row[j] + b, p0), p1)
    else:
        for j in range(n):
            row[j] = activate(row[j] + b, code, p0, p1)


@jit(parallel=True, error_model="numpy")
def _bias_act_parallel(y, bias, has_bias, code, p0, p1):  # type: ignore[no-untyped-def]
    for r in prange(y.shape[0]):
        b = bias[r] if has_bias else np.float32(0.0)
        _row_epilogue(y[r], b, code, p0, p1)


@jit(error_model="numpy")
def _bias_act_serial(y, bias, has_bias, code, p0, p1):  # type: ignore[no-untyped-def]
    for r in range(y.shape[0]):
        b = bias[r] if has_bias else np.float32(0.0)
        _row_epilogue(y[r], b, code, p0, p1)


_NO_BIAS = np.zeros(1, dtype=np.float32)


def bias_activation(y: np.ndarray, bias: np.ndarray | None, code: int, p0: float, p1: float) -> None:
    """``y[r, :] = act(y[r, :] + bias[r])`` in place for a C-contiguous float32 2-D ``y``."""
    if bias is None and code == NONE:
        return
    b = _NO_BIAS if bias is None else np.ascontiguousarray(bias, dtype=np.float32)
    kernel = _bias_act_parallel if parallel_ok(y.size) else _bias_act_serial
    kernel(y, b, bias is not None, code, np.float32(p0), np.float32(p1))


@jit(error_model="numpy")
def _col_bias_act(y, bias, has_bias, code, p0, p1):  # type: ignore[no-untyped-def]
    rows, cols = y.shape
    zero = np.float32(0.0)
    for r in range(rows):
        row = y[r]
        if code == RELU:
            for j in range(cols):
                row[j] = max(row[j] + (bias[j] if has_bias else zero), zero)
        elif code == CLIP:
            for j in range(cols):
                row[j] = min(max(row[j] + (bias[j] if has_bias else zero), p0), p1)
        else:
            for j in range(cols):
                row[j] = activate(row[j] + (bias[j] if has_bias else zero), code, p0, p1)


def bias_activation_columns(y: np.ndarray, bias: np.ndarray | None, code: int, p0: float, p1: float) -> None:
    """``y[r, :] = act(y[r, :] + bias)`` in place for a C-contiguous float32 2-D ``y`` (channels-last rows:
    the bias runs along the columns)."""
    if bias is None and code == NONE:
        return
    b = _NO_BIAS if bias is None else np.ascontiguousarray(bias, dtype=np.float32)
    _col_bias_act(y, b, bias is not None, code, np.float32(p0), np.float32(p1))


@jit(error_model="numpy")
def _residual_act(y, z, bias, has_bias, code, p0, p1):  # type: ignore[no-untyped-def]
    zero = np.float32(0.0)
    for r in range(y.shape[0]):
        b = bias[r] if has_bias else zero
        row = y[r]
        res = z[r]
        n = row.shape[0]
        if code == NONE:
            for j in range(n):
                row[np.uint64(j)] += b + res[np.uint64(j)]
        elif code == RELU:
            for j in range(n):
                row[np.uint64(j)] = max(row[np.uint64(j)] + b + res[np.uint64(j)], zero)
        elif code == CLIP:
            for j in range(n):
                row[np.uint64(j)] = min(max(row[np.uint64(j)] + b + res[np.uint64(j)], p0), p1)
        else:
            for j in range(n):
                row[np.uint64(j)] = activate(row[np.uint64(j)] + b + res[np.uint64(j)], code, p0, p1)


def bias_residual_activation(y: np.ndarray, bias: np.ndarray | None, z: np.ndarray, code: int, p0: float,
                             p1: float) -> None:
    """``y[r, :] = act(y[r, :] + bias[r] + z[r, :])`` in place, ``y`` and ``z`` C-contiguous float32 2-D of the
    same shape (a convolution's result plus its residual input, ``FusedConv``'s ``Z``): one pass."""
    b = _NO_BIAS if bias is None else np.ascontiguousarray(bias, dtype=np.float32)
    _residual_act(y, z, b, bias is not None, code, np.float32(p0), np.float32(p1))
