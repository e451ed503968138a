"""Helpers shared by the linear-algebra, reduction, search, quantization and signal kernels (family D)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

# ---------------------------------------------------------------------------------------------- reductions


def normalize_axes(axes: Sequence[int] | np.ndarray, ndim: int) -> tuple[int, ...]:
    """Axes as sorted, non-negative, de-duplicated ints; raises IndexError when out of range."""
    out = set()
    for a in np.asarray(axes, dtype=np.int64).reshape(-1).tolist():
        if not -ndim <= a < max(ndim, 1):
            raise IndexError(f"axis {a} is out of range for a tensor of rank {ndim}")
        out.add(a % ndim if ndim else 0)
    return tuple(sorted(out))


def reduction_axes(
    data: np.ndarray, axes: Sequence[int] | np.ndarray | None, noop_with_empty_axes: int
) -> tuple[int, ...] | None:
    """The axes to reduce, or None when the reduction is a no-op (empty axes with noop_with_empty_axes)."""
    if axes is None or np.asarray(axes).size == 0:
        if noop_with_empty_axes:
            return None
        return tuple(range(data.ndim))
    return normalize_axes(axes, data.ndim)


def _accum_dtype(dtype: np.dtype) -> np.dtype:
    """Accumulate float16 in float32 (what onnxruntime effectively does); every other dtype in itself."""
    return np.dtype(np.float32) if dtype == np.float16 else dtype


def _empty_fill(data: np.ndarray, axes: tuple[int, ...], keepdims: int, value: float) -> np.ndarray:
    shape = tuple(1 if i in axes else d for i, d in enumerate(data.shape) if keepdims or i not in axes)
    return np.full(shape, value, dtype=data.dtype)


def _sum(x: np.ndarray, axes: tuple[int, ...], keepdims: bool) -> np.ndarray:
    return np.sum(x, axis=axes, keepdims=keepdims, dtype=_accum_dtype(x.dtype))


def _log_sum_exp(x: np.ndarray, axes: tuple[int, ...], keepdims: bool) -> np.ndarray:
    if x.size == 0:
        return np.log(_sum(np.exp(x), axes, keepdims))
    work = x.astype(_accum_dtype(x.dtype), copy=False)
    if not np.issubdtype(work.dtype, np.floating):
        work = work.astype(np.float64)
    m = np.max(work, axis=axes, keepdims=True)
    m = np.where(np.isfinite(m), m, 0).astype(work.dtype, copy=False)
    s = np.sum(np.exp(work - m), axis=axes, keepdims=True)
    out = np.log(s) + m
    return out if keepdims else np.squeeze(out, axis=axes)


def _mean(x: np.ndarray, axes: tuple[int, ...], keepdims: bool) -> np.ndarray:
    if np.issubdtype(x.dtype, np.integer):
        count = int(np.prod([x.shape[a] for a in axes])) if axes else 1
        s = np.sum(x, axis=axes, keepdims=keepdims, dtype=np.int64)
        if count == 0:
            return np.asarray(s)
        # integer mean truncates toward zero, like onnxruntime's integer division
        q = np.abs(s) // count
        return np.where(s < 0, -q, q)
    return np.mean(x, axis=axes, keepdims=keepdims, dtype=_accum_dtype(x.dtype))


def _maxmin(fn: Callable[..., np.ndarray], is_max: bool) -> Callable[..., np.ndarray]:
    def reduce(x: np.ndarray, axes: tuple[int, ...], keepdims: bool) -> np.ndarray:
        if x.size == 0 and any(x.shape[a] == 0 for a in axes):
            init: bool | int | float
            if x.dtype == np.bool_:
                init = not is_max
            elif np.issubdtype(x.dtype, np.integer):
                info = np.iinfo(x.dtype)
                init = info.min if is_max else info.max
            else:
                init = -np.inf if is_max else np.inf
            return fn(x, axis=axes, keepdims=keepdims, initial=init)
        return fn(x, axis=axes, keepdims=keepdims)

    return reduce


def _sq(x: np.ndarray) -> np.ndarray:
    x = x.astype(_accum_dtype(x.dtype), copy=False)
    return x * x


REDUCERS: dict[str, Callable[[np.ndarray, tuple[int, ...], bool], np.ndarray]] = {
    "sum": _sum,
    "mean": _mean,
    "max": _maxmin(np.max, True),
    "min": _maxmin(np.min, False),
    "prod": lambda x, a, k: np.prod(x, axis=a, keepdims=k, dtype=_accum_dtype(x.dtype)),
    "l1": lambda x, a, k: _sum(np.abs(x), a, k),
    "l2": lambda x, a, k: np.sqrt(_sum(_sq(x), a, k)),
    "log_sum": lambda x, a, k: np.log(_sum(x, a, k)),
    "log_sum_exp": _log_sum_exp,
    "sum_square": lambda x, a, k: _sum(_sq(x), a, k),
}


def reduce(
    kind: str,
    data: np.ndarray,
    axes: Sequence[int] | np.ndarray | None,
    keepdims: int,
    noop_with_empty_axes: int = 0,
) -> tuple[np.ndarray]:
    """Run the reduction ``kind`` over ``axes`` and return it as a one-tuple with the input's dtype."""
    ax = reduction_axes(data, axes, noop_with_empty_axes)
    if ax is None:
        if kind in ("sum", "mean", "max", "min", "prod"):
            return (data,)
        # the elementwise part of the reduction still applies (ReduceL2 of x with no axes is |x|)
        ax = ()
    if kind == "log_sum_exp" and any(data.shape[a] == 0 for a in ax):
        return (_empty_fill(data, ax, keepdims, -np.inf),)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = REDUCERS[kind](data, ax, bool(keepdims))
    return (np.asarray(out).astype(data.dtype, copy=False),)


