"""MaxUnpool: scatter X into a zero tensor at the flat positions given by I (MaxPool's Indices); the output
shape is (in - 1) * stride + kernel - pads, zero-extended to the optional output_shape input (indices refer
to the inferred shape, as in the ONNX reference)."""

from __future__ import annotations

import numpy as np

from engine.ops.registry import register


@register("MaxUnpool", since=9)
def max_unpool(x, i, output_shape=None, *, kernel_shape: list[int], pads: list[int] | None = None,
               strides: list[int] | None = None) -> tuple[np.ndarray]:
    nd = x.ndim - 2
    strides = list(strides) if strides else [1] * nd
    pads = list(pads) if pads else [0] * (2 * nd)
    inferred = list(x.shape[:2]) + [
        (x.shape[2 + d] - 1) * strides[d] + kernel_shape[d] - pads[d] - pads[nd + d] for d in range(nd)
    ]
    y = np.zeros(int(np.prod(inferred)), dtype=x.dtype)
    y[np.asarray(i, dtype=np.int64).reshape(-1)] = x.reshape(-1)
    y = y.reshape(inferred)
    if output_shape is None:
        return (y,)
    shape = [int(v) for v in np.asarray(output_shape).reshape(-1)]
    if shape == inferred:
        return (y,)
    # as in the ONNX reference: indices address the inferred shape, which lands in the output's leading corner
    out = np.zeros(shape, dtype=x.dtype)
    out[tuple(slice(0, min(a, b)) for a, b in zip(inferred, shape, strict=False))] = y[
        tuple(slice(0, min(a, b)) for a, b in zip(inferred, shape, strict=False))
    ]
    return (out,)
