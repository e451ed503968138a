"""Conv: grouped N-d cross-correlation (im2col + matmul) with strides, dilations, pads/auto_pad and bias;
float16 accumulates in float32."""

from __future__ import annotations

import numpy as np

from engine.ops._nn import auto_pads, compute_dtype, conv_nd, spatial_attrs
from engine.ops.registry import register


@register("Conv", since=1)
def conv(x, w, b=None, *, auto_pad: str = "NOTSET", dilations: list[int] | None = None, group: int = 1,
         kernel_shape: list[int] | None = None, pads: list[int] | None = None,
         strides: list[int] | None = None) -> tuple[np.ndarray]:
    spatial = x.shape[2:]
    kshape = kernel_shape if kernel_shape else w.shape[2:]
    kshape, strides, dilations, pads = spatial_attrs(spatial, kshape, strides, dilations, pads)
    if list(w.shape[2:]) != kshape:
        raise ValueError(f"kernel_shape {kshape} does not match W {tuple(w.shape)}")
    pads = auto_pads(auto_pad, spatial, kshape, strides, dilations, pads)
    ct = compute_dtype(x.dtype)
    y = conv_nd(x, w, b, group=group, strides=strides, dilations=dilations, pads=pads, ct=ct)
    return (y.astype(x.dtype, copy=False),)
