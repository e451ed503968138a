"""Packed ternary (BitNet b1.58) and binary weights times int8 activations: packing, a numpy reference,
numba kernels.

Arithmetic (the same in the reference and the kernels, so their results are equal bit for bit):

* Weights, one row per output channel ``W[n, :K]``, are quantized offline (:func:`quantize_weights`):
  ternary ``t = clip(round(W / g), -1, 1)`` with ``g = mean(|W[n]|)`` (absmean, BitNet b1.58), or binary
  ``t = sign(W)`` (0 counts as +1) with the same ``g``; ``W ~= g[n] * t``.
* Activations, one row of ``X[M, K]`` at a time, are quantized at run time to int8 with an absmax scale:
  ``s = max|x| / 127``, ``q = rint(x * (127 / max|x|))`` (a zero row gives ``s = 0``).
* ``Y[m, n] = float32(sum_k q[m, k] * t[n, k]) * (s[m] * g[n]) + bias[n]``, the integer sum exact in int32.

Packing, "plane" layout so that the decode vectorizes: with ``P`` weights per byte (4 for ternary at 2 bits,
8 for binary at 1 bit) and ``Q = ceil(K / P)``, weight ``k`` of a row lives in byte ``k % Q`` at field
``k // Q``. Ternary fields hold ``t + 1`` in {0, 1, 2}; binary fields hold 1 for +1 and 0 for -1. A row is
``Q`` bytes, so a 4096x4096 layer takes 4 MiB (ternary) or 2 MiB (binary) instead of 64 MiB of float32.
Padding weights (``k >= K``) are zero (ternary) or -1 (binary); the padded activations are zero, so they
add 0.
"""

from __future__ import annotations

import numba
import numpy as np

from engine.kernels._numba import jit, prange

PER_BYTE = {2: 4, 1: 8}          # bits per weight -> weights per byte
PARALLEL_MIN_WEIGHTS = 1 << 20   # below this a parallel launch costs more than it saves
MAX_EXACT_K = (1 << 24) // 254 - 1


