"""Helpers shared by the elementwise operator kernels (math, logic, activations, casts)."""

from __future__ import annotations

import functools

import numpy as np

# ONNX TensorProto.DataType -> numpy dtype, for the element types numpy represents natively.
ONNX_TO_NUMPY: dict[int, np.dtype] = {
    1: np.dtype(np.float32),
    2: np.dtype(np.uint8),
    3: np.dtype(np.int8),
    4: np.dtype(np.uint16),
    5: np.dtype(np.int16),
    6: np.dtype(np.int32),
    7: np.dtype(np.int64),
    8: np.dtype(object),  # STRING
    9: np.dtype(np.bool_),
    10: np.dtype(np.float16),
    11: np.dtype(np.float64),
    12: np.dtype(np.uint32),
    13: np.dtype(np.uint64),
}

# The names opset-1 Cast used for its string-valued ``to`` attribute.
ONNX_TYPE_NAMES: dict[str, int] = {
    "FLOAT": 1, "UINT8": 2, "INT8": 3, "UINT16": 4, "INT16": 5, "INT32": 6, "INT64": 7, "STRING": 8,
    "BOOL": 9, "FLOAT16": 10, "DOUBLE": 11, "UINT32": 12, "UINT64": 13,
}


def out(result, dtype: np.dtype) -> tuple[np.ndarray]:
    """Wrap one result as a kernel's output tuple: an ndarray (never a numpy scalar) of ``dtype``."""
    return (np.asarray(result).astype(dtype, copy=False),)


def float_compute(fn):
    """Decorate a float unary kernel body ``fn(x) -> array`` so its output keeps ``x``'s dtype and no warnings
    escape for domain errors (NaN/inf results are what ONNX specifies)."""

    @functools.wraps(fn)
    def wrapper(x, *args, **kwargs):
        with np.errstate(all="ignore"):
            if x.ndim == 0:  # ufuncs return numpy scalars for 0-d arrays, which in-place steps reject
                y = np.asarray(fn(x.reshape(1), *args, **kwargs)).reshape(())
            else:
                y = fn(x, *args, **kwargs)
        return out(y, x.dtype)

    return wrapper


