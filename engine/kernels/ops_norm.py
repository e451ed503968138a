"""numba override of LayerNormalization (standard opset 17 and the ai.ronn one the fusion pass emits) over
the last axis, float32, stash_type 1: two passes per row (statistics, then normalize-scale-shift) instead
of the reference's six numpy passes and temporaries. Statistics accumulate in float64, reassociated
(fastmath "reassoc") so the row sums vectorize.

Softmax keeps its numpy kernel: it is bound by exp, and numpy's SIMD exp is 5x faster than numba's scalar
one here (numba has no SVML; measured 0.47 ms vs 0.09 ms for 196k float32 exps).
"""

from __future__ import annotations

import math

import numpy as np

from engine.kernels._epilogue import parallel_ok
from engine.kernels._numba import jit, prange
from engine.ops.registry import register


@jit(inline="always", error_model="numpy")
def _row(x, scale, bias, has_bias, eps, y, mean, inv, r):  # type: ignore[no-untyped-def]
    d = x.shape[1]
    s = 0.0
    for j in range(d):
        s += x[r, j]
    mu = s / d
    v = 0.0
    for j in range(d):
        t = x[r, j] - mu
        v += t * t
    iv = 1.0 / math.sqrt(v / d + eps)
    mean[r] = mu
    inv[r] = iv
    m32 = np.float32(mu)
    i32 = np.float32(iv)
    for j in range(d):
        t = (x[r, j] - m32) * i32 * scale[j]
        y[r, j] = t + bias[j] if has_bias else t


@jit(parallel=True, error_model="numpy", fastmath={"reassoc", "contract"})
def _ln_parallel(x, scale, bias, has_bias, eps, y, mean, inv):  # type: ignore[no-untyped-def]
    for r in prange(x.shape[0]):
        _row(x, scale, bias, has_bias, eps, y, mean, inv, r)


@jit(error_model="numpy", fastmath={"reassoc", "contract"})
def _ln_serial(x, scale, bias, has_bias, eps, y, mean, inv):  # type: ignore[no-untyped-def]
    for r in range(x.shape[0]):
        _row(x, scale, bias, has_bias, eps, y, mean, inv, r)


def _layer_norm(x, scale, b, axis, epsilon, stash_type):  # type: ignore[no-untyped-def]
    if x.dtype != np.float32 or stash_type != 1 or x.ndim == 0 or axis not in (-1, x.ndim - 1):
        return NotImplemented
    d = x.shape[-1]
    bad_bias = b is not None and (b.dtype != np.float32 or b.size != d)
    if scale.dtype != np.float32 or scale.size != d or bad_bias:
        return NotImplemented  # broadcasting scale/bias shapes: the reference handles them
    rows = np.ascontiguousarray(x).reshape(-1, d)
    y = np.empty_like(rows)
    mean = np.empty(rows.shape[0], dtype=np.float32)
    inv = np.empty(rows.shape[0], dtype=np.float32)
    s = np.ascontiguousarray(scale).reshape(d)
    bias = s if b is None else np.ascontiguousarray(b).reshape(d)
    kernel = _ln_parallel if parallel_ok(rows.size) else _ln_serial
    kernel(rows, s, bias, b is not None, float(epsilon), y, mean, inv)
    stat_shape = (*x.shape[:-1], 1)
    return (y.reshape(x.shape), mean.reshape(stat_shape), inv.reshape(stat_shape))




@register("LayerNormalization", since=17, override="numba")
def layer_normalization(x, scale, b=None, *, axis: int = -1, epsilon: float = 1e-5, stash_type: int = 1):  # type: ignore[no-untyped-def]
    return _layer_norm(x, scale, b, axis, epsilon, stash_type)


@register("LayerNormalization", domain="ai.ronn", since=1, override="numba")
def layer_normalization_ronn(x, scale, b=None, *, axis: int = -1, epsilon: float = 1e-5,
                             stash_type: int = 1):  # type: ignore[no-untyped-def]
    return _layer_norm(x, scale, b, axis, epsilon, stash_type)