def quantize_weights(w_rows: np.ndarray, bits: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Quantize ``w_rows`` ([N, K], one row per output channel) to codes in {-1, 0, 1} and a float32 scale
    [N]."""
    w = np.asarray(w_rows, dtype=np.float32)
    scale = np.abs(w).mean(axis=1, dtype=np.float64).astype(np.float32)
    if bits == 2:
        safe = np.where(scale > 0, scale, np.float32(1))
        codes = np.clip(np.rint(w / safe[:, None]), -1, 1).astype(np.int8)
    elif bits == 1:
        codes = np.where(w >= 0, 1, -1).astype(np.int8)
    else:
        raise ValueError(f"bits must be 2 (ternary) or 1 (binary), got {bits}")
    return codes, scale


def pack(codes: np.ndarray, bits: int = 2) -> np.ndarray:
    """Pack codes [N, K] in {-1, 0, 1} ({-1, 1} for ``bits=1``) into uint8 [N, ceil(K / P)] (plane layout)."""
    per = PER_BYTE[bits]
    n, k = codes.shape
    q = -(-k // per)
    if bits == 2:
        fields = np.ones((n, per * q), np.uint8)
        fields[:, :k] = (codes + 1).astype(np.uint8)
    else:
        fields = np.zeros((n, per * q), np.uint8)
        fields[:, :k] = codes > 0
    planes = fields.reshape(n, per, q)
    out = np.zeros((n, q), np.uint8)
    for p in range(per):
        out |= planes[:, p, :] << np.uint8(bits * p)
    return out


def unpack(packed: np.ndarray, k: int, bits: int = 2) -> np.ndarray:
    """The inverse of :func:`pack`: int8 codes [N, K]."""
    per = PER_BYTE[bits]
    mask = np.uint8((1 << bits) - 1)
    planes = [(packed >> np.uint8(bits * p)) & mask for p in range(per)]
    fields = np.concatenate(planes, axis=1)[:, :k].astype(np.int8)
    return fields - 1 if bits == 2 else 2 * fields - 1


def quantize_activations(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reference int8 absmax quantization of each row of ``x`` [M, K]: (q int8 [M, K], scale float32 [M])."""
    x = np.asarray(x, dtype=np.float32)
    amax = np.abs(x).max(axis=1) if x.shape[1] else np.zeros(x.shape[0], np.float32)
    safe = np.where(amax > 0, amax, np.float32(1))
    inv = np.where(amax > 0, np.float32(127) / safe, np.float32(0)).astype(np.float32)
    q = np.clip(np.rint(x * inv[:, None]), -127, 127).astype(np.int8)
    return q, (amax / np.float32(127)).astype(np.float32)


def reference_matmul(
    x: np.ndarray, packed: np.ndarray, w_scale: np.ndarray, k: int, bits: int = 2,
    bias: np.ndarray | None = None,
) -> np.ndarray:
    """Plain numpy ``Y[M, N]`` for ``x`` [M, K]: the arithmetic of the module docstring, step by step."""
    codes = unpack(packed, k, bits).astype(np.int64)
    q, s = quantize_activations(x)
    acc = q.astype(np.int64) @ codes.T
    y = acc.astype(np.float32) * (s[:, None] * w_scale[None, :])
    if bias is not None:
        y = y + bias.astype(np.float32)
    return y.astype(np.float32)


# --- numba kernels
# -------------------------------------------------------------------------------------------


@jit()
def _quantize_rows(x, xq, xs, xsum):  # type: ignore[no-untyped-def]
    # xq is zero-filled [M, Kp] with Kp >= K (the padding stays zero); it holds the int8 values as float32.
    m_rows, k = x.shape
    for m in range(m_rows):
        amax = np.float32(0.0)
        for i in range(k):
            a = abs(x[m, i])
            if a > amax:
                amax = a
        if amax == 0:
            xs[m] = np.float32(0.0)
            xsum[m] = 0
            continue
        inv = np.float32(127.0) / amax
        total = 0
        for i in range(k):
            v = np.rint(x[m, i] * inv)
            v = min(max(v, np.float32(-127.0)), np.float32(127.0))
            xq[m, i] = v
            total += np.int64(v)
        xs[m] = amax / np.float32(127.0)
        xsum[m] = total


# Inner loops accumulate in float32 with fastmath (so LLVM vectorizes the reduction, 16 lanes per AVX-512
# register; numba widens int32 arithmetic to int64 lanes). This is still exact integer arithmetic: every term
# and every partial sum is an integer of magnitude below 2**24, where float32 addition is exact in any order,
# as long as 127 * 2 * Kp < 2**24 (Kp < 66052). ``matmul`` checks that bound; ``MAX_EXACT_K`` holds it.


@jit(fastmath=True)
def _row_dot2(row, xf, q):  # type: ignore[no-untyped-def]
    # sum_k x_k * (c_k - 1) = sum_k x_k * c_k - sum_k x_k; the caller subtracts sum x. The 2-bit fields are
    # split off in float32 (floor of exact power-of-two divisions): numba widens integer shifts and masks to
    # int64 lanes, float32 keeps 16 lanes per register. Slicing the planes lets LLVM drop index checks.
    x0, x1, x2, x3 = xf[:q], xf[q:2 * q], xf[2 * q:3 * q], xf[3 * q:4 * q]
    acc = np.float32(0.0)
    for j in range(q):
        f = np.float32(row[j])
        c3 = np.floor(f * np.float32(0.015625))
        r = f - np.float32(64.0) * c3
        c2 = np.floor(r * np.float32(0.0625))
        r = r - np.float32(16.0) * c2
        c1 = np.floor(r * np.float32(0.25))
        c0 = r - np.float32(4.0) * c1
        acc += x0[j] * c0 + x1[j] * c1 + x2[j] * c2 + x3[j] * c3
    return acc


@jit(fastmath=True)
def _row_dot1(row, xf, q):  # type: ignore[no-untyped-def]
    # sum_k x_k * (2 b_k - 1) = 2 sum_k x_k b_k - sum_k x_k; the caller does the doubling and subtraction.
    acc = np.float32(0.0)
    for p in range(8):
        xp = xf[p * q:(p + 1) * q]
        inv = np.float32(1.0 / (1 << p))
        for j in range(q):
            f = np.floor(np.float32(row[j]) * inv)
            acc += xp[j] * (f - np.float32(2.0) * np.floor(f * np.float32(0.5)))
    return acc


@jit()
def _gemv_rows(packed, xf, xs, xsum, w_scale, bias, bits, out, start, stop):  # type: ignore[no-untyped-def]
    # One activation row against weight rows [start, stop). The bits test sits outside the row loop so
    # that LLVM inlines one row kernel and hoists its plane slices out of the loop.
    q = packed.shape[1]
    if bits == 2:
        for n in range(start, stop):
            acc = np.int64(_row_dot2(packed[n], xf, q)) - xsum
            out[n] = np.float32(acc) * (xs * w_scale[n]) + bias[n]
    else:
        for n in range(start, stop):
            acc = 2 * np.int64(_row_dot1(packed[n], xf, q)) - xsum
            out[n] = np.float32(acc) * (xs * w_scale[n]) + bias[n]


@jit()
def _decode_row(row, bits, w):  # type: ignore[no-untyped-def]
    q = row.shape[0]
    per = w.shape[0] // q
    mask = np.int32((1 << bits) - 1)
    for p in range(per):
        shift = np.int32(bits * p)
        for j in range(q):
            c = (np.int32(row[j]) >> shift) & mask
            w[p * q + j] = np.float32(c - 1) if bits == 2 else np.float32(2 * c - 1)


@jit(fastmath=True)
def _dot(a, b):  # type: ignore[no-untyped-def]
    acc = np.float32(0.0)
    for i in range(a.shape[0]):
        acc += a[i] * b[i]
    return acc


@jit()
def _gemm_row(packed, n, xf, xs, w_scale, bias, bits, out):  # type: ignore[no-untyped-def]
    # Decode the weight row once into {-1, 0, 1}, then a dot with every activation row.
    m_rows, kp = xf.shape
    w = np.empty(kp, np.float32)
    _decode_row(packed[n], bits, w)
    for m in range(m_rows):
        acc = np.int64(_dot(xf[m], w))
        out[m, n] = np.float32(acc) * (xs[m] * w_scale[n]) + bias[n]


@jit()
def _prepare(x, kp):  # type: ignore[no-untyped-def]
    m_rows = x.shape[0]
    xf = np.zeros((m_rows, kp), np.float32)
    xs = np.empty(m_rows, np.float32)
    xsum = np.empty(m_rows, np.int64)
    _quantize_rows(x, xf, xs, xsum)
    return xf, xs, xsum


# Serial and parallel entry points are separate functions on purpose: numba's cache keys on the function and
# its signature, not on ``parallel``, so one function jitted both ways would load the wrong variant.
@jit()
def _matmul_serial(x, packed, w_scale, bias, bits, out):  # type: ignore[no-untyped-def]
    n_rows, q = packed.shape
    xf, xs, xsum = _prepare(x, q * (8 // bits))
    if x.shape[0] <= 2:
        for m in range(x.shape[0]):
            _gemv_rows(packed, xf[m], xs[m], xsum[m], w_scale, bias, bits, out[m], 0, n_rows)
    else:
        for n in range(n_rows):
            _gemm_row(packed, n, xf, xs, w_scale, bias, bits, out)


@jit(parallel=True)
def _matmul_parallel(x, packed, w_scale, bias, bits, out):  # type: ignore[no-untyped-def]
    n_rows, q = packed.shape
    xf, xs, xsum = _prepare(x, q * (8 // bits))
    if x.shape[0] <= 2:
        # Blocks of 64 rows per task: enough work to amortize the scheduling, enough tasks to balance.
        blocks = (n_rows + 63) // 64
        for m in range(x.shape[0]):
            for blk in prange(blocks):
                _gemv_rows(packed, xf[m], xs[m], xsum[m], w_scale, bias, bits, out[m],
                           blk * 64, min(n_rows, blk * 64 + 64))
    else:
        for n in prange(n_rows):
            _gemm_row(packed, n, xf, xs, w_scale, bias, bits, out)


def matmul(
    x: np.ndarray,
    packed: np.ndarray,
    w_scale: np.ndarray,
    k: int,
    bits: int = 2,
    bias: np.ndarray | None = None,
    *,
    parallel: bool | None = None,
) -> np.ndarray:
    """``Y[M, N]`` for float32 ``x`` [M, K] with the numba kernels; equals :func:`reference_matmul` exactly.

    ``parallel`` None uses numba's threads for layers of at least ``PARALLEL_MIN_WEIGHTS`` weights when
    numba has more than one thread.

    Raises:
        ValueError: ``x`` does not have ``k`` columns, or ``k`` exceeds ``MAX_EXACT_K``.
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    n_rows, q = packed.shape
    if x.ndim != 2 or x.shape[1] != k:
        raise ValueError(f"activations of shape {x.shape} do not have the {k} features the weights expect")
    kp = q * PER_BYTE[bits]
    if kp > MAX_EXACT_K:
        raise ValueError(f"K={k} is larger than the {MAX_EXACT_K} features the exact float32 sums allow")
    b = _ZERO_BIAS.get(n_rows) if bias is None else np.ascontiguousarray(bias, dtype=np.float32)
    if b is None:
        b = _ZERO_BIAS.setdefault(n_rows, np.zeros(n_rows, np.float32))
    if parallel is None:
        parallel = n_rows * kp >= PARALLEL_MIN_WEIGHTS and numba.get_num_threads() > 1
    out = np.empty((x.shape[0], n_rows), np.float32)
    (_matmul_parallel if parallel else _matmul_serial)(x, packed, w_scale, b, bits, out)
    return out


_ZERO_BIAS: dict[int, np.ndarray] = {}