def arg_extreme(
    data: np.ndarray, axis: int, keepdims: int, select_last_index: int, is_max: bool
) -> np.ndarray:
    """ArgMax / ArgMin as int64, picking the first (or last) index among ties."""
    axis = normalize_axes([axis], data.ndim)[0] if data.ndim else 0
    fn = np.argmax if is_max else np.argmin
    if select_last_index:
        n = data.shape[axis]
        idx = n - 1 - fn(np.flip(data, axis=axis), axis=axis, keepdims=bool(keepdims))
    else:
        idx = fn(data, axis=axis, keepdims=bool(keepdims))
    return np.asarray(idx, dtype=np.int64)


# ---------------------------------------------------------------------------------------------- quantization


def saturate_round(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Round half to even and clamp into the range of the integer ``dtype``."""
    info = np.iinfo(dtype)
    return np.asarray(np.clip(np.rint(values), info.min, info.max)).astype(dtype)


def broadcast_param(
    param: np.ndarray, x: np.ndarray, axis: int, block_size: int = 0
) -> np.ndarray:
    """Reshape a quantization scale / zero point so it broadcasts against ``x``.

    A scalar (or one-element tensor) is per-tensor; a 1-D tensor is per-axis along ``axis``; a tensor of
    ``x``'s rank is blocked along ``axis`` with ``block_size`` and is repeated to ``x``'s shape.
    """
    if param.size == 1 and param.ndim <= 1:
        return param.reshape(())
    if x.ndim == 0:
        return param.reshape(())
    axis = normalize_axes([axis], x.ndim)[0]
    if param.ndim == 1 and not block_size:
        if param.shape[0] != x.shape[axis]:
            raise ValueError(f"per-axis parameter of length {param.shape[0]} does not match axis size "
                             f"{x.shape[axis]}")
        shape = [1] * x.ndim
        shape[axis] = param.shape[0]
        return param.reshape(shape)
    if param.ndim != x.ndim:
        raise ValueError("blocked quantization needs scale and zero point of the input's rank")
    if block_size <= 0:
        block_size = -(-x.shape[axis] // param.shape[axis])
    rep = np.repeat(param, block_size, axis=axis)
    return np.take(rep, np.arange(x.shape[axis]), axis=axis)


# ---------------------------------------------------------------------------------------------- integer conv


def conv_pads(
    spatial: Sequence[int],
    kernel: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
    pads: Sequence[int] | None,
    auto_pad: str,
) -> list[int]:
    """Begin and end pads (ONNX layout: all begins then all ends) after resolving ``auto_pad``."""
    n = len(spatial)
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        begins, ends = [], []
        for d, k, s, dl in zip(spatial, kernel, strides, dilations, strict=True):
            out = -(-d // s)
            total = max(0, (out - 1) * s + (k - 1) * dl + 1 - d)
            small, big = total // 2, total - total // 2
            begins.append(small if auto_pad == "SAME_UPPER" else big)
            ends.append(big if auto_pad == "SAME_UPPER" else small)
        return begins + ends
    if auto_pad == "VALID" or not pads:
        return [0] * (2 * n)
    return list(pads)


def conv_integer(
    x: np.ndarray,
    w: np.ndarray,
    *,
    x_zero_point: np.ndarray | None,
    w_zero_point: np.ndarray | None,
    auto_pad: str,
    dilations: Sequence[int] | None,
    group: int,
    kernel_shape: Sequence[int] | None,
    pads: Sequence[int] | None,
    strides: Sequence[int] | None,
) -> np.ndarray:
    """N-d grouped convolution of zero-point-shifted integer tensors via im2col; returns int32 accumulators.

    The products are accumulated in float64 (exact for 8/16-bit operands) so the matrix product uses BLAS.
    """
    n_sp = x.ndim - 2
    kernel = list(kernel_shape) if kernel_shape else list(w.shape[2:])
    strides = list(strides) if strides else [1] * n_sp
    dilations = list(dilations) if dilations else [1] * n_sp
    xf = x.astype(np.float64)
    x_zp = 0.0 if x_zero_point is None else float(np.asarray(x_zero_point).reshape(-1)[0])
    if x_zp:
        xf -= x_zp
    wf = w.astype(np.float64)
    if w_zero_point is not None:
        wz = np.asarray(w_zero_point, dtype=np.float64)
        wf -= wz.reshape((-1,) + (1,) * (w.ndim - 1)) if wz.size > 1 else wz.reshape(())
    p = conv_pads(x.shape[2:], kernel, strides, dilations, pads, auto_pad)
    # padding with the zero point means padding the shifted tensor with zeros
    xf = np.pad(xf, [(0, 0), (0, 0)] + [(p[i], p[i + n_sp]) for i in range(n_sp)])
    n, c = x.shape[:2]
    out_sp = [
        (xf.shape[2 + i] - ((kernel[i] - 1) * dilations[i] + 1)) // strides[i] + 1 for i in range(n_sp)
    ]
    # gather windows: cols[n, c, k1..kd, o1..od]
    cols = np.empty((n, c, *kernel, *out_sp), dtype=np.float64)
    for kidx in np.ndindex(*kernel):
        starts = [kidx[i] * dilations[i] for i in range(n_sp)]
        sl = tuple(
            slice(starts[i], starts[i] + (out_sp[i] - 1) * strides[i] + 1, strides[i]) for i in range(n_sp)
        )
        cols[(slice(None), slice(None), *kidx)] = xf[(slice(None), slice(None), *sl)]
    m = w.shape[0]
    cg, mg = c // group, m // group
    ksize = int(np.prod(kernel))
    osize = int(np.prod(out_sp)) if out_sp else 1
    cols = cols.reshape(n, group, cg * ksize, osize)
    wmat = wf.reshape(group, mg, cg * ksize)
    y = np.matmul(wmat[None], cols)  # (n, group, mg, osize)
    return y.reshape(n, m, *out_sp).astype(np.int32)


# ONNX TensorProto element types the quantization kernels handle (no float8 / int4 / bfloat16)
ONNX_TO_NUMPY: dict[int, np.dtype] = {
    1: np.dtype(np.float32),
    2: np.dtype(np.uint8),
    3: np.dtype(np.int8),
    4: np.dtype(np.uint16),
    5: np.dtype(np.int16),
    6: np.dtype(np.int32),
    7: np.dtype(np.int64),
    10: np.dtype(np.float16),
    11: np.dtype(np.float64),
    12: np.dtype(np.uint32),
    13: np.dtype(np.uint64),
}


def onnx_dtype(code: int) -> np.dtype:
    """The numpy dtype of an ONNX TensorProto element type; ValueError for the ones numpy lacks."""
    try:
        return ONNX_TO_NUMPY[int(code)]
    except KeyError:
        raise ValueError(f"ONNX element type {code} is not supported by this kernel") from None


def per_row(param: np.ndarray | None, rows_axis_rank: int) -> np.ndarray | float:
    """A MatMulInteger / QLinearMatMul parameter of the left operand: scalar, or per row ((M,) -> (M, 1))."""
    if param is None:
        return 0.0
    p = np.asarray(param)
    if p.size == 1:
        return p.reshape(())
    if p.ndim == 1 and rows_axis_rank >= 2:
        return p.reshape(-1, 1)
    return p


# ---------------------------------------------------------------------------------------------- losses


def nll_loss(
    log_prob: np.ndarray,
    target: np.ndarray,
    weight: np.ndarray | None,
    reduction: str,
    ignore_index: int | None,
) -> np.ndarray:
    """Negative log-likelihood of ``target`` classes in ``log_prob`` ([N, C, d...]), weights, ignore_index."""
    if reduction not in ("none", "sum", "mean"):
        raise ValueError(f"unknown reduction {reduction!r}")
    target = target.astype(np.int64, copy=False)
    ignored = (target == ignore_index) if ignore_index is not None else None
    safe = np.where(ignored, 0, target) if ignored is not None else target
    if np.any((safe < 0) | (safe >= log_prob.shape[1])):
        raise IndexError("NegativeLogLikelihoodLoss target is out of range")
    picked = np.take_along_axis(log_prob, safe[:, None], axis=1)[:, 0]
    if weight is not None:
        w = weight.astype(log_prob.dtype, copy=False)[safe]
    else:
        w = np.ones(safe.shape, dtype=log_prob.dtype)
    if ignored is not None:
        w = np.where(ignored, 0, w).astype(log_prob.dtype, copy=False)
    loss = -picked * w
    if reduction == "none":
        return loss
    if reduction == "sum":
        return np.asarray(loss.sum(), dtype=log_prob.dtype)
    if weight is None and ignored is None:
        return np.asarray(loss.mean(), dtype=log_prob.dtype)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(loss.sum() / w.sum(), dtype=log_prob.dtype)


# ---------------------------------------------------------------------------------------------- signal


def to_complex(x: np.ndarray) -> np.ndarray:
    """[..., 1] real or [..., 2] (real, imag) tensor -> complex array without the last axis."""
    if x.shape[-1] == 1:
        return x[..., 0]
    if x.shape[-1] == 2:
        return x[..., 0] + 1j * x[..., 1]
    raise ValueError(f"the last axis of a DFT signal must have size 1 or 2, got {x.shape[-1]}")


def from_complex(c: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """complex array -> [..., 2] (real, imag) tensor of ``dtype``."""
    return np.stack([c.real, c.imag], axis=-1).astype(dtype, copy=False)


def dft(x: np.ndarray, axis: int, length: int | None, inverse: int, onesided: int) -> np.ndarray:
    """DFT of the complex signal in ``x`` along ``axis`` (an axis of ``x`` other than the last)."""
    if not -x.ndim <= axis < x.ndim - 1 and not axis == -x.ndim:
        raise IndexError(f"DFT axis {axis} is out of range for a signal of rank {x.ndim}")
    ax = axis % x.ndim
    if ax == x.ndim - 1:
        raise IndexError("the DFT axis cannot be the last (real/imaginary) axis")
    c = to_complex(x)
    if inverse and onesided:
        # one-sided spectrum in, full real signal out ([..., n, 1])
        n = 2 * (c.shape[ax] - 1) if length is None else int(length)
        return np.fft.irfft(c, n=n, axis=ax)[..., None].astype(x.dtype, copy=False)
    n = c.shape[ax] if length is None else int(length)
    out = np.fft.ifft(c, n=n, axis=ax) if inverse else np.fft.fft(c, n=n, axis=ax)
    if onesided:
        out = np.take(out, np.arange(n // 2 + 1), axis=ax)
    return from_complex(out, x.dtype)


def window(size: np.ndarray, output_datatype: int, periodic: int, coeffs: Sequence[float]) -> np.ndarray:
    """Generalized cosine window sum_k (-1)^k a_k cos(2 pi k n / N'), N' = size if periodic else size - 1."""
    n = int(np.asarray(size).reshape(-1)[0])
    denom = n if periodic else n - 1
    t = np.arange(n, dtype=np.float64) * (2.0 * np.pi / denom) if denom > 0 else np.zeros(n)
    w = np.zeros(n, dtype=np.float64)
    for k, a in enumerate(coeffs):
        w += (-1) ** k * a * np.cos(k * t)
    return w.astype(onnx_dtype(output_datatype), copy=False)


def shifted_matmul(
    a: np.ndarray, b: np.ndarray, a_zero_point: np.ndarray | None, b_zero_point: np.ndarray | None
) -> np.ndarray:
    """(a - a_zp) @ (b - b_zp) as float64 (exact integers)."""
    af = a.astype(np.float64)
    azp = per_row(a_zero_point, a.ndim)
    if np.any(azp):
        af -= np.asarray(azp, dtype=np.float64)
    bf = b.astype(np.float64)
    if b_zero_point is not None and np.any(b_zero_point):
        bf -= np.asarray(b_zero_point, dtype=np.float64)
    return np.asarray(np.matmul(af, bf))
