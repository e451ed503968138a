"""FusedConv (ai.ronn): Conv followed by an activation, made by the ``activation_fusion`` pass, and
optionally by a residual ``Add`` first, made by the ``conv_residual_fusion`` pass:
``Y = activation(Conv(X, W, B) + Z)`` with the optional fourth input ``Z`` (ResNet's skip connection).

Attributes are Conv's plus ``activation`` (Relu, Clip, Sigmoid, HardSwish, ...) and ``activation_params``
(Clip's min and max, LeakyRelu's alpha, HardSigmoid's alpha and beta). The standard Conv kernel computes the
convolution; the activation then runs on its fresh result without another allocation where it can.
"""

from __future__ import annotations

import numpy as np

from engine.ops.op_conv import conv
from engine.ops.op_fused_activation import apply_activation
from engine.ops.registry import register


@register("FusedConv", domain="ai.ronn", since=1)
def fused_conv(
    x,
    w,
    b=None,
    z=None,
    *,
    auto_pad: str = "NOTSET",
    dilations: list[int] | None = None,
    group: int = 1,
    kernel_shape: list[int] | None = None,
    pads: list[int] | None = None,
    strides: list[int] | None = None,
    activation: str = "",
    activation_params: list[float] | None = None,
) -> tuple[np.ndarray]:
    (y,) = conv(
        x,
        w,
        b,
        auto_pad=auto_pad,
        dilations=dilations,
        group=group,
        kernel_shape=kernel_shape,
        pads=pads,
        strides=strides,
    )
    if z is not None:
        y = (y + z).astype(y.dtype, copy=False)
    return (apply_activation(y, activation, activation_params),)
