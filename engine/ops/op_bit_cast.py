"""BitCast: reinterpret the (little-endian) bytes of a tensor as a same-width element type; shape kept."""

from __future__ import annotations

import numpy as np

from engine.ops._elementwise import onnx_to_numpy_dtype
from engine.ops.registry import register


@register("BitCast", since=26)
def bit_cast(x: np.ndarray, *, to: int) -> tuple[np.ndarray]:
    dtype = np.dtype(onnx_to_numpy_dtype(to))
    if dtype.itemsize != x.dtype.itemsize:
        raise ValueError(f"BitCast: {x.dtype} and {dtype} differ in bit width")
    out = np.ascontiguousarray(x).view(dtype)  # numpy-native types on a little-endian host
    if dtype == np.bool_:
        out = out != 0  # any nonzero byte is true; keep the result a canonical 0/1 bool
    return (out.reshape(x.shape),)
