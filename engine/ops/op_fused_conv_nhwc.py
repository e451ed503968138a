"""NhwcConv (ai.ronn): FusedConv on channels-last tensors, made by the ``nhwc_layout`` pass.

``Y`` is (N, OH, OW, M). ``X`` is (N, H, W, C), or (N, C, H, W) when ``nchw_input`` is 1 (the first
convolution of a channels-last chain reads the NCHW graph input and writes channels-last directly). The
weight keeps its ONNX layout (M, C/group, kh, kw); the other attributes are FusedConv's. This reference moves
the axes around the standard FusedConv kernel; ``engine/kernels/ops_conv.py`` computes it channels-last.
"""

from __future__ import annotations

import numpy as np

from engine.ops.op_fused_conv import fused_conv
from engine.ops.registry import register


@register("NhwcConv", domain="ai.ronn", since=1)
def nhwc_conv(
    x,
    w,
    b=None,
    *,
    auto_pad: str = "NOTSET",
    dilations: list[int] | None = None,
    group: int = 1,
    kernel_shape: list[int] | None = None,
    pads: list[int] | None = None,
    strides: list[int] | None = None,
    activation: str = "",
    activation_params: list[float] | None = None,
    nchw_input: int = 0,
) -> tuple[np.ndarray]:
    if x.ndim != 4:
        raise ValueError(f"NhwcConv takes a 4-D input, got shape {x.shape}")
    nchw = x if nchw_input else x.transpose(0, 3, 1, 2)
    (y,) = fused_conv(nchw, w, b, auto_pad=auto_pad, dilations=dilations, group=group, kernel_shape=kernel_shape,
                      pads=pads, strides=strides, activation=activation, activation_params=activation_params)
    return (np.ascontiguousarray(y.transpose(0, 2, 3, 1)),)