def cast_array(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Convert ``x`` to ``dtype`` with ONNX Cast semantics for the numpy-native types (strings included)."""
    if dtype == x.dtype:
        return x
    if dtype == np.dtype(object):  # to STRING, formatted as onnxruntime does
        if x.dtype == np.bool_:
            return np.where(x, "1", "0").astype(object)
        if x.dtype.kind == "f":
            flat = [_float_to_string(float(v)) for v in x.ravel()]
            return np.array(flat, dtype=object).reshape(x.shape)
        return x.astype(str).astype(object)
    if x.dtype == np.dtype(object) or x.dtype.kind in "US":  # from STRING
        flat = [_string_to_number(str(v), dtype) for v in x.ravel()]
        return np.array(flat, dtype=dtype).reshape(x.shape)
    with np.errstate(all="ignore"):
        return x.astype(dtype)


def _float_to_string(v: float) -> str:
    if np.isnan(v):
        return "NaN"
    if np.isinf(v):
        return "INF" if v > 0 else "-INF"
    return f"{v:.8g}"


def _string_to_number(s: str, dtype: np.dtype):
    if dtype == np.bool_:
        return s.strip().lower() not in ("", "0", "false")
    if dtype.kind in "iu":
        try:
            return int(s)
        except ValueError:
            return int(float(s))
    return float(s)


def onnx_to_numpy_dtype(to: int | str) -> np.dtype:
    """The numpy dtype of an ONNX element type given as its enum value (or, for opset-1 Cast, its name)."""
    if isinstance(to, str):
        if to.upper() not in ONNX_TYPE_NAMES:
            raise ValueError(f"unsupported cast target type {to!r}")
        to = ONNX_TYPE_NAMES[to.upper()]
    if to not in ONNX_TO_NUMPY:
        raise ValueError(f"ONNX element type {to} is not supported by this engine (no numpy dtype)")
    return ONNX_TO_NUMPY[to]


def variadic(ufunc, inputs: tuple[np.ndarray, ...]) -> np.ndarray:
    """Fold ``ufunc`` over ``inputs`` with numpy broadcasting, reusing our own intermediate buffer."""
    if not inputs:
        raise ValueError("the operator needs at least one input")
    acc = inputs[0]
    for i, x in enumerate(inputs[1:]):
        acc = np.asarray(acc)
        if i > 0 and acc.ndim and np.broadcast_shapes(acc.shape, x.shape) == acc.shape:
            ufunc(acc, x, out=acc)  # acc is our own intermediate from the previous step
        else:
            acc = ufunc(acc, x)
    return acc


# ---------------------------------------------------------------------------------------------------------
# erf: Cephes (S. L. Moshier, public domain) rational approximations, evaluated in float64 (relative error
# about 1e-16 in float64), so float16/float32 results are correctly rounded in practice.

_ERF_T = (9.60497373987051638749e0, 9.00260197203842689217e1, 2.23200534594684319226e3,
          7.00332514112805075473e3, 5.55923013010394962768e4)
_ERF_U = (1.0, 3.35617141647503099647e1, 5.21357949780152679795e2, 4.59432382970980127987e3,
          2.26290000613890934246e4, 4.92673942608635921086e4)
_ERFC_P = (2.46196981473530512524e-10, 5.64189564831068821977e-1, 7.46321056442269912687e0,
           4.86371970985681366614e1, 1.96520832956077098242e2, 5.26445194995477358631e2,
           9.34528527171957607540e2, 1.02755188689515710272e3, 5.57535335369399327526e2)
_ERFC_Q = (1.0, 1.32281951154744992508e1, 8.67072140885989742329e1, 3.54937778887819891062e2,
           9.75708501743205489753e2, 1.82390916687909736289e3, 2.24633760818710981792e3,
           1.65666309194161350182e3, 5.57535340817727675546e2)
def _polyval(coefs: tuple[float, ...], x: np.ndarray) -> np.ndarray:
    acc = x * coefs[0]
    acc += coefs[1]
    for c in coefs[2:]:
        acc *= x
        acc += c
    return acc


_ERF_BLOCK = 65536  # elements per chunk: keeps erf's ~50 elementwise passes in cache


def erf(x: np.ndarray) -> np.ndarray:
    """The error function of a float array, elementwise, returned in ``x``'s dtype.

    float64 inputs are evaluated in float64 (relative error about 1e-16); float32 and float16 inputs in
    float32, where the same approximations stay within 2 float32 ulps. Large arrays go in cache-sized chunks.
    """
    if x.size <= _ERF_BLOCK:
        return _erf_chunk(x.reshape(-1)).reshape(x.shape)
    flat = x.reshape(-1)
    result = np.empty(flat.shape, dtype=x.dtype)
    for start in range(0, flat.size, _ERF_BLOCK):
        result[start:start + _ERF_BLOCK] = _erf_chunk(flat[start:start + _ERF_BLOCK])
    return result.reshape(x.shape)


def _erf_chunk(x: np.ndarray) -> np.ndarray:
    ct = np.float64 if x.dtype == np.float64 else np.float32
    with np.errstate(all="ignore"):
        a = np.abs(x, dtype=ct)
        # erf(a) rounds to 1.0 beyond 6.5 (float64) / 4 (float32); clamping keeps NaN and avoids inf/inf below
        np.minimum(a, 6.5 if ct is np.float64 else 4.0, out=a)
        z = a * a
        y = _polyval(_ERF_T, z)
        y *= a
        y /= _polyval(_ERF_U, z)
        large = a > 1.0
        if large.any():  # erf = 1 - erfc, erfc = exp(-x^2) P(x)/Q(x) on [1, 8)
            c = _polyval(_ERFC_P, a)
            c /= _polyval(_ERFC_Q, a)
            np.negative(z, out=z)
            np.exp(z, out=z)
            c *= z
            np.subtract(1.0, c, out=c)
            np.copyto(y, c, where=large)
        np.copysign(y, x, out=y)
    return y.astype(x.dtype, copy=False)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function 1 / (1 + exp(-x)) in ``x``'s dtype.

    The direct form is accurate in floating point: where exp(-x) overflows to inf the result is exactly 0, the
    correctly rounded value (float16 is computed in float32 so its subnormal range is kept).
    """
    if x.dtype == np.float16:
        return sigmoid(x.astype(np.float32)).astype(np.float16)
    if x.ndim == 0:
        return sigmoid(x.reshape(1)).reshape(())
    with np.errstate(over="ignore"):
        e = np.negative(x)
        np.exp(e, out=e)
        e += 1
        return np.reciprocal(e, out=e)


def trunc_divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Integer division rounding toward zero (C semantics), as ONNX Div specifies for integer types."""
    with np.errstate(all="ignore"):
        q, r = np.divmod(a, b)
        if a.dtype.kind == "u" and b.dtype.kind == "u":
            return q
        # floor and truncation differ where the remainder is nonzero and the operands' signs differ
        q += (r != 0) & ((a < 0) != (b < 0))
    return q
