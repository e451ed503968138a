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
    if dtype == np.dtype(object):  # to STRING
        if x.dtype == np.bool_:
            return np.array(["true" if v else "false" for v in x.ravel()], dtype=object).reshape(x.shape)
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
    return repr(v) if v != int(v) or abs(v) >= 1e16 else repr(v).removesuffix(".0")


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
    """Fold ``ufunc`` over ``inputs`` with numpy broadcasting, reusing our intermediate buffer when possible."""
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


def erf(x: np.ndarray) -> np.ndarray:
    """The error function of a float array, elementwise, returned in ``x``'s dtype."""
    if x.ndim == 0:
        return erf(x.reshape(1)).reshape(())
    with np.errstate(all="ignore"):
        a = np.abs(x, dtype=np.float64)
        np.minimum(a, 6.5, out=a)  # erf(6.5) rounds to 1.0 in float64; keeps NaN, avoids inf/inf below
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
    """Numerically stable logistic function in ``x``'s dtype: never computes exp of a large positive value."""
    if x.ndim == 0:
        return sigmoid(x.reshape(1)).reshape(())
    with np.errstate(all="ignore"):
        e = np.abs(x)
        np.negative(e, out=e)
        np.exp(e, out=e)                    # e = exp(-|x|) in (0, 1]
        r = e + 1
        np.reciprocal(r, out=r)             # 1 / (1 + exp(-|x|)) = sigmoid(|x|)
        e *= r                              # exp(-|x|) / (1 + exp(-|x|)) = sigmoid(-|x|)
        np.copyto(r, e, where=x < 0)
    return r


def trunc_divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Integer division rounding toward zero (C semantics), as ONNX Div specifies for integer types."""
    with np.errstate(all="ignore"):
        q, r = np.divmod(a, b)
        if a.dtype.kind == "u" and b.dtype.kind == "u":
            return q
        # floor and truncation differ where the remainder is nonzero and the operands' signs differ
        q += (r != 0) & ((a < 0) != (b < 0))
    return q
